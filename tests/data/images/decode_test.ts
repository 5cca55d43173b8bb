/**
 * Image files to pixels: every kind of file the tests can write (PNG in colour, grey, with alpha,
 * palette, 16-bit; JPEG, CMYK JPEG; WebP; GIF's first frame; TIFF, 16-bit TIFF) decodes to the
 * pixels it holds, oriented, on white; the resize modes place the image where they say; settings
 * left to the images are resolved from them; the decode cache is reused, follows changed, added
 * and removed files, and survives damage; bad files and decompression bombs are named.
 */
import assert from "node:assert/strict";
import { MagnetInputError } from "../../../src/errors.ts";
import { createSharpDecoder } from "../../../src/data/images/sharp_decoder.ts";
import { decodeImages } from "../../../src/data/images/decode.ts";
import { scanImages } from "../../../src/data/images/folder.ts";
import type { DecodeRequest } from "../../../src/data/images/decoder.ts";
import type { ImageOptions } from "../../../src/data/images/settings.ts";
import { bombPng, FORMATS, rawImage, writeImage } from "../../helpers/images.ts";

/** A w x h image of channels `c` whose values all differ (and stay in [16, 239]). */
function pattern(w: number, h: number, c: number, seed = 0): Uint8Array {
  return Uint8Array.from({ length: w * h * c }, (_, i) => 16 + ((i * 37 + seed * 11) % 224));
}

/** Flat blocks of colour (8 x 8 each, in a row): what lossy formats keep well. */
function blocks(colours: readonly (readonly number[])[]): Uint8Array {
  const w = 8 * colours.length, out = new Uint8Array(w * 8 * 3);
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < w; x++) out.set(colours[x >> 3], (y * w + x) * 3);
  }
  return out;
}

function assertClose(
  actual: Uint8Array,
  expected: ArrayLike<number>,
  tolerance: number,
  what: string,
) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0, at = -1;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (d > worst) [worst, at] = [d, i];
  }
  assert.ok(
    worst <= tolerance,
    `${what}: value ${at} is ${actual[at]}, expected ${expected[at]} (within ${tolerance})`,
  );
}

const native = (channels: 1 | 3): DecodeRequest => ({ size: null, channels, resize: "crop" });

Deno.test("image decoding", async (t) => {
  const decoder = await createSharpDecoder();
  const dir = await Deno.makeTempDir({ prefix: "magnet-decode-" });
  const decode = async (bytes: Uint8Array, request: DecodeRequest) =>
    await decoder.decode(bytes, request);
  try {
    await t.step("lossless files decode to exactly their pixels, channels in order", async () => {
      const rgb = pattern(6, 4, 3);
      for (const ext of ["png", "webp", "tif"] as const) {
        const bytes = await FORMATS[ext](await rawImage(rgb, 6, 4, 3)).toBuffer();
        const image = await decode(bytes, native(3));
        assert.deepEqual([image.width, image.height], [6, 4]);
        assert.deepEqual(image.pixels, rgb, ext);
      }
      const grey = pattern(5, 3, 1);
      const png = await (await rawImage(grey, 5, 3, 1)).png().toBuffer();
      assert.deepEqual((await decode(png, native(1))).pixels, grey);
      // Grey to RGB: the value in every channel.
      const asRgb = (await decode(png, native(3))).pixels;
      assert.deepEqual(asRgb, Uint8Array.from({ length: 45 }, (_, i) => grey[Math.floor(i / 3)]));
    });

    await t.step("16-bit PNG and TIFF come out as their 8-bit values", async () => {
      const rgb = pattern(4, 4, 3, 1);
      const deep = (await rawImage(rgb, 4, 4, 3)).toColourspace("rgb16");
      for (
        const bytes of [
          await deep.png().toBuffer(),
          await deep.tiff({ compression: "lzw" }).toBuffer(),
        ]
      ) {
        assert.equal((await decoder.info(bytes)).colour, true);
        assert.deepEqual((await decode(bytes, native(3))).pixels, rgb);
      }
      const grey = pattern(4, 4, 1, 2);
      const png16 = await (await rawImage(grey, 4, 4, 1)).toColourspace("grey16").png().toBuffer();
      assert.equal((await decoder.info(png16)).colour, false);
      assert.deepEqual((await decode(png16, native(1))).pixels, grey);
    });

    await t.step(
      "alpha is composited on white (RGBA, grey + alpha, GIF transparency)",
      async () => {
        const rgba = Uint8Array.from([
          200,
          100,
          50,
          255,
          200,
          100,
          50,
          0,
          200,
          100,
          50,
          128,
          0,
          0,
          0,
          64,
        ]);
        const png = await (await rawImage(rgba, 2, 2, 4)).png().toBuffer();
        const over = (v: number, a: number) => (v * a + 255 * (255 - a)) / 255;
        const expected = [0, 1, 2, 3].flatMap((p) =>
          [0, 1, 2].map((k) => over(rgba[p * 4 + k], rgba[p * 4 + 3]))
        );
        assertClose((await decode(png, native(3))).pixels, expected, 1, "RGBA");
        const ga = Uint8Array.from([90, 255, 90, 0, 90, 100, 10, 200]);
        const gaPng = await (await rawImage(ga, 2, 2, 2)).png().toBuffer();
        assert.equal((await decoder.info(gaPng)).colour, false);
        const greyExpected = [0, 1, 2, 3].map((p) => over(ga[p * 2], ga[p * 2 + 1]));
        assertClose((await decode(gaPng, native(1))).pixels, greyExpected, 1, "grey + alpha");
      },
    );

    await t.step("palette PNG, GIF (first frame) and JPEG, CMYK included", async () => {
      const colours = [[200, 30, 30], [30, 160, 60], [40, 40, 220], [240, 240, 40]];
      const image = blocks(colours);
      const palette = await (await rawImage(image, 32, 8, 3)).png({
        palette: true,
        colours: 4,
        dither: 0,
      })
        .toBuffer();
      assertClose((await decode(palette, native(3))).pixels, image, 2, "palette PNG");
      // Two frames, red then blue: the first is the image.
      const frames = new Uint8Array(4 * 2 * 3 * 2);
      for (let i = 0; i < 8; i++) frames.set([200, 30, 30], i * 3);
      for (let i = 8; i < 16; i++) frames.set([30, 30, 200], i * 3);
      const gif = await (await rawImage(frames, 4, 4, 3, 2)).gif().toBuffer();
      const first = await decode(gif, native(3));
      assert.deepEqual([first.width, first.height], [4, 2]);
      assertClose(
        first.pixels,
        Array.from({ length: 24 }, (_, i) => [200, 30, 30][i % 3]),
        2,
        "GIF",
      );
      const jpeg = await (await rawImage(image, 32, 8, 3)).jpeg({
        quality: 95,
        chromaSubsampling: "4:4:4",
      }).toBuffer();
      assertClose((await decode(jpeg, native(3))).pixels, image, 8, "JPEG");
      // Colours CMYK can hold (a saturated blue is outside its gamut).
      const printable = blocks([[180, 90, 40], [90, 140, 90], [100, 110, 170], [200, 180, 120]]);
      const cmyk = await (await rawImage(printable, 32, 8, 3)).toColourspace("cmyk").jpeg({
        quality: 95,
      })
        .toBuffer();
      assert.equal((await decoder.info(cmyk)).colour, true);
      assertClose((await decode(cmyk, native(3))).pixels, printable, 16, "CMYK JPEG");
    });

    await t.step("the orientation tag is applied", async () => {
      const image = pattern(6, 2, 3);
      const turned = await (await rawImage(image, 6, 2, 3)).withMetadata({ orientation: 6 })
        .jpeg().toBuffer();
      const info = await decoder.info(turned);
      assert.deepEqual([info.width, info.height], [2, 6]);
      const decoded = await decode(turned, native(3));
      assert.deepEqual([decoded.width, decoded.height], [2, 6]);
    });

    await t.step("crop covers and cuts the middle, pad fits on black, stretch fills", async () => {
      // 16 x 8: red on the left half, blue on the right; the target is 8 x 8.
      const image = new Uint8Array(16 * 8 * 3);
      for (let y = 0; y < 8; y++) {
        for (let x = 0; x < 16; x++) image.set(x < 8 ? [220, 0, 0] : [0, 0, 220], (y * 16 + x) * 3);
      }
      const png = await (await rawImage(image, 16, 8, 3)).png().toBuffer();
      const at = (p: Uint8Array, x: number, y: number) =>
        Array.from(p.subarray((y * 8 + x) * 3, (y * 8 + x) * 3 + 3));
      const size = { width: 8, height: 8 };
      const crop = (await decode(png, { size, channels: 3, resize: "crop" })).pixels;
      // The middle 8 columns: 4 red, 4 blue, every row.
      assert.deepEqual([at(crop, 0, 0), at(crop, 7, 7)], [[220, 0, 0], [0, 0, 220]]);
      assert.deepEqual(at(crop, 2, 4), [220, 0, 0]);
      const pad = (await decode(png, { size, channels: 3, resize: "pad" })).pixels;
      // Shrunk to 8 x 4 in the middle rows; black above and below.
      assert.deepEqual([at(pad, 0, 0), at(pad, 5, 7)], [[0, 0, 0], [0, 0, 0]]);
      assert.deepEqual([at(pad, 0, 3), at(pad, 7, 4)], [[220, 0, 0], [0, 0, 220]]);
      const stretch = (await decode(png, { size, channels: 3, resize: "stretch" })).pixels;
      assert.deepEqual([at(stretch, 0, 0), at(stretch, 7, 7), at(stretch, 0, 7)], [[220, 0, 0], [
        0,
        0,
        220,
      ], [220, 0, 0]]);
      // A 3 x 5 target is width 3, height 5.
      const small = await decode(png, {
        size: { width: 3, height: 5 },
        channels: 1,
        resize: "stretch",
      });
      assert.deepEqual([small.width, small.height, small.pixels.length], [3, 5, 15]);
    });

    await t.step("a bomb is refused from its header; damaged files are errors", async () => {
      const bomb = bombPng(20000, 20000);
      for (const promise of [decoder.info(bomb), decode(bomb, native(1))]) {
        await assert.rejects(
          promise,
          /20000 x 20000 = 400,000,000 pixels, more than the 100,000,000/,
        );
      }
      const png = await (await rawImage(pattern(8, 8, 3), 8, 8, 3)).png().toBuffer();
      await assert.rejects(
        decode(png.subarray(0, png.length - 30), native(3)),
        (e: Error) => e.name === "ImageDecodeError",
      );
      await assert.rejects(
        decode(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]), native(3)),
        /unsupported image format/,
      );
    });

    // Folders: decodeImages on what a scan found.
    const folder = `${dir}/set`;
    const settings = (o: Partial<ImageOptions> = {}): ImageOptions => ({
      size: null,
      resize: "crop",
      channels: null,
      ...o,
    });
    const cache = `${dir}/cache`;
    const run = async (
      o: Partial<ImageOptions> = {},
      extra: { skipBadImages?: boolean; memory?: number } = {},
    ) =>
      await decodeImages(await scanImages(folder), settings(o), {
        cacheDir: cache,
        skipBadImages: false,
        ...extra,
      });

    await t.step("channels and size left to the images are resolved from them", async () => {
      await Deno.mkdir(folder);
      await writeImage(`${folder}/a.png`, pattern(5, 4, 1), 5, 4, 1);
      await writeImage(`${folder}/b.png`, pattern(5, 4, 1, 3), 5, 4, 1);
      let decoded = await run();
      assert.deepEqual(decoded.format, { width: 5, height: 4, channels: 1, resize: "crop" });
      assert.equal(decoded.colourFile, null);
      assert.deepEqual(decoded.pixels.data.subarray(0, 20), pattern(5, 4, 1));
      await writeImage(`${folder}/c.webp`, pattern(5, 4, 3), 5, 4, 3);
      decoded = await run();
      assert.equal(decoded.format.channels, 3);
      assert.equal(decoded.colourFile, "c.webp");
      // Given channels: no header needs reading.
      decoded = await run({ channels: 1 });
      assert.equal(decoded.colourFile, undefined);
      assert.deepEqual(decoded.format, { width: 5, height: 4, channels: 1, resize: "crop" });
      await writeImage(`${folder}/d.png`, pattern(6, 4, 1), 6, 4, 1);
      for (const channels of [null, 1] as const) {
        await assert.rejects(run({ channels }), (e: Error) => {
          assert.ok(e instanceof MagnetInputError);
          assert.match(
            e.message,
            /images differ in size: .*d\.png is 6x4, .*a\.png 5x4: give --image-size/,
          );
          return true;
        });
      }
      decoded = await run({ size: { width: 3, height: 3 } });
      assert.deepEqual([decoded.format.width, decoded.format.height, decoded.files.length], [
        3,
        3,
        4,
      ]);
    });

    await t.step("the cache is reused, and follows changed, added and removed files", async () => {
      const size = { size: { width: 4, height: 4 }, channels: 1 as const };
      const first = await run(size);
      assert.deepEqual([first.cached, first.decoded], [0, 4]);
      const again = await run(size);
      assert.deepEqual([again.cached, again.decoded], [4, 0]);
      assert.deepEqual(again.pixels.data, first.pixels.data);
      // b.png changes (new pixels, a later time); e.png comes; d.png goes.
      await writeImage(`${folder}/b.png`, new Uint8Array(20).fill(200), 5, 4, 1);
      await Deno.utime(`${folder}/b.png`, new Date(), new Date(Date.now() + 5000));
      await Deno.remove(`${folder}/d.png`);
      await writeImage(`${folder}/e.png`, new Uint8Array(20).fill(7), 5, 4, 1);
      const changed = await run(size);
      assert.deepEqual([changed.cached, changed.decoded, changed.files.length], [2, 2, 4]);
      const fresh = await decodeImages(await scanImages(folder), settings(size), {
        cacheDir: null,
        skipBadImages: false,
      });
      assert.deepEqual(changed.pixels.data, fresh.pixels.data);
      assert.ok(fresh.pixels.data.subarray(16, 32).every((v) => v === 200)); // b.png
      // A damaged cache file is ignored.
      for await (const entry of Deno.readDir(cache)) {
        await Deno.writeFile(`${cache}/${entry.name}`, new Uint8Array([1, 2, 3]));
      }
      const repaired = await run(size);
      assert.deepEqual([repaired.cached, repaired.decoded], [0, 4]);
      assert.deepEqual(repaired.pixels.data, fresh.pixels.data);
      // So is one whose header holds a value of the wrong kind, or lists that disagree: each
      // would be a wrong size, colour or row taken as the file's.
      const damages: ((header: Record<string, unknown[]>) => void)[] = [
        (h) => h.width[0] = "4",
        (h) => h.colour[1] = 7,
        (h) => h.row[2] = 1.5,
        (h) => h.height.pop(),
        (h) => h.keys[1] = h.keys[0],
      ];
      for (const damage of damages) {
        for await (const entry of Deno.readDir(cache)) {
          const path = `${cache}/${entry.name}`;
          const bytes = await Deno.readFile(path);
          if (bytes.length < 100) continue; // another setting's cache, damaged above
          const start = bytes.indexOf(10) + 1; // after the magic line
          const view = new DataView(bytes.buffer, bytes.byteOffset);
          const length = view.getUint32(start, true);
          const header = JSON.parse(
            new TextDecoder().decode(bytes.subarray(start + 4, start + 4 + length)),
          );
          damage(header);
          const text = new TextEncoder().encode(JSON.stringify(header));
          const out = new Uint8Array(start + 4 + text.length + bytes.length - start - 4 - length);
          out.set(bytes.subarray(0, start));
          new DataView(out.buffer).setUint32(start, text.length, true);
          out.set(text, start + 4);
          out.set(bytes.subarray(start + 4 + length), start + 4 + text.length);
          await Deno.writeFile(path, out);
        }
        const again = await run(size);
        assert.deepEqual([again.cached, again.decoded], [0, 4], String(damage));
        assert.deepEqual(again.pixels.data, fresh.pixels.data);
      }
    });

    await t.step("bad files are named, or skipped and listed with skipBadImages", async () => {
      const size = { size: { width: 4, height: 4 }, channels: 1 as const };
      const png = await (await rawImage(pattern(8, 8, 1), 8, 8, 1)).png().toBuffer();
      await Deno.writeFile(`${folder}/bb truncated.png`, png.subarray(0, png.length - 30));
      await assert.rejects(
        run(size),
        /set\/bb truncated\.png cannot be decoded \(.*\); --skip-bad-images skips such files/,
      );
      const skipped = await run(size, { skipBadImages: true });
      assert.deepEqual(skipped.bad.map((b) => b.relative), ["bb truncated.png"]);
      assert.equal(skipped.files.length, 4);
      // Remembered by the cache: the next run knows without decoding.
      const again = await run(size, { skipBadImages: true });
      assert.deepEqual([again.decoded, again.bad.length], [0, 1]);
      await Deno.remove(`${folder}/bb truncated.png`);
      // The bad file's row, in the middle, is closed up: the rows are those of the others.
      const clean = await decodeImages(await scanImages(folder), settings(size), {
        cacheDir: null,
        skipBadImages: false,
      });
      assert.deepEqual(skipped.pixels.data, clean.pixels.data);
      await Deno.writeFile(`${folder}/g.png`, new Uint8Array(0));
      await assert.rejects(run(size), /g\.png is empty \(0 bytes\)/);
      await Deno.remove(`${folder}/g.png`);
      await Deno.symlink(`${dir}/nowhere.png`, `${folder}/h.png`);
      await assert.rejects(run(size), /h\.png cannot be read \(.*\)/);
      await Deno.remove(`${folder}/h.png`);
      await Deno.writeFile(`${folder}/i.png`, bombPng(30000, 30000));
      await assert.rejects(
        run(size),
        /i\.png cannot be decoded \(30000 x 30000 = 900,000,000 pixels, more than the 100,000,000/,
      );
      await assert.rejects(run(), /i\.png cannot be decoded \(30000 x 30000/); // from its header
      await Deno.remove(`${folder}/i.png`);
    });

    await t.step("a set that cannot fit in memory is refused before decoding", async () => {
      await assert.rejects(
        run({ size: { width: 100, height: 100 }, channels: 3 }, { memory: 1000 }),
        /the 4 images of .*set need 120 kB of memory as 100x100 RGB pixels, more than the 1 kB available: give a smaller --image-size or --channels 1/,
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
