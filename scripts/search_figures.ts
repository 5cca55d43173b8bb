/**
 * The search figures of the README, for a model trained on Fashion-MNIST (the default CNN):
 *
 *   deno task train --dataset fashion-mnist --model cnn --out runs/fm-cnn
 *   deno run -A --no-lock scripts/search_figures.ts --model runs/fm-cnn
 *
 * It indexes the 60,000 training images into a fresh LanceDB table in a temporary folder (as
 * `deno task index` does: batches of 4,096 rows, compaction, the default approximate index), then
 * searches the 10,000 test images: the project's own in-memory exact search (the reference),
 * LanceDB's exact (flat) search and its approximate index, each batched (all queries at once for
 * ours, 64 per LanceDB request; LanceDB's flat search answers only the first --flat queries, 1,000,
 * as it is slow) and one query at a time (on the first --single queries, 500); rounds
 * interleave the three so a busy machine slows them alike. It prints recall@10 of each against the
 * reference, queries per second (median of the rounds), the index's build time and size, and the
 * magnet-rule test error through the table beside the training run's own evaluation.
 *
 * (`--no-lock`, as the index and search tasks: LanceDB must not enter the project's lockfile, or every
 * command would fetch it.)
 *
 * Flags: --model RUN (required), --data-dir DIR (Fashion-MNIST's files; default Debian's folder),
 * --rounds N (3), --single N (500), --flat N (1000), --index KIND and --partitions, --sub-vectors, --nprobes,
 * --refine-factor, --ef to try other index settings, --keep DIR to keep the table there.
 */
import { parseArgs } from "node:util";
import { createBackend } from "../src/backend/create.ts";
import { FASHION_MNIST_DIR, FASHION_MNIST_FILES } from "../src/data/fashion_mnist.ts";
import { readRows } from "../src/data/rows.ts";
import { nearestNeighbours } from "../src/eval/neighbours.ts";
import type { Hit, VectorIndexSettings } from "../src/search/embedding_table.ts";
import { DEFAULT_INDEX, indexRows, maintainTable } from "../src/search/indexing.ts";
import { openEmbeddingTable, searchEmbeddings } from "../src/search/search.ts";
import { loadModel } from "../src/train/model_file.ts";
import { embedRows } from "../src/train/saved_model.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: Object.fromEntries(
    [
      "model",
      "data-dir",
      "rounds",
      "single",
      "flat",
      "index",
      "partitions",
      "sub-vectors",
      "nprobes",
      "refine-factor",
      "ef",
      "keep",
    ].map((name) => [name, { type: "string" as const }]),
  ),
});
if (flags.model === undefined) throw new Error("--model RUN is required (see the file's doc)");
const number = (
  name: string,
) => (flags[name as keyof typeof flags] === undefined
  ? undefined
  : Number(flags[name as keyof typeof flags]));
const rounds = number("rounds") ?? 3, single = number("single") ?? 500;
const dataDir = flags["data-dir"] ?? FASHION_MNIST_DIR;
const K = 10;

const load = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
console.log(`machine load average at the start: ${load()}`);
const backend = await createBackend({ kind: "cpu" });
const saved = await loadModel(`${flags.model}/model.json`);
const file = (name: string) => {
  for (const path of [`${dataDir}/${name}`, `${dataDir}/${name.replace(/\.gz$/, "")}`]) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch { /* the other spelling */ }
  }
  throw new Error(`${name} is not in ${dataDir}`);
};
const trainPath = file(FASHION_MNIST_FILES.trainImages);
const train = await readRows(trainPath, { classNames: saved.classNames });
const test = await readRows(file(FASHION_MNIST_FILES.testImages), {
  classNames: saved.classNames,
});
const dim = saved.model.outputDim;

const dir = flags.keep ?? await Deno.makeTempDir({ prefix: "magnet-search-figures-" });
const table = await openEmbeddingTable(backend, saved, dir, { create: true });
let started = performance.now();
const indexed = await indexRows(backend, saved, table, {
  features: train.features,
  rows: train.rows,
  labels: train.labels,
  source: trainPath,
});
const indexSeconds = (performance.now() - started) / 1000;
const settings: VectorIndexSettings = {
  ...(flags.index === undefined
    ? DEFAULT_INDEX
    : { kind: flags.index as VectorIndexSettings["kind"] }),
};
if (number("partitions") !== undefined) settings.partitions = number("partitions");
if (number("sub-vectors") !== undefined) settings.subVectors = number("sub-vectors");
/** Bytes of the files under `path`. */
function bytesUnder(path: string): number {
  let total = 0;
  for (const entry of Deno.readDirSync(path)) {
    const full = `${path}/${entry.name}`;
    total += entry.isDirectory ? bytesUnder(full) : Deno.statSync(full).size;
  }
  return total;
}
started = performance.now();
const kept = await maintainTable(table, settings, { rebuild: true });
const buildSeconds = (performance.now() - started) / 1000;
const rowsBytes = await table.sizeBytes();
const indexBytes = bytesUnder(`${dir}/embeddings.lance/_indices`);
const folderBytes = bytesUnder(dir);

started = performance.now();
const queries = await embedRows(backend, saved, test.features);
const embedSeconds = (performance.now() - started) / 1000;
const nq = queries.length / dim;
const references = await embedRows(backend, saved, train.features);

/** Seconds of `fn`, and its result. */
async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const result = await fn();
  return [(performance.now() - t0) / 1000, result];
}

const searchOptions = {
  k: K,
  nprobes: number("nprobes"),
  refineFactor: number("refine-factor"),
  ef: number("ef"),
};
type Search = (q: Float32Array, batched: boolean) => Promise<unknown>;
const flat = Math.min(number("flat") ?? 1000, nq);
/** Each way to search, and how many of the queries it answers batched (LanceDB's flat: fewer). */
const modes: Record<string, { run: Search; queries: number }> = {
  "magnet, in memory (exact)": {
    queries: nq,
    run: async (q: Float32Array, batched: boolean) => {
      const n = q.length / dim;
      if (batched) return await nearestNeighbours(backend, q, references, dim, K);
      for (let i = 0; i < n; i++) {
        await nearestNeighbours(backend, q.subarray(i * dim, (i + 1) * dim), references, dim, K);
      }
      return null;
    },
  },
  "LanceDB flat (exact)": {
    queries: flat,
    run: (q: Float32Array, batched: boolean) =>
      table.search(q, { k: K, exact: true, batch: batched ? 64 : 1 }),
  },
  [`LanceDB ${kept.index?.type ?? "(no index)"}`]: {
    queries: nq,
    run: (q: Float32Array, batched: boolean) =>
      table.search(q, { ...searchOptions, batch: batched ? 64 : 1 }),
  },
};
const rates: Record<string, { batched: number[]; single: number[] }> = {};
const results: Record<string, unknown> = {};
for (let round = 0; round < rounds; round++) {
  for (const [name, mode] of Object.entries(modes)) {
    rates[name] ??= { batched: [], single: [] };
    const [seconds, result] = await time(() =>
      mode.run(queries.subarray(0, mode.queries * dim), true)
    );
    rates[name].batched.push(mode.queries / seconds);
    results[name] = result;
    const few = queries.subarray(0, single * dim);
    const [oneByOne] = await time(() => mode.run(few, false));
    rates[name].single.push(single / oneByOne);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const exact = results["magnet, in memory (exact)"] as Awaited<ReturnType<typeof nearestNeighbours>>;
const recall = (hits: Hit[][]) => {
  let found = 0;
  hits.forEach((list, q) => {
    const truth = new Set(Array.from(exact.indices.subarray(q * K, q * K + K), (i) => i + 1));
    for (const h of list) if (truth.has(h.row)) found++;
  });
  return found / (hits.length * K);
};

const [, answered] = await time(() =>
  searchEmbeddings(backend, saved, table, queries, searchOptions)
);
let wrong = 0;
answered.forEach((r, q) => {
  if (r.predicted !== test.labels![q]) wrong++;
});
const metrics = JSON.parse(Deno.readTextFileSync(`${flags.model}/metrics.json`));

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
console.log(
  `\nindex ${indexed.added.toLocaleString("en-US")} training images: ${
    indexSeconds.toFixed(1)
  } s (embedding ${indexed.embedSeconds.toFixed(1)} s; the writes, done meanwhile, added ${
    indexed.writeWaitSeconds.toFixed(1)
  } s)`,
);
console.log(
  `compaction and approximate index ${kept.index?.type} (${JSON.stringify(settings)}): ${
    buildSeconds.toFixed(1)
  } s; rows ${mb(rowsBytes)}, index ${mb(indexBytes)}, folder ${mb(folderBytes)} (LanceDB ` +
    "keeps the files of superseded versions for 7 days)",
);
console.log(
  `embedding the ${nq.toLocaleString("en-US")} test queries: ${embedSeconds.toFixed(1)} s`,
);
console.log(
  `\n| search (k = ${K}) | queries | recall@${K} | queries/s, batched | queries/s, one at a time |`,
);
console.log("| --- | --- | --- | --- | --- |");
for (const [name, r] of Object.entries(rates)) {
  const found = name.startsWith("magnet") ? 1 : recall(results[name] as Hit[][]);
  console.log(
    `| ${name} | ${modes[name].queries} | ${found.toFixed(4)} | ${median(r.batched).toFixed(0)} | ${
      median(r.single).toFixed(0)
    } |`,
  );
}
console.log(
  `\nmagnet-rule test error through the table: ${(100 * wrong / nq).toFixed(2)} %; the run's ` +
    `own evaluation: ${(100 * metrics.test.magnetError).toFixed(2)} %`,
);
console.log(`machine load average at the end: ${load()}`);
table.close();
backend.dispose();
if (flags.keep === undefined) await Deno.remove(dir, { recursive: true });
