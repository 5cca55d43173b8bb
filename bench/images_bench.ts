/**
 * Image folders, piece by piece on the CPU: assembling a training batch of 48 images from 8-bit
 * pixels (conversion to float32, per-channel normalisation, random resized crop and flip) beside
 * the default CNN's training step on the same images, in one run, so the share is measured where
 * both are timed; and decoding PNG and JPEG files (Fashion-MNIST's 28 x 28 grey, and 64 x 64 RGB
 * pictures) into pixels, in images per second, as the loader does it (files read and decoded a few
 * at a time, sharp on one libvips thread per image, no cache). The images are made here (smooth
 * shapes that compress as photographs do), so the benchmark needs no data set installed.
 *
 *   deno bench -A --config bench/deno.json bench/images_bench.ts
 */
import { createBackend } from "../src/backend/create.ts";
import type { Dataset } from "../src/data/dataset.ts";
import { rowSource } from "../src/data/row_source.ts";
import { ImagePixels, ImageRows } from "../src/data/images/image_rows.ts";
import { Augmenter } from "../src/data/images/augment.ts";
import { decodeImages } from "../src/data/images/decode.ts";
import { scanImages } from "../src/data/images/folder.ts";
import { loadSharp } from "../src/data/images/sharp_decoder.ts";
import { Trainer } from "../src/train/trainer.ts";
import { Random } from "../src/util/random.ts";
import { timed } from "./helpers/throughput.ts";

/** `count` images of `side` x `side` x `channels`: a soft disc and a bar on a gradient. */
function pictures(count: number, side: number, channels: number, seed: number): Uint8Array {
  const random = new Random(seed);
  const out = new Uint8Array(count * side * side * channels);
  for (let i = 0; i < count; i++) {
    const cx = random.next() * side,
      cy = random.next() * side,
      r = side * (0.15 + random.next() * 0.3);
    const tone = Array.from({ length: channels }, () => 40 + random.int(200));
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const d = Math.hypot(x - cx, y - cy);
        const inside = Math.max(0, Math.min(1, r - d));
        const bar = Math.abs(x - y - side / 4) < side / 10 ? 60 : 0;
        for (let k = 0; k < channels; k++) {
          const ground = (x + y) * 2 + 20 * k;
          out[((i * side + y) * side + x) * channels + k] = Math.min(
            255,
            ground * (1 - inside) + tone[k] * inside + bar,
          );
        }
      }
    }
  }
  return out;
}

const BATCH = 48;
const cpu = await createBackend({ kind: "cpu" });
const group = "image batches (cpu)";

// Fashion-MNIST's shape, 6,000 images: the default CNN and the batches it is fed.
const pixels = new ImagePixels(pictures(6000, 28, 1, 1), [28, 28, 1]);
const images = new ImageRows(pixels, { mean: [0.29], std: [0.35] });
const train: Dataset<ImageRows> = {
  features: images,
  dim: 784,
  labels: Int32Array.from({ length: 6000 }, (_, i) => i % 10),
  classNames: Array.from({ length: 10 }, (_, c) => `c${c}`),
  imageShape: [28, 28, 1],
};
const table = new Float32Array(6000 * 784);
images.range(0, 6000, table);
const random = new Random(2);
const batches = Array.from(
  { length: 200 },
  () => Int32Array.from({ length: BATCH }, () => random.int(6000)),
);
const out = new Float32Array(BATCH * 784);

Deno.bench("CNN training step (48 images)", { group, n: 3, warmup: 1 }, async () => {
  const settings = { model: "cnn" as const, evalEvery: 0, refreshEvery: 100_000 };
  const trainer = await Trainer.create({ backend: cpu, train }, { ...settings, iterations: 1 });
  await trainer.run();
  const more = await Trainer.resume({ backend: cpu, train }, {
    ...(await trainer.state()),
    config: { ...trainer.config, iterations: 101 },
  });
  await timed(group, "CNN training step", 100, "ms/step", () => more.run());
  await trainer.dispose();
  await more.dispose();
});

const assembly: [string, () => void][] = [
  ["float32 table (before)", () => {
    const rows = rowSource(table, 784);
    for (const b of batches) rows.gather(b, out);
  }],
  ["8-bit, normalised", () => {
    for (const b of batches) images.gather(b, out);
  }],
  ["8-bit, normalised, crop-flip", () => {
    const augmenter = new Augmenter("crop-flip", [28, 28, 1], new Random(3));
    for (const b of batches) {
      images.gather(b, out);
      augmenter.apply(out, BATCH);
    }
  }],
];
for (const [name, assemble] of assembly) {
  Deno.bench(`batch of 48: ${name}`, { group, n: 20, warmup: 2 }, async () => {
    await timed(
      group,
      `batch: ${name}`,
      batches.length,
      "ms/batch",
      () => Promise.resolve(assemble()),
    );
  });
}

// Decoding files as the loader does.
const sharp = await loadSharp();
const dir = await Deno.makeTempDir({ prefix: "magnet-bench-images-" });
const SETS = [
  { name: "PNG 28x28 grey", ext: "png", side: 28, channels: 1 as const, count: 2000 },
  { name: "JPEG 28x28 grey", ext: "jpg", side: 28, channels: 1 as const, count: 2000 },
  { name: "PNG 64x64 RGB", ext: "png", side: 64, channels: 3 as const, count: 1000 },
  { name: "JPEG 64x64 RGB", ext: "jpg", side: 64, channels: 3 as const, count: 1000 },
];
for (const set of SETS) {
  const folder = `${dir}/${set.ext}-${set.side}`;
  await Deno.mkdir(folder);
  const data = pictures(set.count, set.side, set.channels, 4);
  const size = set.side * set.side * set.channels;
  for (let i = 0; i < set.count; i++) {
    let image = sharp(data.subarray(i * size, (i + 1) * size), {
      raw: { width: set.side, height: set.side, channels: set.channels },
    });
    if (set.channels === 1) image = image.toColourspace("b-w");
    const bytes = await (set.ext === "png" ? image.png() : image.jpeg({ quality: 90 })).toBuffer();
    await Deno.writeFile(`${folder}/${String(i).padStart(5, "0")}.${set.ext}`, bytes);
  }
  Deno.bench(`decode ${set.name}`, { group: "decoding (cpu)", n: 3, warmup: 1 }, async () => {
    const scan = await scanImages(folder);
    await timed(
      "decoding (cpu)",
      `decode ${set.name}`,
      set.count,
      "images/s",
      () =>
        decodeImages(scan, {
          size: { width: set.side, height: set.side },
          resize: "crop",
          channels: set.channels,
        }, { cacheDir: null, skipBadImages: false }),
    );
  });
}

globalThis.addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
  cpu.dispose();
});
