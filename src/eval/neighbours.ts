/**
 * Exact k-nearest-neighbour search under squared Euclidean distance.
 *
 * The distances are computed on a {@link Backend} (one matrix product per chunk of queries, through
 * {@link squaredDistances}); the k smallest of each row are picked on the host. Everything the
 * evaluation metrics in this folder need (kNN classification, retrieval metrics) starts here.
 */
import { MagnetInputError } from "../errors.ts";
import type { Backend, Executable, FloatArray } from "../backend/backend.ts";
import { squaredDistances } from "../graph/functions.ts";
import { Graph, Variable } from "../graph/tensor.ts";
import { compileOnce } from "../backend/compile_once.ts";
import { TopK } from "./top_k.ts";
import { Pacer, type WorkOptions } from "../util/work.ts";

/** The k nearest references of every query, nearest first. */
export interface Neighbours {
  /** Neighbours kept per query. */
  k: number;
  /** Reference row indices, `nQuery x k` row-major, nearest first. */
  indices: Int32Array;
  /** Squared Euclidean distances matching {@link Neighbours.indices}, `nQuery x k`. */
  distances: Float32Array;
}

/**
 * Options of {@link nearestNeighbours}. Progress is "searching", in queries done; an aborted
 * signal stops the search between chunks.
 */
export interface NeighbourOptions extends WorkOptions {
  /**
   * The queries and the references are the same rows (same count, same order): query i never gets
   * reference i as a neighbour, so k can be at most `nRef - 1`.
   */
  excludeSelf?: boolean;
  /**
   * Upper bound, in bytes, on the `[chunk, nRef]` float32 distance block computed per backend run;
   * queries are split into as many equal chunks as that needs. Default
   * {@link DEFAULT_MAX_BLOCK_BYTES} on WebGPU, {@link CPU_MAX_BLOCK_BYTES} on the CPU.
   */
  maxBlockBytes?: number;
}

/** The default bound on one chunk's distance block on WebGPU: few waits for the device. */
export const DEFAULT_MAX_BLOCK_BYTES = 64 * 1024 * 1024;

/**
 * The default bound on the CPU, where a chunk runs on the caller's thread and nothing else (a
 * signal handler, a timer) runs until it is done: 16 MiB keeps that under a second on a loaded
 * 2-core machine (64 MiB blocks took up to 7 s), and the smaller blocks stay in cache (3,000
 * queries among 30,000 references, k = 3,000: 11.9 s against 18.9 s with 64 MiB, loaded).
 */
export const CPU_MAX_BLOCK_BYTES = 16 * 1024 * 1024;

/**
 * Finds, for every row of `queries`, the `k` nearest rows of `references` by squared Euclidean
 * distance. Both arrays are row-major with `dim` columns.
 *
 * Ordering is by distance, then by reference index: equal distances always come out lowest index
 * first, so the result is deterministic on every backend that computes the same distances. Distances
 * come from |q|^2 + |r|^2 - 2 q.r in float32 (clamped at 0), so two references whose true distances
 * differ by less than float32 rounding of those terms can swap places; the result is exact for data
 * whose products are exact in float32 (small integers, say).
 *
 * Each call uploads the references once; the compiled graph and its buffers are kept per backend and
 * shape, so repeated evaluation (every few training iterations) allocates nothing new on the device.
 *
 * @throws {MagnetInputError} when the shapes disagree, a value is not finite, or k is out of range.
 *
 * @example
 * ```ts
 * import { createBackend } from "../backend/create.ts";
 *
 * const backend = await createBackend({ kind: "cpu" });
 * const refs = new Float32Array([0, 0, 1, 0, 5, 5]); // three 2-d rows
 * const nn = await nearestNeighbours(backend, new Float32Array([0.9, 0]), refs, 2, 2);
 * // nn.indices = [1, 0], nn.distances = [0.01, 0.81]
 * backend.dispose();
 * ```
 */
export async function nearestNeighbours(
  backend: Backend,
  queries: Float32Array,
  references: Float32Array,
  dim: number,
  k: number,
  options: NeighbourOptions = {},
): Promise<Neighbours> {
  const search = prepareSearch(backend.kind, queries, references, dim, k, options);
  const indices = new Int32Array(search.nQuery * k);
  const distances = new Float32Array(search.nQuery * k);
  await runSearch(backend, search, (q, i, d) => {
    indices.set(i, q * k);
    distances.set(d, q * k);
  });
  return { k, indices, distances };
}

/**
 * Receives each query's k nearest references, nearest first: `indices` and `distances` are views
 * valid only during the call (copy what must be kept).
 */
export type NeighbourSink = (query: number, indices: Int32Array, distances: Float32Array) => void;

/**
 * The search of {@link nearestNeighbours}, streamed: each query's neighbours go to `sink` as soon as
 * its chunk is done, in query order, so a caller that scores them at once never holds all of them
 * (10,000 queries with k = 6,000 would be 480 MB).
 */
export async function forEachNeighbours(
  backend: Backend,
  queries: Float32Array,
  references: Float32Array,
  dim: number,
  k: number,
  sink: NeighbourSink,
  options: NeighbourOptions = {},
): Promise<void> {
  await runSearch(backend, prepareSearch(backend.kind, queries, references, dim, k, options), sink);
}

/** A checked search. */
interface Search {
  queries: Float32Array;
  references: Float32Array;
  dim: number;
  k: number;
  nQuery: number;
  nRef: number;
  excludeSelf: boolean;
  maxBlockBytes: number;
  work: WorkOptions;
}

/** Checks a search's arguments (every error a MagnetInputError) before anything is allocated. */
function prepareSearch(
  kind: Backend["kind"],
  queries: Float32Array,
  references: Float32Array,
  dim: number,
  k: number,
  options: NeighbourOptions,
): Search {
  const excludeSelf = options.excludeSelf ?? false;
  const maxBlockBytes = options.maxBlockBytes ??
    (kind === "cpu" ? CPU_MAX_BLOCK_BYTES : DEFAULT_MAX_BLOCK_BYTES);
  const { nQuery, nRef } = checkRows(queries, references, dim);
  if (excludeSelf && nQuery !== nRef) {
    throw new MagnetInputError(
      `nearestNeighbours: excludeSelf needs the queries to be the references, got ${nQuery} ` +
        `query rows and ${nRef} reference rows`,
    );
  }
  const available = excludeSelf ? nRef - 1 : nRef;
  if (!Number.isInteger(k) || k < 1 || k > available) {
    throw new MagnetInputError(
      `nearestNeighbours: k must be an integer in [1, ${available}] for ${nRef} references` +
        `${excludeSelf ? " excluding self" : ""}, got ${k}`,
    );
  }
  if (!(maxBlockBytes > 0)) {
    throw new MagnetInputError(
      `nearestNeighbours: maxBlockBytes must be positive, got ${maxBlockBytes}`,
    );
  }
  return { queries, references, dim, k, nQuery, nRef, excludeSelf, maxBlockBytes, work: options };
}

async function runSearch(backend: Backend, search: Search, sink: NeighbourSink): Promise<void> {
  const { queries, references, dim, k, nQuery, nRef, excludeSelf, maxBlockBytes } = search;
  if (nQuery === 0) return;
  const pacer = new Pacer(search.work, "the neighbour search");
  pacer.check();

  // Equal chunks rather than full ones plus a remainder: the last chunk is padded to the same shape,
  // so one compiled graph serves the whole call and the padding wastes fewer than numChunks rows.
  const maxRows = Math.max(1, Math.floor(maxBlockBytes / (4 * nRef)));
  const numChunks = Math.ceil(nQuery / maxRows);
  const chunk = Math.ceil(nQuery / numChunks);

  const entry = await searchEntry(backend, chunk, nRef, dim);
  // Calls that share an entry share its reference variable: run them one after the other.
  const previous = entry.lock;
  let release!: () => void;
  entry.lock = new Promise((resolve) => (release = resolve));
  await previous;
  try {
    const exe = entry.executable;
    backend.writeVariable(entry.references, references);
    const padded = nQuery % chunk === 0 ? null : new Float32Array(chunk * dim);
    const feed = (c: number): Float32Array => {
      const start = c * chunk;
      const rows = Math.min(chunk, nQuery - start);
      const view = queries.subarray(start * dim, (start + rows) * dim);
      if (rows === chunk) return view;
      padded!.set(view);
      return padded!;
    };
    const selector = new TopK(k);
    const indices = new Int32Array(k), distances = new Float32Array(k);
    // Keep one chunk in flight while the host selects from the previous one: on WebGPU the device
    // computes chunk c + 1 while the CPU works through chunk c.
    const launch = (c: number) => {
      const run = exe.run({ queries: feed(c) });
      // A failure is reported where the run is awaited; this only keeps a run queued behind a
      // failed one from ending as an unhandled rejection.
      run.catch(() => {});
      return run;
    };
    let pending = launch(0);
    for (let c = 0; c < numChunks; c++) {
      const current = pending;
      if (c + 1 < numChunks) pending = launch(c + 1);
      const block = (await current)[0] as FloatArray;
      const start = c * chunk;
      const rows = Math.min(chunk, nQuery - start);
      for (let r = 0; r < rows; r++) {
        const q = start + r;
        selector.select(block, r * nRef, nRef, excludeSelf ? q : -1, indices, distances, 0);
        sink(q, indices, distances);
        // A chunk of queries with a large k takes a while on the host: stop within it.
        await pacer.tick();
      }
      await pacer.tick({ stage: "searching", done: start + rows, total: nQuery });
    }
  } finally {
    release();
  }
}

/** Checks the row layout and values shared by every search; returns the row counts. */
function checkRows(
  queries: Float32Array,
  references: Float32Array,
  dim: number,
): { nQuery: number; nRef: number } {
  if (!Number.isInteger(dim) || dim < 1) {
    throw new MagnetInputError(`nearestNeighbours: dim must be a positive integer, got ${dim}`);
  }
  for (const [what, data] of [["queries", queries], ["references", references]] as const) {
    if (data.length % dim !== 0) {
      throw new MagnetInputError(
        `nearestNeighbours: ${what} hold ${data.length} values, not a whole number of rows of ` +
          `${dim}`,
      );
    }
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) {
        throw new MagnetInputError(
          `nearestNeighbours: ${what} row ${Math.floor(i / dim)}, column ${i % dim} is ` +
            `${data[i]}; embeddings must be finite`,
        );
      }
    }
  }
  const nRef = references.length / dim;
  if (nRef === 0) throw new MagnetInputError("nearestNeighbours: there are no reference rows");
  return { nQuery: queries.length / dim, nRef };
}

/** A compiled distance graph for one (chunk, nRef, dim) and the variable that holds the references. */
interface SearchEntry {
  references: Variable;
  executable: Executable;
  /** Settles when the last call that took this entry is done with it. */
  lock: Promise<void>;
}

const SCOPE = {};

/** The search graph for a shape, compiled once per backend (see compileOnce). */
function searchEntry(
  backend: Backend,
  chunk: number,
  nRef: number,
  dim: number,
): Promise<SearchEntry> {
  const key = `${chunk}x${nRef}x${dim}`;
  return compileOnce(backend, SCOPE, key, async () => {
    const g = new Graph();
    const references = new Variable(`neighbour references ${key}`, [nRef, dim]);
    const q = g.input("queries", [chunk, dim]);
    const d = squaredDistances(q, g.variable(references));
    const executable = await backend.compile({ outputs: [d] });
    return { references, executable, lock: Promise.resolve() };
  });
}
