/**
 * Test data is checked against the training data before a run starts: test images of another
 * shape (height, width, channels) are refused even when their rows have the training rows' width.
 */
import assert from "node:assert/strict";
import { createBackend } from "../../src/backend/create.ts";
import { train } from "../../src/train/trainer.ts";
import type { Dataset } from "../../src/data/dataset.ts";
import { MagnetInputError } from "../../src/errors.ts";
import { syntheticImages } from "../helpers/idx.ts";

/** 30 images of `shape`, 32 values each, three classes. */
function images(shape: [number, number, number]): Dataset {
  const { pixels, labels } = syntheticImages(30, 4, 3, 1);
  const features = new Float32Array(30 * 32);
  for (let i = 0; i < features.length; i++) features[i] = pixels[i % pixels.length] / 255;
  return {
    features,
    dim: 32,
    labels: Int32Array.from(labels),
    classNames: ["a", "b", "c"],
    imageShape: shape,
  };
}

Deno.test("test images of another shape are refused before training", async () => {
  const backend = await createBackend({ kind: "cpu", threads: 1 });
  try {
    const settings = {
      model: "cnn" as const,
      conv: [2],
      hidden: [4],
      embeddingDim: 2,
      m: 3,
      d: 2,
      k: 2,
    };
    for (
      const [shape, shown] of [
        [[8, 4, 1], "8x4x1"],
        [[4, 4, 2], "4x4x2"],
      ] as const
    ) {
      await assert.rejects(
        train({ backend, train: images([4, 8, 1]), test: images([...shape]) }, settings),
        (e: Error) => {
          assert.ok(e instanceof MagnetInputError, e.message);
          assert.equal(
            e.message,
            `test data: images of ${shown} (height x width x channels), the training images are ` +
              "4x8x1: both must have the training images' shape",
          );
          return true;
        },
      );
    }
    // The same shape trains.
    const result = await train({ backend, train: images([4, 8, 1]), test: images([4, 8, 1]) }, {
      ...settings,
      iterations: 2,
      evalEvery: 0,
    });
    assert.equal(result.iterations, 2);
  } finally {
    backend.dispose();
  }
});
