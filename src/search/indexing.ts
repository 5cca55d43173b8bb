/**
 * Filling a table with a model's embeddings of a collection: the rows not yet in the table (known by
 * their source and id or row number) are embedded in batches, each batch added in one commit, so a
 * run that is stopped (a signal, a crash, a kill) leaves whole batches only, and running it again
 * continues where it stopped; new rows of a grown file are added the same way. Then the table's
 * files are compacted and, once it is large enough, an approximate index is built or updated.
 */
import { type Features, rowSource } from "../data/row_source.ts";
import { MagnetInputError } from "../errors.ts";
import type { Backend } from "../backend/backend.ts";
import { embedRows, type SavedModel } from "../train/saved_model.ts";
import {
  type EmbeddingTable,
  rowKey,
  type VectorIndexInfo,
  type VectorIndexSettings,
} from "./embedding_table.ts";

/** Rows per commit unless told otherwise. */
export const DEFAULT_BATCH_ROWS = 4096;

/**
 * Rows from which an approximate index is built unless told otherwise. Below it an exact search
 * (every row compared) costs a few milliseconds per query at the embedding widths used here, and
 * the index's k-means and quantizers have too few rows to learn from.
 */
export const DEFAULT_INDEX_THRESHOLD = 10_000;

/** The approximate index built unless told otherwise. */
export const DEFAULT_INDEX: VectorIndexSettings = { kind: "ivf-hnsw-sq" };

/** Rows to put in a table. */
export interface RowsToIndex {
  /**
   * Raw rows (n x the model's input width), as the loaders give them: a table, or a source that
   * makes them (image files).
   */
  features: Features;
  /** Each row's number in its source (default 1 to n). */
  rows?: Int32Array;
  /** Each row's id (an image's path, an id column's value), when the source has them. */
  ids?: readonly string[] | null;
  /** Each row's class name, when known. */
  labels?: readonly (string | null)[] | null;
  /** The data the rows come from (a file's absolute path, say). */
  source: string;
}

/** Progress of {@link indexRows}. */
export interface IndexProgress {
  /** Rows added so far by this run. */
  added: number;
  /** Rows this run adds in all. */
  total: number;
  /** Rows of the source found in the table already (skipped). */
  skipped: number;
}

/** Options of {@link indexRows}. */
export interface IndexRowsOptions {
  /** Rows per commit (default {@link DEFAULT_BATCH_ROWS}). */
  batchRows?: number;
  /** Stops at the next commit when aborted. */
  signal?: AbortSignal;
  /** Told after each commit. */
  onProgress?: (progress: IndexProgress) => void;
}

/** What {@link indexRows} did. */
export interface IndexRowsResult extends IndexProgress {
  /** Whether the signal stopped it before every row was added. */
  interrupted: boolean;
  /** Seconds spent embedding. */
  embedSeconds: number;
  /**
   * Seconds spent waiting for writes: each batch is written while the next one is embedded, so this
   * is the time writing added.
   */
  writeWaitSeconds: number;
}

/** Adds the rows of `data` that `table` lacks, embedded by `saved` on `backend`. */
export async function indexRows(
  backend: Backend,
  saved: SavedModel,
  table: EmbeddingTable,
  data: RowsToIndex,
  options: IndexRowsOptions = {},
): Promise<IndexRowsResult> {
  const inputDim = saved.model.inputDim;
  const values = data.features instanceof Float32Array
    ? data.features.length
    : data.features.count * data.features.dim;
  if (
    values % inputDim !== 0 ||
    !(data.features instanceof Float32Array || data.features.dim === inputDim)
  ) {
    throw new MagnetInputError(
      `${data.source}: ${values} values are not rows of the model's ${inputDim} features`,
    );
  }
  const source = rowSource(data.features, inputDim);
  const n = source.count;
  const rows = data.rows ?? Int32Array.from({ length: n }, (_, i) => i + 1);
  for (const [what, list] of [["row numbers", rows], ["ids", data.ids], ["labels", data.labels]]) {
    if (list != null && list.length !== n) {
      throw new MagnetInputError(`${data.source}: ${list.length} ${what} for ${n} rows`);
    }
  }
  const batchRows = options.batchRows ?? DEFAULT_BATCH_ROWS;
  if (!Number.isInteger(batchRows) || batchRows < 1) {
    throw new MagnetInputError(`rows per batch must be a positive integer, got ${batchRows}`);
  }
  const present = await table.keysOf(data.source);
  const todo: number[] = [];
  for (let i = 0; i < n; i++) {
    if (!present.has(rowKey(data.ids?.[i] ?? null, rows[i]))) todo.push(i);
  }
  const progress: IndexProgress = { added: 0, total: todo.length, skipped: n - todo.length };
  let embedSeconds = 0, writeWaitSeconds = 0;
  // The next batch is embedded while the last one is written.
  let writing: Promise<void> | null = null;
  const finishWrite = async () => {
    if (writing === null) return;
    const t0 = performance.now();
    await writing;
    writeWaitSeconds += (performance.now() - t0) / 1000;
    writing = null;
  };
  let interrupted = false;
  for (let start = 0; start < todo.length; start += batchRows) {
    if (options.signal?.aborted) {
      interrupted = true;
      break;
    }
    const batch = todo.slice(start, start + batchRows);
    const features = new Float32Array(batch.length * inputDim);
    source.gather(batch, features);
    const t0 = performance.now();
    const embeddings = await embedRows(backend, saved, features);
    embedSeconds += (performance.now() - t0) / 1000;
    await finishWrite();
    writing = table.add({
      embeddings,
      rows: Int32Array.from(batch, (r) => rows[r]),
      ids: data.ids ? batch.map((r) => data.ids![r]) : null,
      labels: data.labels ? batch.map((r) => data.labels![r]) : null,
      source: data.source,
    }).then(() => {
      progress.added += batch.length;
      options.onProgress?.({ ...progress });
    });
    // A failed write is reported where it is awaited; this only keeps it from going unhandled.
    writing.catch(() => {});
  }
  await finishWrite();
  return { ...progress, interrupted, embedSeconds, writeWaitSeconds };
}

/** What {@link maintainTable} did. */
export interface MaintainResult {
  /** The approximate index after it: null when the table has none. */
  index: VectorIndexInfo | null;
  /** Whether it built the index (rather than keeping or updating one). */
  built: boolean;
}

/**
 * Compacts `table` (the small files of many commits become a few) and keeps its approximate index:
 * `index` is built when the table has none and holds at least `threshold` rows, or when `rebuild`
 * says so; rows added since an index was built are added to it. `index` null: none is built.
 */
export async function maintainTable(
  table: EmbeddingTable,
  index: VectorIndexSettings | null,
  options: {
    threshold?: number;
    rebuild?: boolean;
    /** Told what is about to happen (compaction, building the index), for progress lines. */
    onStep?: (step: string) => void;
  } = {},
): Promise<MaintainResult> {
  options.onStep?.("compacting the table's files (and adding new rows to its index)");
  await table.optimize();
  let info = await table.vectorIndex();
  const threshold = options.threshold ?? DEFAULT_INDEX_THRESHOLD;
  const rows = await table.count();
  const wanted = index !== null &&
    (options.rebuild === true || (info === null && rows >= threshold));
  if (wanted) {
    options.onStep?.(`building the ${index.kind} index over ${rows} rows`);
    await table.buildVectorIndex(index);
    info = await table.vectorIndex();
  }
  return { index: info, built: wanted };
}
