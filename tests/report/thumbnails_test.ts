/**
 * Pictures of test images on the report's map: PNGs written by hand that an independent decoder
 * (sharp) reads back pixel for pixel, images averaged down to the size bound, one picture per grid
 * cell, and a report that shows them in its fourth figure within the stated size.
 */
import assert from "node:assert/strict";
import {
  choosePictured,
  encodePng,
  MAX_THUMBNAILS,
  shrinkImage,
  THUMBNAIL_SIDE,
} from "../../src/report/thumbnails.ts";
import { renderReport } from "../../src/report/report.ts";
import { loadSharp } from "../../src/data/images/sharp_decoder.ts";
import { Random } from "../../src/util/random.ts";

function noise(length: number, seed: number): Uint8Array {
  const random = new Random(seed);
  return Uint8Array.from({ length }, () => random.int(256));
}

Deno.test("report thumbnails", async (t) => {
  await t.step(
    "the PNG encoder's files decode to their pixels (grey, RGB, several blocks)",
    async () => {
      const sharp = await loadSharp();
      for (const [w, h, c] of [[7, 3, 1], [5, 4, 3], [300, 80, 3]] as const) {
        const pixels = noise(w * h * c, w + c);
        const png = encodePng(pixels, w, h, c);
        const header = await sharp(png).metadata();
        assert.deepEqual([header.width, header.height, header.space], [
          w,
          h,
          c === 1 ? "b-w" : "srgb",
        ]);
        const decoded = sharp(png).toColourspace(c === 1 ? "b-w" : "srgb").raw();
        const { data, info } = await decoded.toBuffer({ resolveWithObject: true });
        assert.equal(info.channels, c);
        assert.deepEqual(new Uint8Array(data), pixels);
      }
    },
  );

  await t.step("images are averaged down to the bound; small ones stay as they are", () => {
    const small = noise(20 * 10 * 3, 1);
    assert.equal(shrinkImage(small, [10, 20, 3]).pixels, small);
    const big = noise(96 * 64, 2);
    const { pixels, width, height } = shrinkImage(big, [64, 96, 1]);
    assert.deepEqual([width, height], [THUMBNAIL_SIDE, Math.round(64 * THUMBNAIL_SIDE / 96)]);
    // 96 / 32 = 3 and 64 / 21: each output pixel averages its block.
    for (const [x, y] of [[0, 0], [31, 20], [10, 7]]) {
      const y0 = Math.floor(y * 64 / 21), y1 = Math.floor((y + 1) * 64 / 21);
      let sum = 0;
      for (let yy = y0; yy < y1; yy++) {
        for (let xx = 3 * x; xx < 3 * x + 3; xx++) sum += big[yy * 96 + xx];
      }
      assert.equal(pixels[y * 32 + x], Math.round(sum / ((y1 - y0) * 3)));
    }
  });

  await t.step("one picture per grid cell, the point nearest its centre", () => {
    const frame = { left: 0, top: 0, width: 100, height: 100 };
    const random = new Random(3);
    const xy = Array.from(
      { length: 5000 },
      () => [random.next() * 100, random.next() * 100] as [number, number],
    );
    const picks = choosePictured(xy.length, (i) => xy[i], frame);
    assert.equal(picks.length, MAX_THUMBNAILS);
    for (const i of picks) {
      const [x, y] = xy[i];
      const cx = Math.floor(x / 10) * 10 + 5, cy = Math.floor(y / 10) * 10 + 5;
      const d = (x - cx) ** 2 + (y - cy) ** 2;
      for (const [ox, oy] of xy) {
        if (
          Math.floor(ox / 10) === Math.floor(x / 10) && Math.floor(oy / 10) === Math.floor(y / 10)
        ) {
          assert.ok((ox - cx) ** 2 + (oy - cy) ** 2 >= d);
        }
      }
    }
    assert.deepEqual(choosePictured(2, (i) => [[1, 1], [2, 2]][i] as [number, number], frame), [1]);
  });

  await t.step("the report shows them in figure 4, within the stated size", () => {
    const n = 3000, dim = 4, side = 64;
    const random = new Random(4);
    const points = Float32Array.from({ length: n * dim }, () => random.normal());
    const labels = Int32Array.from({ length: n }, (_, i) => i % 5);
    const data = {
      title: "magnet on photos (cpu)",
      config: {},
      summary: {
        metrics: null,
        iterations: 10,
        time: {
          seconds: 1,
          secondsPer1000Steps: 1,
          msPerStep: 1,
          refreshes: { count: 0, secondsEach: null },
          evaluations: { count: 0, secondsEach: null },
        },
      },
      history: [],
      embedding: { points, dim, labels, classNames: ["a", "b", "c", "d", "e"] },
    };
    const plain = renderReport(data);
    assert.doesNotMatch(plain, /Test images on the map/);
    const images = {
      shape: [side, side, 3] as const,
      pixels: (row: number) => noise(side * side * 3, row),
      ids: Array.from({ length: n }, (_, i) => `e <${i}>.png`),
    };
    const html = renderReport({ ...data, embedding: { ...data.embedding, images } });
    assert.match(html, /4\. Test images on the map \(PCA\)/);
    const pictures = html.match(/data:image\/png;base64,/g)!.length;
    assert.ok(pictures > 50 && pictures <= MAX_THUMBNAILS, `${pictures}`);
    assert.match(
      html,
      /<title>a: e &lt;0&gt;\.png<\/title>|<title>[a-e]: e &lt;\d+&gt;\.png<\/title>/,
    );
    // Random RGB pictures do not compress: the bound the README states holds even so.
    assert.ok(html.length - plain.length < 450_000, `${html.length - plain.length} bytes more`);
    assert.equal(renderReport({ ...data, embedding: { ...data.embedding, images } }), html);
  });
});
