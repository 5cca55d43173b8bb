/**
 * `deno task index` and `deno task search` as a person runs them, against the real LanceDB engine
 * in temporary folders: a table made from a CSV file and from IDX images, searched exactly (the
 * project's own nearest neighbours) and with the model's rule (its test error through the table is
 * the training run's), a run killed with SIGKILL and continued, a grown file, and every mistake
 * (a foreign, missing or damaged table, queries of the wrong shape, flags that do not go together)
 * one line with exit code 2 that changes nothing.
 */
import assert from "node:assert/strict";
import { createBackend } from "../../src/backend/create.ts";
import { readRows } from "../../src/data/rows.ts";
import { nearestNeighbours } from "../../src/eval/neighbours.ts";
import { openEmbeddingTable } from "../../src/search/search.ts";
import { loadModel } from "../../src/train/model_file.ts";
import { classify } from "../../src/train/saved_model.ts";
import { assertUsageError, cli, csv, exists, listing, SMALL } from "../helpers/cli.ts";
import { FileLock } from "../../src/cli/file_lock.ts";
import { writeFashionMnist } from "../helpers/idx.ts";

/** The files under `dir`, recursively, with their sizes: what "nothing changed" compares. */
function snapshot(dir: string): string[] {
  const found: string[] = [];
  const walk = (path: string) => {
    for (const entry of Deno.readDirSync(path)) {
      const full = `${path}/${entry.name}`;
      if (entry.isDirectory) walk(full);
      else found.push(`${full.slice(dir.length)} ${Deno.statSync(full).size}`);
    }
  };
  walk(dir);
  return found.sort();
}

Deno.test("index and search commands", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "magnet-search-cli-" });
  const data = `${dir}/rows.csv`, queries = `${dir}/queries.csv`;
  const run = `${dir}/run`, other = `${dir}/other`, db = `${dir}/db`;
  Deno.writeTextFileSync(data, csv(40, 1));
  Deno.writeTextFileSync(queries, csv(4, 2));
  try {
    for (const [out, seed] of [[run, "1"], [other, "2"]]) {
      const r = await cli("train", [
        ...SMALL,
        "--data",
        data,
        "--iterations",
        "30",
        "--seed",
        seed,
        "--quiet",
        "--out",
        out,
      ]);
      assert.equal(r.code, 0, r.stderr);
    }

    await t.step("a table from a CSV file; exact search is the project's own", async () => {
      const r = await cli("index", [
        "--model",
        run,
        "--data",
        data,
        "--db",
        db,
        "--batch-rows",
        "25",
        "--backend",
        "cpu",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /rows 120\/120/);
      assert.match(r.stdout, /added 120 rows of .*rows\.csv to table "embeddings" in .*\/db /);
      assert.match(
        r.stdout,
        /holds 120 rows of 4-d embeddings \([\d.]+ MB\); no approximate index yet \(built from 10,000/,
      );
      const s = await cli("search", [
        "--db",
        db,
        "--model",
        run,
        "--query-csv",
        queries,
        "--k",
        "3",
        "--exact",
        "--json",
      ]);
      assert.equal(s.code, 0, s.stderr);
      const lines = s.stdout.trim().split("\n").map((line) => JSON.parse(line));
      assert.equal(lines.length, 12);
      // The reference: the rows embedded here, their nearest neighbours by the project's search.
      const saved = await loadModel(`${run}/model.json`);
      const backend = await createBackend({ kind: "cpu" });
      try {
        const reference = await readRows(data, { featureNames: saved.featureNames });
        const asked = await readRows(queries, { featureNames: saved.featureNames });
        const refs = await classify(backend, saved, reference.features);
        const mine = await classify(backend, saved, asked.features);
        const nn = await nearestNeighbours(backend, mine.embeddings, refs.embeddings, 4, 3);
        lines.forEach((line, q) => {
          assert.equal(line.query, q + 2, "a CSV row is named by its line");
          assert.equal(line.label, asked.labels![q]);
          assert.equal(line.predicted, saved.classNames[mine.predicted[q]]);
          assert.ok(line.vote > 0 && line.vote <= 1);
          assert.deepEqual(
            line.hits.map((h: { id: number }) => h.id),
            Array.from(nn.indices.subarray(q * 3, q * 3 + 3), (i) => reference.rows[i]),
          );
          line.hits.forEach((h: { label: string; distance: number }, j: number) => {
            const i = nn.indices[q * 3 + j];
            assert.equal(h.label, reference.labels![i]);
            assert.ok(Math.abs(h.distance - nn.distances[q * 3 + j]) <= 1e-4);
          });
        });
      } finally {
        backend.dispose();
      }
      assert.match(s.stderr, /^12 queries, 3 nearest each, exact, in [\d.]+ s; magnet-rule error/);
      const text = await cli("search", [
        "--db",
        db,
        "--model",
        run,
        "--query",
        queries,
        "--k",
        "2",
      ]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(
        text.stdout,
        /^row 2, labelled ant: predicted \w+ \(vote [\d.]+\)\n {3}1\. row \d+ +\w+ +[\d.e-]+\n/,
      );
      assert.match(text.stdout, /12 queries, 2 nearest each, exact \(the table has no approx/);
    });

    await t.step("running again adds nothing; a grown file adds its new rows", async () => {
      const again = await cli("index", ["--model", run, "--data", data, "--db", db, "--quiet"]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /added 0 rows .* \(120 were there already\)/);
      Deno.writeTextFileSync(data, csv(50, 1).split("\n").slice(121).join("\n"), { append: true });
      const grown = await cli("index", ["--model", run, "--data", data, "--db", db, "--quiet"]);
      assert.equal(grown.code, 0, grown.stderr);
      assert.match(grown.stdout, /added 30 rows .* \(120 were there already\)/);
      assert.match(grown.stdout, /holds 150 rows/);
    });

    await t.step("one index run at a time per table; the next may go when it ends", async () => {
      // Another run holding the table's lock (this process, as that run would).
      const held = await FileLock.take(`${db}/.embeddings.index-lock`, () => "", () => "");
      try {
        const args = ["--model", run, "--data", data, "--db", db, "--quiet"];
        const before = snapshot(db);
        assertUsageError(
          await cli("index", args),
          /table "embeddings" in .* is being indexed by another run \(pid \d+, started .*\): wait/,
        );
        assert.deepEqual(snapshot(db), before, "the table is as it was");
        held.release();
        const after = await cli("index", args);
        assert.equal(after.code, 0, after.stderr);
        assert.match(after.stdout, /added 0 rows .* \(150 were there already\)/);
        assert.ok(!exists(`${db}/.embeddings.index-lock`), "the run removes its lock");
      } finally {
        held.release();
      }
    });

    await t.step(
      "a run stopped by Ctrl-C or killed leaves whole batches and continues",
      async () => {
        const big = `${dir}/big.csv`;
        Deno.writeTextFileSync(big, csv(300, 3));
        const args = [
          "--model",
          run,
          "--data",
          big,
          "--db",
          db,
          "--table",
          "big",
          "--batch-rows",
          "8",
        ];
        // Ctrl-C: the batch being written is finished, and the command says how to go on.
        const stopped = await cli("index", args, { after: /rows \d+\/900/, signals: ["SIGINT"] });
        assert.equal(stopped.code, 130, stopped.stderr);
        assert.match(
          stopped.stdout,
          /stopped by SIGINT: added (\d+) of 900 rows .* \(whole batches only\); run the same command again/,
        );
        const killed = await cli("index", args, { after: /rows \d+\/\d+/, signals: ["SIGKILL"] });
        assert.equal(killed.code, 137, killed.stderr);
        const saved = await loadModel(`${run}/model.json`);
        const backend = await createBackend({ kind: "cpu" });
        let done: number;
        try {
          const table = await openEmbeddingTable(backend, saved, db, { table: "big" });
          done = await table.count();
          table.close();
        } finally {
          backend.dispose();
        }
        assert.ok(done > 0 && done < 900 && done % 8 === 0, `${done} rows after the kill`);
        const resumed = await cli("index", [...args, "--quiet"]);
        assert.equal(resumed.code, 0, resumed.stderr);
        assert.match(
          resumed.stdout,
          new RegExp(`added ${900 - done} rows .* \\(${done} were there`),
        );
        assert.match(resumed.stdout, /holds 900 rows/);
      },
    );

    await t.step("a CNN on IDX images: its test error through the table is the run's", async () => {
      const images = `${dir}/fashion`, cnn = `${dir}/cnn`;
      Deno.mkdirSync(images);
      await writeFashionMnist(images, { train: 120, test: 40, side: 8 });
      const r = await cli("train", [
        ...SMALL,
        "--model",
        "cnn",
        "--conv",
        "4",
        "--dataset",
        "fashion-mnist",
        "--data-dir",
        images,
        "--iterations",
        "40",
        "--quiet",
        "--out",
        cnn,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const index = await cli("index", [
        "--model",
        cnn,
        "--data",
        `${images}/train-images-idx3-ubyte.gz`,
        "--db",
        db,
        "--table",
        "images",
        "--index",
        "ivf-flat",
        "--partitions",
        "2",
      ]);
      assert.equal(index.code, 0, index.stderr);
      assert.match(
        index.stdout,
        /approximate index IVF_FLAT built \(120 rows indexed, 0 not yet\)/,
      );
      const s = await cli("search", [
        "--db",
        db,
        "--table",
        "images",
        "--model",
        cnn,
        "--query",
        `${images}/t10k-images-idx3-ubyte.gz`,
        "--nprobes",
        "2",
        "--json",
      ]);
      assert.equal(s.code, 0, s.stderr);
      const first = JSON.parse(s.stdout.split("\n")[0]);
      assert.equal(first.query, 1);
      assert.equal(first.label, "T-shirt/top", "IDX labels are the model's class names");
      assert.equal(first.hits.length, 10);
      const metrics = JSON.parse(Deno.readTextFileSync(`${cnn}/metrics.json`));
      const error = (100 * metrics.test.magnetError).toFixed(2);
      assert.match(
        s.stderr,
        new RegExp(`approximate \\(IVF_FLAT\\).*error on the 40 labelled queries ${error} %`),
      );
    });

    await t.step("mistakes are one line, exit code 2, and change nothing", async () => {
      const before = snapshot(db);
      const base = ["--db", db, "--model", run];
      const cases: [string[], "index" | "search", RegExp][] = [
        [["--db", db, "--model", other, "--data", data], "index", /another model \(mlp 6-16-4/],
        [
          [...base, "--query", queries, "--table", "nope"],
          "search",
          /no table "nope" in .* \(it has /,
        ],
        [[...base, "--query", `${dir}/missing.csv`], "search", /file not found: .*missing\.csv/],
        [[...base, "--query", queries, "--exact", "--nprobes", "3"], "search", /--nprobes tunes/],
        [
          [...base, "--query", queries, "--query-csv", queries],
          "search",
          /--query-csv names the queries as a CSV file: it cannot be given with --query/,
        ],
        [[...base], "search", /one of --query/],
        [[...base, "--query", queries, "--k", "0"], "search", /--k must be at least 1/],
        [
          [...base, "--data", data, "--index", "ivf-flat", "--sub-vectors", "2"],
          "index",
          /--sub-vectors .*needs --index ivf-pq or --index ivf-hnsw-pq \(not --index ivf-flat\)/,
        ],
        [
          [...base, "--data", data, "--index", "none", "--index-threshold", "5"],
          "index",
          /--index-threshold .*needs --index auto \(not none\)/,
        ],
        [[...base, "--data", data, "--table", "a/b"], "index", /table name "a\/b"/],
      ];
      const wide = `${dir}/wide.csv`;
      Deno.writeTextFileSync(wide, "f0,f1,f2,f3,f4,label\n1,2,3,4,5,ant\n");
      cases.push([[...base, "--query", wide], "search", /wide\.csv.*f5/]);
      for (const [args, script, message] of cases) {
        assertUsageError(await cli(script, args), message, args.join(" "));
      }
      assert.deepEqual(snapshot(db), before, "the database is as it was");
      const nowhere = `${dir}/nowhere`;
      assertUsageError(
        await cli("search", ["--db", nowhere, "--model", run, "--query", queries]),
        /no LanceDB database at .*nowhere \(no such folder\)/,
      );
      assert.equal(exists(nowhere), false, "search makes no folder");
      // The environment's refusal (sysfs refuses new folders even to root) is exit 1, not bad input.
      const refused = await cli("index", [
        "--db",
        "/sys/magnet-test-db",
        "--model",
        run,
        "--data",
        data,
      ]);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(
        refused.stderr.trim(),
        /^error: cannot open the LanceDB database \/sys\/magnet-test-db: the operation is not permitted \(EPERM\)/,
      );
      assert.doesNotMatch(refused.stderr, /bug|report/);
      // A damaged table: its data files cut short, or its versions gone.
      const damaged = `${dir}/damaged`;
      Deno.mkdirSync(damaged);
      for (const name of listing(`${db}/embeddings.lance/data`)) {
        Deno.mkdirSync(`${damaged}/data`, { recursive: true });
        Deno.writeFileSync(`${damaged}/data/${name}`, new Uint8Array(100));
      }
      Deno.removeSync(`${db}/embeddings.lance/data`, { recursive: true });
      Deno.renameSync(`${damaged}/data`, `${db}/embeddings.lance/data`);
      assertUsageError(
        await cli("search", [...base, "--query", queries, "--exact"]),
        /cannot search table "embeddings" in .*: /,
      );
      Deno.removeSync(`${db}/embeddings.lance/_versions`, { recursive: true });
      const broken = snapshot(db);
      assertUsageError(
        await cli("index", [...base, "--data", data]),
        /table "embeddings" in .* is damaged or unreadable: .*not found/,
      );
      assert.deepEqual(snapshot(db), broken, "a damaged table is left as it was");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
