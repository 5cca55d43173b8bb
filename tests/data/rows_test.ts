/**
 * Rows for a model from any file it reads: CSV (as the CSV reader gives them) and IDX images,
 * gzipped or not, labelled by the labels file beside them; what is not a file is named as such.
 */
import assert from "node:assert/strict";
import { readRows } from "../../src/data/rows.ts";
import { MagnetInputError } from "../../src/errors.ts";
import { gzip, idxBytes } from "../helpers/idx.ts";

Deno.test("readRows", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "magnet-rows-" });
  try {
    await t.step(
      "a CSV file: features by the model's columns, labels, rows named by line",
      async () => {
        const path = `${dir}/rows.csv`;
        Deno.writeTextFileSync(path, "b,label,a\n1,x,2\n\n3,y,4\n");
        const rows = await readRows(path, { featureNames: ["a", "b"] });
        assert.equal(rows.kind, "csv");
        assert.deepEqual([...(rows.features as Float32Array)], [2, 1, 4, 3]);
        assert.deepEqual(rows.labels, ["x", "y"]);
        assert.deepEqual([...rows.rows], [2, 4]);
        assert.equal(rows.imageShape, undefined);
      },
    );

    await t.step("IDX images, gzipped or plain, labelled by the file beside them", async () => {
      const pixels = Uint8Array.from({ length: 3 * 2 * 2 }, (_, i) => i * 20);
      const images = idxBytes([3, 2, 2], pixels), labels = idxBytes([3], [2, 0, 1]);
      Deno.writeFileSync(`${dir}/train-images-idx3-ubyte.gz`, await gzip(images));
      Deno.writeFileSync(`${dir}/train-labels-idx1-ubyte`, labels);
      const rows = await readRows(`${dir}/train-images-idx3-ubyte.gz`, {
        classNames: ["zero", "one", "two"],
      });
      assert.equal(rows.kind, "idx");
      assert.equal(rows.dim, 4);
      assert.deepEqual(rows.imageShape, [2, 2, 1]);
      assert.deepEqual(
        [...(rows.features as Float32Array)],
        Array.from(pixels, (p) => Math.fround(p / 255)),
      );
      assert.deepEqual(rows.labels, ["two", "zero", "one"]);
      assert.deepEqual([...rows.rows], [1, 2, 3]);
      // Without class names the labels are the indices; without a labels file there are none.
      Deno.writeFileSync(`${dir}/t10k-images-idx3-ubyte`, images);
      Deno.writeFileSync(`${dir}/t10k-labels-idx1-ubyte.gz`, await gzip(labels));
      assert.deepEqual((await readRows(`${dir}/t10k-images-idx3-ubyte`)).labels, ["2", "0", "1"]);
      Deno.writeFileSync(`${dir}/photos.idx`, idxBytes([2, 2, 2, 3], new Uint8Array(24)));
      const colour = await readRows(`${dir}/photos.idx`);
      assert.deepEqual(colour.imageShape, [2, 2, 3]);
      assert.equal(colour.labels, null);
      // format "csv" reads the file as CSV whatever it holds.
      await assert.rejects(
        () => readRows(`${dir}/photos.idx`, { format: "csv" }),
        MagnetInputError,
      );
    });

    await t.step("what cannot be read is named", async () => {
      const cases: [string, RegExp][] = [
        [`${dir}/missing.csv`, /file not found: .*missing\.csv/],
        [dir, /is a folder: give a CSV file or an IDX file \(image files are read for a model/],
      ];
      Deno.writeFileSync(`${dir}/a-images-idx3-ubyte`, idxBytes([2, 2, 2], new Uint8Array(8)));
      Deno.writeFileSync(`${dir}/a-labels-idx1-ubyte`, idxBytes([3], [0, 1, 2]));
      cases.push([`${dir}/a-images-idx3-ubyte`, /labels of dimensions \[3\] for the 2 images/]);
      Deno.writeFileSync(`${dir}/flat.idx`, idxBytes([4], new Uint8Array(4)));
      cases.push([`${dir}/flat.idx`, /IDX images have 3 dimensions .* found \[4\]/]);
      for (const [path, message] of cases) {
        await assert.rejects(
          () => readRows(path),
          (e) => e instanceof MagnetInputError && message.test(e.message),
          path,
        );
      }
      // Read as CSV whatever it is: a folder is named as what it is, before it is opened.
      await assert.rejects(
        () => readRows(dir, { format: "csv" }),
        (e) =>
          e instanceof MagnetInputError &&
          /: expected a CSV file or an IDX file of images, found a directory/.test(e.message),
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
