/**
 * Writes Fashion-MNIST's official split as folders of PNG files, one subfolder per class, as a
 * person's own images would be laid out: what the README's image-folder figures are measured on.
 *
 *   deno run -A --no-lock scripts/fashion_mnist_png.ts --out /tmp/fashion-png [--data-dir DIR] [--format jpeg]
 *
 * Writes OUT/train/<k> <class>/<nnnnn>.png (60,000 files) and OUT/test/... (10,000 files), grey,
 * 28 x 28, lossless: decoded, they are exactly the IDX files' pixels. Class folders are named
 * "0 T-shirt-top" to "9 Ankle boot", so sorted by name they keep Fashion-MNIST's label order, and
 * files are numbered by their place in the IDX file, so each class keeps its order: a run on the
 * folders sees the IDX run's classes and, within each class, its rows. `--format jpeg` writes
 * JPEG (quality 90) instead, for decode timings. OUT must be new or empty.
 */
import { parseArgs } from "node:util";
import {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DIR,
  FASHION_MNIST_FILES,
} from "../src/data/fashion_mnist.ts";
import { readIdx } from "../src/data/files.ts";
import { mapLimited } from "../src/util/map_limited.ts";
import { loadSharp } from "../src/data/images/sharp_decoder.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    "out": { type: "string" },
    "data-dir": { type: "string", default: FASHION_MNIST_DIR },
    "format": { type: "string", default: "png" },
  },
});
const out = values.out;
const format = values.format;
if (out === undefined || (format !== "png" && format !== "jpeg")) {
  console.error(
    "usage: deno run -A --no-lock scripts/fashion_mnist_png.ts --out DIR [--data-dir DIR] " +
      "[--format png|jpeg]",
  );
  Deno.exit(2);
}
try {
  if ([...Deno.readDirSync(out)].length > 0) {
    console.error(`${out} is not empty: give a new or empty folder`);
    Deno.exit(2);
  }
} catch (error) {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
}
const sharp = await loadSharp();
const dir = values["data-dir"];
const file = (name: string) => {
  for (const candidate of [`${dir}/${name}`, `${dir}/${name.replace(/\.gz$/, "")}`]) {
    try {
      Deno.statSync(candidate);
      return candidate;
    } catch { /* the other name */ }
  }
  throw new Error(`${dir} lacks ${name}`);
};
const folders = FASHION_MNIST_CLASSES.map((name, k) => `${k} ${name.replace(/\//g, "-")}`);
const f = FASHION_MNIST_FILES;
const start = performance.now();
let written = 0;
for (
  const [split, images, labels] of [
    ["train", f.trainImages, f.trainLabels],
    ["test", f.testImages, f.testLabels],
  ] as const
) {
  const [pixels, classes] = await Promise.all([readIdx(file(images)), readIdx(file(labels))]);
  const [n, h, w] = pixels.shape;
  for (const folder of folders) Deno.mkdirSync(`${out}/${split}/${folder}`, { recursive: true });
  const digits = String(n - 1).length;
  await mapLimited(Array.from({ length: n }, (_, i) => i), 8, async (i) => {
    const image = sharp(pixels.data.subarray(i * h * w, (i + 1) * h * w), {
      raw: { width: w, height: h, channels: 1 },
    }).toColourspace("b-w");
    const encoded = format === "png" ? image.png() : image.jpeg({ quality: 90 });
    const name = `${String(i).padStart(digits, "0")}.${format === "png" ? "png" : "jpg"}`;
    await Deno.writeFile(
      `${out}/${split}/${folders[classes.data[i]]}/${name}`,
      await encoded.toBuffer(),
    );
    written++;
  });
}
console.log(
  `wrote ${written} ${format.toUpperCase()} files to ${out}/train and ${out}/test in ${
    ((performance.now() - start) / 1000).toFixed(1)
  } s`,
);
