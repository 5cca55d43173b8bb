/**
 * Row sources: a table's rows are copied or viewed as they are; images' 8-bit pixels become
 * float32 rows normalised per channel exactly as a float64 reference computes them; subsets share
 * pixels; digests follow content, index and normalisation; and a data set of images flows through
 * `subset` and `validateDataset` like a table.
 */
import assert from "node:assert/strict";
import { type RowSource, rowSource, TableRowSource } from "../../src/data/row_source.ts";
import {
  fitNormalization,
  identityNormalization,
  ImagePixels,
  ImageRows,
} from "../../src/data/images/image_rows.ts";
import { type Dataset, subset, validateDataset } from "../../src/data/dataset.ts";
import { MagnetInputError } from "../../src/errors.ts";
import { Random } from "../../src/util/random.ts";

function images(count: number, shape: [number, number, number], seed: number): ImagePixels {
  const random = new Random(seed);
  const size = shape[0] * shape[1] * shape[2];
  return new ImagePixels(Uint8Array.from({ length: count * size }, () => random.int(256)), shape);
}

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes.slice()));
}

Deno.test("row sources", async (t) => {
  await t.step("a table: gather copies, range views, subset copies, digest of bytes", async () => {
    const values = Float32Array.from({ length: 12 }, (_, i) => i * 0.5);
    const table = new TableRowSource(values, 3);
    assert.equal(table.count, 4);
    const out = new Float32Array(6);
    table.gather([3, 0], out);
    assert.deepEqual([...out], [4.5, 5, 5.5, 0, 0.5, 1]);
    const view = table.range(1, 2, new Float32Array(6));
    assert.equal(view.buffer, values.buffer);
    assert.deepEqual([...view], [1.5, 2, 2.5, 3, 3.5, 4]);
    const copy = table.subset([2]);
    copy.values[0] = -1;
    assert.equal(values[6], 3);
    const bytes = new Uint8Array(values.buffer);
    assert.deepEqual(await table.digest(), await sha256(bytes));
    assert.throws(() => table.gather([4], out), RangeError);
    assert.equal(rowSource(values, 3).count, 4);
  });

  await t.step("images: rows are (v / 255 - mean) / std per channel, as float64 says", () => {
    const shape: [number, number, number] = [3, 2, 3];
    const pixels = images(5, shape, 1);
    const normalization = { mean: [0.5, 0.25, 0.75], std: [0.2, 0.5, 0.1] };
    const rows: RowSource = new ImageRows(pixels, normalization);
    assert.deepEqual([rows.count, rows.dim], [5, 18]);
    const out = new Float32Array(3 * 18);
    rows.gather([4, 0, 4], out);
    [4, 0, 4].forEach((r, i) => {
      for (let j = 0; j < 18; j++) {
        const k = j % 3;
        const expected = Math.fround(
          (pixels.data[r * 18 + j] / 255 - normalization.mean[k]) / normalization.std[k],
        );
        assert.equal(out[i * 18 + j], expected, `row ${r} value ${j}`);
      }
    });
    const range = rows.range(3, 2, new Float32Array(36));
    const gathered = new Float32Array(36);
    rows.gather([3, 4], gathered);
    assert.deepEqual(range, gathered);
  });

  await t.step("image subsets share pixels and compose their indices", async () => {
    const pixels = images(6, [2, 2, 1], 2);
    const all = new ImageRows(pixels, identityNormalization(1));
    const part = all.subset([5, 2, 3]).subset([1, 0]);
    assert.equal(part.pixels, pixels);
    assert.deepEqual([...part.index!], [2, 5]);
    assert.deepEqual(part.image(0), all.image(2));
    const a = new Float32Array(8), b = new Float32Array(8);
    part.gather([0, 1], a);
    all.gather([2, 5], b);
    assert.deepEqual(a, b);
    // Digests follow what decides the rows.
    const same = new ImageRows(
      new ImagePixels(pixels.data.slice(), [2, 2, 1]),
      identityNormalization(1),
    );
    assert.deepEqual(await same.digest(), await all.digest());
    const digests = [
      await all.digest(),
      await all.subset([0, 1, 2, 3, 4, 5]).digest(),
      await all.subset([1, 0, 2, 3, 4, 5]).digest(),
      await all.withNormalization({ mean: [0.1], std: [1] }).digest(),
    ];
    const hex = digests.map((d) => Array.from(d).join(","));
    assert.equal(new Set(hex).size, 4);
  });

  await t.step("a normalisation is fitted exactly and must be finite and positive", () => {
    const pixels = images(7, [3, 3, 3], 3);
    const rows = new ImageRows(pixels, identityNormalization(3)).subset([0, 2, 4, 6]);
    const fitted = fitNormalization(rows);
    for (let k = 0; k < 3; k++) {
      const values: number[] = [];
      for (const r of [0, 2, 4, 6]) {
        for (let j = k; j < 27; j += 3) values.push(pixels.data[r * 27 + j] / 255);
      }
      const mean = values.reduce((s, v) => s + v, 0) / values.length;
      const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
      assert.ok(Math.abs(fitted.mean[k] - mean) < 1e-12 && Math.abs(fitted.std[k] - std) < 1e-12);
    }
    const flat = new ImageRows(
      new ImagePixels(new Uint8Array(8).fill(9), [2, 2, 1]),
      identityNormalization(1),
    );
    assert.deepEqual(fitNormalization(flat).std, [1]);
    for (
      const bad of [{ mean: [0], std: [0] }, { mean: [NaN], std: [1] }, {
        mean: [0, 0],
        std: [1, 1],
      }]
    ) {
      assert.throws(() => flat.withNormalization(bad), MagnetInputError);
    }
  });

  await t.step("a data set of images goes through subset and validation", () => {
    const pixels = images(6, [2, 2, 1], 4);
    const data: Dataset<ImageRows> = {
      features: new ImageRows(pixels, identityNormalization(1)),
      dim: 4,
      labels: Int32Array.from([0, 1, 0, 1, 0, 1]),
      classNames: ["a", "b"],
      imageShape: [2, 2, 1],
      ids: ["a/1.png", "b/1.png", "a/2.png", "b/2.png", "a/3.png", "b/3.png"],
    };
    validateDataset(data, "images");
    const part = subset(data, [4, 1, 2]);
    assert.ok(part.features instanceof ImageRows);
    assert.equal(part.features.pixels, pixels);
    assert.deepEqual(part.ids, ["a/3.png", "b/1.png", "a/2.png"]);
    assert.throws(
      () => validateDataset({ ...data, labels: data.labels.subarray(0, 5) }, "images"),
      /expected 5 rows x 4 features = 20 values, found 24/,
    );
  });
});
