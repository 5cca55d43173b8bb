/**
 * How long image folders take to become training data: the first decode (into a new, empty cache)
 * and a second run's start from the cache, up to the moment training begins (folders scanned,
 * cache read, normalisation fitted, data digest, model built and compiled), as `deno task train`
 * does them. What the README's figures for Fashion-MNIST as PNG files come from:
 *
 *   deno run -A --no-lock scripts/fashion_mnist_png.ts --out /tmp/fashion-png
 *   deno run -A --no-lock scripts/image_folder_timings.ts --data /tmp/fashion-png/train --test /tmp/fashion-png/test
 *
 * Options: `--channels 1|3`, `--image-size N` and `--model mlp|cnn` (default: grey, the images'
 * size, cnn). The cache is made in a temporary folder and removed at the end.
 */
import { parseArgs } from "node:util";
import { fingerprint, type ImageFolderSource, loadData } from "../src/data/source.ts";
import { parseImageSize } from "../src/data/images/settings.ts";
import { createBackend } from "../src/backend/create.ts";
import { Trainer } from "../src/train/trainer.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    "data": { type: "string" },
    "test": { type: "string" },
    "channels": { type: "string", default: "1" },
    "image-size": { type: "string" },
    "model": { type: "string", default: "cnn" },
  },
});
if (values.data === undefined || values.test === undefined) {
  console.error(
    "usage: deno run -A --no-lock scripts/image_folder_timings.ts --data TRAIN --test TEST " +
      "[--channels 1|3] [--image-size N] [--model mlp|cnn]",
  );
  Deno.exit(2);
}
const cache = await Deno.makeTempDir({ prefix: "magnet-image-timings-" });
const source: ImageFolderSource = {
  kind: "images",
  train: values.data,
  test: values.test,
  testFraction: 0.2,
  splitSeed: 0,
  size: values["image-size"] ? parseImageSize(values["image-size"]) : null,
  resize: "crop",
  channels: Number(values.channels) as 1 | 3,
  cache,
  skipBadImages: false,
};
const backend = await createBackend({ kind: "cpu" });
try {
  const seconds = (start: number) => ((performance.now() - start) / 1000).toFixed(1);
  let start = performance.now();
  const first = await loadData(source);
  console.log(`first decode: ${seconds(start)} s`);
  for (const note of first.notes ?? []) console.log(`  ${note}`);
  start = performance.now();
  const again = await loadData(source);
  const loaded = seconds(start);
  await fingerprint(again);
  const trainer = await Trainer.create(
    { backend, train: again.train, test: again.test },
    { model: values.model as "mlp" | "cnn" },
  );
  console.log(
    `second run: training starts ${seconds(start)} s after loading begins (data from the ` +
      `cache in ${loaded} s)`,
  );
  for (const note of again.notes ?? []) console.log(`  ${note}`);
  await trainer.dispose();
} finally {
  backend.dispose();
  await Deno.remove(cache, { recursive: true });
}
