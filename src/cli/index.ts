/**
 * `deno task index`: embeds a collection with a saved model and writes the embeddings to a LanceDB
 * table (a folder, or object storage), with each row's id or row number, its label when known and
 * the model's identity. Rows already in the table are skipped, so a stopped run continues and a
 * grown file adds only its new rows; once the table is large enough an approximate index is built.
 */
import { openBackend } from "./backend.ts";
import type { Backend } from "../backend/backend.ts";
import {
  DEFAULT_TABLE,
  type EmbeddingTable,
  type VectorIndexSettings,
} from "../search/embedding_table.ts";
import {
  DEFAULT_BATCH_ROWS,
  DEFAULT_INDEX,
  DEFAULT_INDEX_THRESHOLD,
  indexRows,
  maintainTable,
} from "../search/indexing.ts";
import { openEmbeddingTable } from "../search/search.ts";
import {
  backendFlags,
  type FlagFacts,
  type FlagSpec,
  type FlagValues,
  helpText,
  intFlag,
  parseFlags,
  reportFailure,
  UsageError,
} from "./args.ts";
import { dbLocation, isUri } from "./db_location.ts";
import { FileLock } from "./file_lock.ts";
import { IMAGE_INPUT_FLAGS, inputFacts, loadModelFlag, readRowsFor } from "./model_input.ts";
import { formatDuration, ProgressPrinter } from "./progress.ts";
import { absolutePath } from "./run_folder.ts";
import { StopSignals } from "./signals.ts";

const INDEX_CHOICES = ["auto", "ivf-hnsw-sq", "ivf-pq", "ivf-hnsw-pq", "ivf-flat", "none"] as const;

/** The flags of `deno task index` (see `FlagSpec`). */
export const INDEX_FLAGS: Readonly<Record<string, FlagSpec>> = {
  "model": {
    kind: "string",
    help: "run folder holding model.json (or the model.json file itself)",
  },
  "data": {
    kind: "string",
    help: "rows to embed: a CSV file with the model's feature columns, an IDX file of images, or " +
      "(for a model trained on image files) a folder of images or an image file",
  },
  "db": {
    kind: "string",
    help: "LanceDB database: a folder (made if needed) or an object-store URI (s3://bucket/path, " +
      "gs://..., az://...)",
  },
  "table": { kind: "string", default: DEFAULT_TABLE, help: "table name" },
  "label-column": {
    kind: "string",
    default: "the model's training label column, else label",
    help: "CSV: optional label column to keep",
    needs: { input: ["rows"] },
    why: "names a CSV column (image files have none)",
  },
  "batch-rows": {
    kind: "int",
    default: String(DEFAULT_BATCH_ROWS),
    help: "rows per commit (each a table version)",
  },
  "index": {
    kind: "choice",
    default: "auto",
    choices: INDEX_CHOICES,
    help: `approximate index: auto builds ${DEFAULT_INDEX.kind} once the table has ` +
      "--index-threshold rows " +
      "(an existing one is kept up to date); a kind builds or rebuilds that one now; none builds none",
  },
  "index-threshold": {
    kind: "int",
    default: String(DEFAULT_INDEX_THRESHOLD),
    help: "auto: rows from which the approximate index is built",
    needs: { index: ["auto"] },
    why: "says when auto builds the index",
  },
  "partitions": {
    kind: "int",
    default: "LanceDB's",
    help: "index: IVF partitions",
    needs: { "index-kind": ["ivf-hnsw-sq", "ivf-pq", "ivf-hnsw-pq", "ivf-flat"] },
    why: "sets an IVF index's partitions",
  },
  "sub-vectors": {
    kind: "int",
    default: "LanceDB's",
    help: "ivf-pq, ivf-hnsw-pq: PQ sub-vectors",
    needs: { "index-kind": ["ivf-pq", "ivf-hnsw-pq"] },
    why: "sets a PQ index's sub-vectors",
  },
  "hnsw-m": {
    kind: "int",
    default: "20",
    help: "ivf-hnsw-*: neighbours per graph node",
    needs: { "index-kind": ["ivf-hnsw-sq", "ivf-hnsw-pq"] },
    why: "sets an HNSW graph's neighbours",
  },
  "ef-construction": {
    kind: "int",
    default: "300",
    help: "ivf-hnsw-*: candidates while building the graph",
    needs: { "index-kind": ["ivf-hnsw-sq", "ivf-hnsw-pq"] },
    why: "tunes an HNSW graph's building",
  },
  ...backendFlags(),
  ...IMAGE_INPUT_FLAGS,
  "quiet": { kind: "flag", help: "print only the summary" },
  "help": { kind: "flag", help: "show this help" },
};

/**
 * What the flags' rules need beyond the flags' values: whether --data is image files (`input`),
 * and the kind of index that will be built (`index-kind`: --index, with auto's own kind).
 */
function indexFacts(v: FlagValues): FlagFacts {
  const kind = (v.index as string | undefined) ?? "auto";
  const resolved = kind === "auto" ? DEFAULT_INDEX.kind : kind;
  const words: Record<string, string> = {};
  for (const choice of INDEX_CHOICES) words[choice] = `--index ${choice}`;
  if (kind === "auto") words[resolved] = `--index auto, which builds ${resolved}`;
  words[resolved] ??= `--index ${kind}`;
  return { ...inputFacts("data")(v), "index-kind": { value: resolved, words } };
}

/** A positive integer flag, or undefined. */
function positive(v: Record<string, unknown>, name: string): number | undefined {
  const text = v[name] as string | undefined;
  if (text === undefined) return undefined;
  const value = intFlag(name, text);
  if (value < 1) throw new UsageError(`--${name} must be at least 1, got ${value}`);
  return value;
}

/** The index settings the flags ask for; flags of another kind of index are refused. */
function indexSettings(v: Record<string, unknown>): VectorIndexSettings | null {
  const kind = (v.index as string | undefined) ?? "auto";
  if (!(INDEX_CHOICES as readonly string[]).includes(kind)) {
    throw new UsageError(`--index must be one of ${INDEX_CHOICES.join(", ")}, got "${kind}"`);
  }
  // Flags of another kind of index the flag table has refused (see indexFacts).
  const resolved = kind === "auto" ? DEFAULT_INDEX.kind : kind;
  if (resolved === "none") return null;
  const settings: VectorIndexSettings = kind === "auto"
    ? { ...DEFAULT_INDEX }
    : { kind: resolved as VectorIndexSettings["kind"] };
  const partitions = positive(v, "partitions"), subVectors = positive(v, "sub-vectors");
  const m = positive(v, "hnsw-m"), efConstruction = positive(v, "ef-construction");
  if (partitions !== undefined) settings.partitions = partitions;
  if (subVectors !== undefined) settings.subVectors = subVectors;
  if (m !== undefined) settings.m = m;
  if (efConstruction !== undefined) settings.efConstruction = efConstruction;
  return settings;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** Runs the command with `args`; returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  let backend: Backend | null = null;
  let table: EmbeddingTable | null = null;
  let lock: FileLock | null = null;
  let signals: StopSignals | null = null;
  try {
    const v = parseFlags(args, INDEX_FLAGS, indexFacts);
    if (v.help === true) {
      console.log(helpText(
        "index",
        "Embeds rows with a saved model into a LanceDB table (continuing where a run stopped).",
        INDEX_FLAGS,
      ));
      return 0;
    }
    for (const name of ["model", "data", "db"]) {
      if (v[name] === undefined) throw new UsageError(`--${name} is required (see --help)`);
    }
    for (const name of ["model", "data", "db", "table", "label-column"]) {
      if ((v[name] as string | undefined)?.trim() === "") {
        throw new UsageError(`--${name} must not be empty`);
      }
    }
    const kind = (v.backend as string | undefined) ?? "auto";
    if (!["auto", "webgpu", "cpu"].includes(kind)) {
      throw new UsageError(`--backend must be one of auto, webgpu, cpu, got "${kind}"`);
    }
    const index = indexSettings(v);
    const rebuild = v.index !== undefined && v.index !== "auto";
    const threshold = v["index-threshold"] === undefined
      ? DEFAULT_INDEX_THRESHOLD
      : intFlag("index-threshold", v["index-threshold"] as string);
    if (threshold < 0) throw new UsageError(`--index-threshold must be >= 0, got ${threshold}`);
    const batchRows = positive(v, "batch-rows") ?? DEFAULT_BATCH_ROWS;
    const threads = positive(v, "threads");
    const db = dbLocation(v.db as string);
    if (!isUri(db)) {
      try {
        if (!Deno.statSync(db).isDirectory) {
          throw new UsageError(`--db ${db} is a file; give a folder (made if missing)`);
        }
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    const dataFile = absolutePath(v.data as string);
    const quiet = v.quiet === true;
    const saved = await loadModelFlag(v.model as string);
    const rows = await readRowsFor(saved, dataFile, {
      labelColumn: v["label-column"] as string | undefined,
      cache: v.cache as string | undefined,
      skipBadImages: v["skip-bad-images"] === true,
    });
    if (!quiet) { for (const note of rows.notes ?? []) console.log(note); }
    backend = await openBackend({ kind: kind as "auto", threads });
    const tableName = (v.table as string | undefined) ?? DEFAULT_TABLE;
    table = await openEmbeddingTable(backend, saved, db, { table: tableName, create: true });
    // Two runs adding to one table would both add the rows neither had found there: one at a time
    // (a folder only; object stores have no file lock to take).
    if (!isUri(db)) {
      lock = await FileLock.take(
        `${db}/.${tableName}.index-lock`,
        (holder) =>
          `table "${tableName}" in ${db} is being indexed by another run${
            holder ? ` (${holder})` : ""
          }: wait for it to end, or index into another --table`,
        (error) => `cannot write to the database folder ${db}: ${(error as Error).message}`,
      );
    }
    const progress = new ProgressPrinter(Deno.stdout.isTerminal(), quiet);
    signals = new StopSignals((signal) =>
      progress.line(`${signal} again: finishing the batch being written, then stopping`)
    );
    const started = performance.now();
    const result = await indexRows(backend, saved, table, {
      features: rows.features,
      rows: rows.rows,
      ids: rows.ids ?? null,
      labels: rows.labels,
      source: dataFile,
    }, {
      batchRows,
      signal: signals.signal,
      onProgress: (p) => {
        const seconds = (performance.now() - started) / 1000;
        const rate = p.added / seconds;
        progress.count(
          p.added,
          p.total,
          "rows",
          `${rate.toFixed(0)} rows/s  ETA ${formatDuration((p.total - p.added) / rate)}`,
        );
      },
    });
    progress.finish();
    const where = `table "${tableName}" in ${db}`;
    const skipped = result.skipped > 0 ? ` (${count(result.skipped)} were there already)` : "";
    if (result.interrupted) {
      console.log(
        `stopped by ${signals.received}: added ${count(result.added)} of ${
          count(result.total)
        } rows of ${dataFile}${skipped} to ${where} (whole batches only); run the same command ` +
          "again to continue",
      );
      return signals.exitCode;
    }
    const indexing = performance.now();
    const kept = await maintainTable(table, index, {
      threshold,
      rebuild,
      onStep: (step) => progress.line(`${step}...`),
    });
    const indexSeconds = (performance.now() - indexing) / 1000;
    const total = await table.count();
    console.log(
      `added ${count(result.added)} rows of ${dataFile}${skipped} to ${where} in ${
        ((indexing - started) / 1000).toFixed(1)
      } s (embedding ${result.embedSeconds.toFixed(1)} s; the writes, done meanwhile, added ${
        result.writeWaitSeconds.toFixed(1)
      } s)`,
    );
    const info = kept.index === null
      ? index === null
        ? "no approximate index (--index none)"
        : `no approximate index yet (built from ${count(threshold)} rows; exact search until then)`
      : `approximate index ${kept.index.type} ${kept.built ? "built" : "kept up to date"} (${
        count(kept.index.indexedRows)
      } rows indexed, ${count(kept.index.unindexedRows)} not yet), ${
        indexSeconds.toFixed(1)
      } s with compaction`;
    console.log(
      `the table holds ${count(total)} rows of ${saved.model.outputDim}-d embeddings (${
        megabytes(await table.sizeBytes())
      }); ${info}`,
    );
    return 0;
  } catch (error) {
    return reportFailure(error);
  } finally {
    signals?.dispose();
    table?.close();
    lock?.release();
    backend?.dispose();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
