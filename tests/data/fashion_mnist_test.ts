import assert from "node:assert/strict";
import { MagnetInputError } from "../../src/errors.ts";
import {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_FILES,
  loadFashionMnist,
} from "../../src/data/fashion_mnist.ts";
import { readIdx } from "../../src/data/files.ts";
import { parseIdx } from "../../src/data/idx.ts";
import { validateDataset } from "../../src/data/dataset.ts";
import { gzip, idxBytes, syntheticImages, writeFashionMnist } from "../helpers/idx.ts";

Deno.test("IDX files", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "magnet-idx-" });
  try {
    await t.step("parses dimensions big-endian and the values after them", () => {
      const data = Array.from({ length: 2 * 3 * 4 }, (_, i) => i * 10);
      const idx = parseIdx(idxBytes([2, 3, 4], data), "x.idx");
      assert.deepEqual(idx.shape, [2, 3, 4]);
      assert.deepEqual([...idx.data], data);
      const big = parseIdx(idxBytes([300], new Uint8Array(300).fill(7)), "big.idx");
      assert.deepEqual(big.shape, [300]); // 300 = 0x0000012c: both bytes matter
    });

    await t.step("gzipped or not, by content rather than by name", async () => {
      const bytes = idxBytes([4], [1, 2, 3, 255]);
      await Deno.writeFile(`${dir}/plain.gz`, bytes);
      await Deno.writeFile(`${dir}/packed.idx`, await gzip(bytes));
      for (const name of ["plain.gz", "packed.idx"]) {
        assert.deepEqual([...(await readIdx(`${dir}/${name}`)).data], [1, 2, 3, 255], name);
      }
    });

    await t.step("every malformed file is a MagnetInputError naming it", async () => {
      const bad = (bytes: Uint8Array, message: RegExp) =>
        assert.throws(() => parseIdx(bytes, "f.idx"), (e: Error) => {
          assert.ok(e instanceof MagnetInputError, e.message);
          assert.match(e.message, /^f\.idx/);
          assert.match(e.message, message);
          return true;
        });
      bad(new Uint8Array([0, 0]), /2 bytes, too short/);
      bad(new Uint8Array([80, 75, 3, 4, 0, 0, 0, 0]), /not an IDX file.*80, 75/);
      bad(new Uint8Array([0, 0, 0x0d, 1, 0, 0, 0, 0]), /type 0xd.*unsigned bytes/);
      bad(new Uint8Array([0, 0, 8, 0]), /rank 0/);
      bad(new Uint8Array([0, 0, 8, 2, 0, 0, 0, 1]), /ends inside its 2 dimensions/);
      bad(idxBytes([2, 3], [1, 2, 3, 4, 5, 6]).subarray(0, 15), /need 6 values, the file holds 3/);
      bad(new Uint8Array([...idxBytes([2], [1, 2]), 9]), /need 2 values, the file holds 3/);
      await Deno.writeFile(
        `${dir}/broken.gz`,
        (await gzip(idxBytes([9], new Uint8Array(9)))).subarray(0, 12),
      );
      await assert.rejects(readIdx(`${dir}/broken.gz`), /broken\.gz is not a valid gzip file/);
      await assert.rejects(readIdx(`${dir}/nothing.gz`), /file not found: .*nothing\.gz/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadFashionMnist", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "magnet-fmnist-" });
  const fresh = async (name: string) => {
    const path = `${dir}/${name}`;
    await Deno.mkdir(path);
    return path;
  };
  try {
    await t.step(
      "reads the official split: pixels / 255, labels, classes, image shape",
      async () => {
        const at = await fresh("gz");
        await writeFashionMnist(at, { train: 30, test: 10, side: 6 });
        const { train, test } = await loadFashionMnist(`${at}/`);
        const expected = syntheticImages(30, 6, 10, 1);
        assert.equal(train.dim, 36);
        assert.deepEqual(train.imageShape, [6, 6, 1]);
        assert.deepEqual(train.classNames, FASHION_MNIST_CLASSES);
        assert.deepEqual([...train.labels], [...expected.labels]);
        assert.equal(train.features.length, 30 * 36);
        train.features.forEach((v, i) => assert.equal(v, Math.fround(expected.pixels[i] / 255)));
        assert.equal(test.labels.length, 10);
        assert.deepEqual(test.imageShape, [6, 6, 1]);
        validateDataset(train, "train");
      },
    );

    await t.step("files without .gz (gunzipped) are read too", async () => {
      const at = await fresh("plain");
      await writeFashionMnist(at, { train: 20, test: 10, side: 5, plain: true });
      const { train } = await loadFashionMnist(at);
      assert.equal(train.labels.length, 20);
    });

    await t.step("a missing file says how to get the data", async () => {
      const at = await fresh("partial");
      await writeFashionMnist(at);
      await Deno.remove(`${at}/${FASHION_MNIST_FILES.testLabels}`);
      await assert.rejects(loadFashionMnist(at), (e: Error) => {
        assert.ok(e instanceof MagnetInputError);
        assert.match(e.message, /missing t10k-labels-idx1-ubyte\.gz/);
        assert.match(e.message, /apt-get install dataset-fashion-mnist/);
        assert.match(e.message, /--data-dir/);
        return true;
      });
      await assert.rejects(loadFashionMnist(`${dir}/nowhere`), /Fashion-MNIST is not in .*nowhere/);
    });

    await t.step("labels that do not fit the images are refused with the file", async () => {
      const f = FASHION_MNIST_FILES;
      const at = await fresh("mismatch");
      await writeFashionMnist(at);
      await Deno.writeFile(
        `${at}/${f.trainLabels}`,
        await gzip(idxBytes([59], new Uint8Array(59))),
      );
      await assert.rejects(loadFashionMnist(at), /train-labels.*59 labels for the 60 images/);
      const labels = new Uint8Array(60);
      labels[41] = 10;
      await Deno.writeFile(`${at}/${f.trainLabels}`, await gzip(idxBytes([60], labels)));
      await assert.rejects(
        loadFashionMnist(at),
        /train-labels.*item 42: label 10, expected 0 to 9/,
      );
      await Deno.writeFile(
        `${at}/${f.trainLabels}`,
        await gzip(idxBytes([60], new Uint8Array(60))),
      );
      await Deno.writeFile(
        `${at}/${f.testImages}`,
        await gzip(idxBytes([20, 7, 7], new Uint8Array(980))),
      );
      await assert.rejects(loadFashionMnist(at), /t10k-images.*7x7 pixels.*training images.*8x8/);
      await Deno.writeFile(
        `${at}/${f.testImages}`,
        await gzip(idxBytes([20, 64], new Uint8Array(1280))),
      );
      await assert.rejects(loadFashionMnist(at), /t10k-images.*3 dimensions \[n, height, width\]/);
      await Deno.writeFile(`${at}/${f.testImages}`, await gzip(idxBytes([0, 8, 8], [])));
      await assert.rejects(loadFashionMnist(at), /t10k-images.*holds no pixels.*\[0,8,8\]/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
