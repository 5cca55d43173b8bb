/**
 * Data files as they come: gzip files of several members load; a gzip file that inflates past what
 * its header's dimensions need is stopped there; a labels file of the wrong rank says so; a
 * directory, a FIFO or a symbolic link loop in place of a data file is named as what it is (and a
 * FIFO is never opened, so nothing blocks); numeric class labels compare as numbers.
 */
import assert from "node:assert/strict";
import { readCsvDataset, readIdx } from "../../src/data/files.ts";
import { loadFashionMnist } from "../../src/data/fashion_mnist.ts";
import { parseCsvDataset } from "../../src/data/csv.ts";
import { loadData } from "../../src/data/source.ts";
import { MagnetInputError } from "../../src/errors.ts";
import { gzip, idxBytes, writeFashionMnist } from "../helpers/idx.ts";

/** Rejects with a MagnetInputError whose message matches. */
async function refused(promise: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(promise, (e: Error) => {
    assert.ok(e instanceof MagnetInputError, `${e.name}: ${e.message}`);
    assert.match(e.message, message);
    return true;
  });
}

Deno.test("data files", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "magnet-datafiles-" });
  try {
    await t.step("a gzip file of several members loads whole, as gunzip reads it", async () => {
      const values = Array.from({ length: 3000 }, (_, i) => (i * 7) % 256);
      const bytes = idxBytes([30, 10, 10], values);
      // Cut inside the header and inside the data: what `cat a.gz b.gz c.gz` makes.
      const parts = [bytes.subarray(0, 6), bytes.subarray(6, 1500), bytes.subarray(1500)];
      const members = await Promise.all(parts.map(gzip));
      const path = `${dir}/members.gz`;
      Deno.writeFileSync(path, new Uint8Array(members.flatMap((m) => [...m])));
      const read = await readIdx(path);
      assert.deepEqual(read.shape, [30, 10, 10]);
      assert.deepEqual([...read.data], values);
    });

    await t.step("decompression stops where the header's dimensions end", async () => {
      // A header for 4 values, then 16 MiB of zeros: a few kilobytes that would inflate 1,000-fold.
      const data = new Uint8Array(16 * 2 ** 20);
      data.set(idxBytes([4], [1, 2, 3, 4]));
      const path = `${dir}/bomb.gz`;
      Deno.writeFileSync(path, await gzip(data));
      assert.ok(Deno.statSync(path).size < 50_000);
      await refused(
        readIdx(path),
        /bomb\.gz: the data goes on past the 4 values its dimensions \[4\] need/,
      );
      // A header that declares more than an IDX file may hold is refused before decompressing.
      Deno.writeFileSync(`${dir}/huge.gz`, await gzip(idxBytes([65536, 65536], [])));
      await refused(
        readIdx(`${dir}/huge.gz`),
        /huge\.gz: dimensions \[65536,65536\] declare 4294967296 values/,
      );
    });

    await t.step("a labels file of another rank says so", async () => {
      const at = `${dir}/rank`;
      Deno.mkdirSync(at);
      await writeFashionMnist(at, { train: 20, test: 10, side: 4, plain: true });
      // Labels written as a 2-d array, 10 x 2: twenty values, but not twenty labels.
      Deno.writeFileSync(`${at}/train-labels-idx1-ubyte`, idxBytes([10, 2], new Uint8Array(20)));
      await refused(
        loadFashionMnist(at),
        /train-labels-idx1-ubyte: labels should have 1 dimension \[n\], found 2 \[10,2\]/,
      );
    });

    await t.step("a directory, a FIFO or a link loop in place of a file is named", async () => {
      const at = `${dir}/odd`;
      Deno.mkdirSync(at);
      await writeFashionMnist(at, { train: 20, test: 10, side: 4, plain: true });
      const labels = `${at}/train-labels-idx1-ubyte`;
      const swap = async (make: () => void, message: RegExp) => {
        Deno.removeSync(labels, { recursive: true });
        make();
        await refused(loadFashionMnist(at), message);
      };
      await swap(
        () => Deno.mkdirSync(labels),
        /train-labels-idx1-ubyte: expected an IDX file, found a directory/,
      );
      await swap(() => {
        const made = new Deno.Command("mkfifo", { args: [labels] }).outputSync();
        assert.ok(made.success, "mkfifo");
      }, /train-labels-idx1-ubyte: expected an IDX file, found a FIFO \(named pipe\)/);
      await swap(() => {
        Deno.symlinkSync(`${at}/loop-b`, labels);
        Deno.symlinkSync(labels, `${at}/loop-b`);
      }, /train-labels-idx1-ubyte: expected an IDX file, found a symbolic link loop/);
      await swap(
        () => Deno.symlinkSync(`${at}/gone`, labels),
        /train-labels-idx1-ubyte: expected an IDX file, found a symbolic link to .*gone, which does not exist/,
      );
      // The same for a CSV file.
      Deno.mkdirSync(`${dir}/table.csv`);
      await refused(
        readCsvDataset(`${dir}/table.csv`),
        /table\.csv: expected a CSV file, found a directory/,
      );
    });

    await t.step("numeric class labels compare as numbers", async () => {
      const text = "x,label\n1,1\n2,1.0\n3,01\n4,2\n5,2.00\n6,+2\n7,10\n8,1e1\n";
      const d = parseCsvDataset(text, "numbers.csv");
      assert.deepEqual(d.classNames, ["1", "2", "10"]);
      assert.deepEqual([...d.labels], [0, 0, 0, 1, 1, 1, 2, 2]);
      // A test file that writes a class otherwise is the same class.
      Deno.writeTextFileSync(`${dir}/train.csv`, text);
      Deno.writeTextFileSync(`${dir}/test.csv`, "x,label\n1,1.000\n2,2e0\n3,10.0\n");
      const loaded = await loadData({
        kind: "csv",
        train: `${dir}/train.csv`,
        test: `${dir}/test.csv`,
        labelColumn: "label",
        testFraction: 0.2,
        splitSeed: 0,
        val: null,
        valFraction: 0,
        idColumn: null,
        ignoreColumns: [],
      });
      assert.deepEqual([...loaded.test.labels], [0, 1, 2]);
      // Numbers that differ beyond float64's precision stay apart.
      const big = parseCsvDataset(
        "x,label\n1,9007199254740993\n2,9007199254740992\n3,9007199254740993\n4,9007199254740992\n",
        "big.csv",
      );
      assert.deepEqual(big.classNames, ["9007199254740992", "9007199254740993"]);
      // Labels that are not all numbers are compared as written.
      assert.deepEqual(
        parseCsvDataset("x,label\n1,a\n2,1\n3,1.0\n4,a\n5,1\n6,1.0\n", "m.csv").classNames,
        [
          "1",
          "1.0",
          "a",
        ],
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
