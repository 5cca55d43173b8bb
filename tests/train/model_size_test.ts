/**
 * Size checks for every model, before any allocation: a CNN whose image windows or first dense
 * layer exceed one buffer of the device is refused at once, naming the layer and the size, on
 * every backend, and the backend then trains a model that fits. The sizes are derived from each
 * backend's own limits (4 GiB buffers on the CPU, llvmpipe's 128 MiB bindings on WebGPU).
 */
import assert from "node:assert/strict";
import { Trainer } from "../../src/train/trainer.ts";
import type { Dataset } from "../../src/data/dataset.ts";
import { MagnetInputError, TooLargeError } from "../../src/errors.ts";
import { MAX_TENSOR_ELEMENTS } from "../../src/nn/size.ts";
import { main as train } from "../../src/cli/train.ts";
import { assertUsageError, inProcess } from "../helpers/cli.ts";
import { gpuTestOptions, openBackends } from "../helpers/backends.ts";
import { syntheticImages, writeFashionMnist } from "../helpers/idx.ts";

/** `count` grey images `side` pixels square, three classes. */
function images(count: number, side: number): Dataset {
  const { pixels, labels } = syntheticImages(count, side, 3, 1);
  return {
    features: Float32Array.from(pixels, (p) => p / 255),
    dim: side * side,
    labels: Int32Array.from(labels),
    classNames: ["a", "b", "c"],
    imageShape: [side, side, 1],
  };
}

/** Batches of 6 rows (M = 3, D = 2), triplet loss: no cluster index to build. */
const BATCH = { loss: "triplet" as const, m: 3, d: 2, iterations: 3, evalEvery: 0 };

Deno.test("model sizes against the device", gpuTestOptions, async (t) => {
  const backends = await openBackends();
  try {
    for (const backend of backends) {
      const floats = Math.min(backend.limits().maxBufferBytes / 4, 2 ** 40);
      await t.step(`${backend.kind}: image windows beyond one buffer`, async () => {
        // 256 x 256 images: the first convolution's output stays within a buffer; the second's
        // image windows (2.25 times larger) do not.
        const channels = Math.floor(floats / (6 * 256 * 256 * 1.5));
        await assert.rejects(
          Trainer.create({ backend, train: images(12, 256) }, {
            ...BATCH,
            model: "cnn",
            conv: [channels, 1, 1, 1, 1, 1, 1, 1],
            hidden: [4],
            embeddingDim: 2,
          }),
          (e: Error) => {
            assert.ok(e instanceof TooLargeError, `${e.name}: ${e.message}`);
            assert.match(
              e.message,
              new RegExp(
                `^convolution 2 \\(1 channels, --conv\\): image windows \\[98304,${
                  9 * channels
                }\\] ` +
                  "would take .* more than the largest buffer this device holds .*: make that " +
                  "layer smaller or the batch \\(--m x --d\\) smaller$",
              ),
            );
            return true;
          },
        );
      });

      await t.step(`${backend.kind}: a first dense layer beyond one buffer`, async () => {
        // 64 x 64 images and 64 channels: the dense layer reads 32 x 32 x 64 = 65,536 values.
        const limit = Math.min(floats, MAX_TENSOR_ELEMENTS);
        const width = Math.ceil((limit * 1.2) / 65536);
        await assert.rejects(
          Trainer.create({ backend, train: images(12, 64) }, {
            ...BATCH,
            model: "cnn",
            conv: [64],
            hidden: [width],
            embeddingDim: 2,
          }),
          (e: Error) => {
            assert.ok(e instanceof MagnetInputError, `${e.name}: ${e.message}`);
            assert.match(
              e.message,
              new RegExp(
                `^dense layer 1 \\(${width} wide, --hidden\\): variable "cnn\\.dense0\\.weight" ` +
                  `\\[65536,${width}\\] would (take|hold) .*: make that layer smaller$`,
              ),
            );
            return true;
          },
        );
      });

      await t.step(`${backend.kind}: after the refusals, a model that fits trains`, async () => {
        const trainer = await Trainer.create({ backend, train: images(12, 8) }, {
          ...BATCH,
          model: "cnn",
          conv: [4],
          hidden: [4],
          embeddingDim: 2,
        });
        const result = await trainer.run();
        assert.equal(result.iterations, 3);
        await trainer.dispose();
      });
    }
  } finally {
    for (const b of backends) b.dispose();
  }

  await t.step("the command line: one line naming the layer, exit 2", async () => {
    const dir = await Deno.makeTempDir({ prefix: "magnet-size-" });
    try {
      await writeFashionMnist(dir, { train: 30, test: 10, side: 128 });
      const r = await inProcess(train, [
        "--dataset",
        "fashion-mnist",
        "--data-dir",
        dir,
        "--backend",
        "cpu",
        "--model",
        "cnn",
        "--conv",
        "64",
        "--hidden",
        "2048",
        "--out",
        `${dir}/never`,
      ]);
      assertUsageError(
        r,
        /^error: dense layer 1 \(2048 wide, --hidden\): variable "cnn\.dense0\.weight" \[262144,2048\] would hold 5\.37e\+8 values; at most 268435456 fit in one buffer: make that layer smaller$/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
