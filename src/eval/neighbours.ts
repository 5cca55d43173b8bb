/**
 * Exact k-nearest-neighbour search under squared Euclidean distance.
 *
 * Everything runs on a {@link Backend}, one chunk of queries at a time: the chunk's distances to
 * every reference (one matrix product of augmented rows: see searchEntry), the k smallest of each
 * row ({@link argSmallestK}) and their distances ({@link takeAlongRows}); only those come back to
 * the host. Everything the evaluation metrics in this folder need (kNN classification, retrieval
 * metrics) starts here.
 */
import { MagnetInputError } from "../errors.ts";
import type { Backend, Executable } from "../backend/backend.ts";
import {
  add,
  argSmallestK,
  gather,
  matmul,
  maximum,
  mul,
  square,
  sub,
  sum,
  takeAlongRows,
} from "../graph/ops.ts";
import { Graph, type Tensor, Variable } from "../graph/tensor.ts";
import { compileOnce } from "../backend/compile_once.ts";
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
 * come from |q|^2 + |r|^2 - 2 q.r in float32 (both sets moved by the first reference; returned
 * clamped at 0), so two references whose true distances differ by less than float32 rounding of
 * those terms can swap places; the result is exact for data whose products are exact in float32
 * (small integers, say).
 *
 * Each call uploads the references once; the compiled graph and its buffers are kept per backend and
 * shape, so repeated evaluation (every few training iterations) allocates nothing new on the device.
 * Distances that overflow to NaN rank and read as +Infinity.
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

  // Excluding self selects one more and drops the query's own column, or else the last one: the k
  // smallest of the others either way, in the same order.
  const picked = excludeSelf ? k + 1 : k;
  const entry = await searchEntry(backend, chunk, nRef, dim, picked);
  // Calls that share an entry share its reference variable: run them one after the other.
  const previous = entry.lock;
  let release!: () => void;
  entry.lock = new Promise((resolve) => (release = resolve));
  await previous;
  try {
    const exe = entry.executable;
    backend.writeVariable(entry.references, references);
    await entry.prepare.run();
    const padded = nQuery % chunk === 0 ? null : new Float32Array(chunk * dim);
    const feed = (c: number): Float32Array => {
      const start = c * chunk;
      const rows = Math.min(chunk, nQuery - start);
      const view = queries.subarray(start * dim, (start + rows) * dim);
      if (rows === chunk) return view;
      padded!.set(view);
      return padded!;
    };
    const indices = new Int32Array(k), distances = new Float32Array(k);
    // Keep one chunk in flight while the host hands out the previous one's neighbours: on WebGPU
    // the device computes chunk c + 1 meanwhile.
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
      const [columns, values] = (await current) as [Int32Array, Float32Array];
      const start = c * chunk;
      const rows = Math.min(chunk, nQuery - start);
      if (!excludeSelf) {
        // Every picked column is kept: each query gets views of its row of the chunk's results,
        // read as they are but for NaN (an overflowed distance), which reads as +Infinity.
        for (let i = 0, n = rows * picked; i < n; i++) {
          if (values[i] !== values[i]) values[i] = Infinity;
        }
      }
      for (let r = 0; r < rows; r++) {
        const q = start + r;
        if (!excludeSelf) {
          const from = r * picked;
          sink(q, columns.subarray(from, from + k), values.subarray(from, from + k));
        } else {
          let to = 0;
          for (let i = r * picked; to < k; i++) {
            if (columns[i] === q) continue;
            indices[to] = columns[i];
            const d = values[i];
            distances[to++] = d === d ? d : Infinity;
          }
          sink(q, indices, distances);
        }
        // The sink may take a while per query (a large k): stop within a chunk.
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

/**
 * A compiled search for one (chunk, nRef, dim, k): the variable that holds the references, a graph
 * that prepares them once per call, and the graph run per chunk of queries.
 */
interface SearchEntry {
  references: Variable;
  prepare: Executable;
  executable: Executable;
  /** Settles when the last call that took this entry is done with it. */
  lock: Promise<void>;
}

const SCOPE = {};

/**
 * The search graphs for a shape, compiled once per backend (see compileOnce). Distances are
 * |q - c|^2 + |r - c|^2 - 2 (q - c).(r - c), with c the first reference (moving both sets by a row
 * of the data changes no distance, keeps exact data exact, and spares rows far from the origin the
 * cancellation of large squares), computed as one product of augmented rows,
 * [q - c, 1, |q - c|^2] . [-2 (r - c), |r - c|^2, 1]: the references' side is prepared once per
 * call, and each chunk's distances come out of the product with nothing left to add. They are
 * selected as they are (a tie at 0 may round to either side of it) and clamped at 0 when read.
 */
function searchEntry(
  backend: Backend,
  chunk: number,
  nRef: number,
  dim: number,
  k: number,
): Promise<SearchEntry> {
  const key = `${chunk}x${nRef}x${dim} k ${k}`;
  return compileOnce(backend, SCOPE, key, async () => {
    const references = new Variable(`neighbour references ${key}`, [nRef, dim]);
    const centre = new Variable(`neighbour centre ${key}`, [1, dim]);
    const augmented = new Variable(`neighbour augmented references ${key}`, [nRef, dim + 2]);
    // [x | a | b] from x [rows, dim] and the columns a, b [rows, 1] (either may be a scalar).
    const widen = (x: Tensor, a: Tensor | number, b: Tensor | number): Tensor => {
      const g = x.graph;
      const place = new Float64Array(dim * (dim + 2));
      for (let i = 0; i < dim; i++) place[i * (dim + 2) + i] = 1;
      const column = (j: number) =>
        g.constant(Array.from({ length: dim + 2 }, (_, i) => (i === j ? 1 : 0)), [1, dim + 2]);
      const spread = matmul(x, g.constant(place, [dim, dim + 2]));
      return add(add(spread, mul(a, column(dim))), mul(b, column(dim + 1)));
    };

    const p = new Graph();
    const refs = p.variable(references);
    const c = gather(refs, p.constant([0], [1], "int32"));
    const centred = sub(refs, c);
    const prepare = await backend.compile({
      updates: [
        [centre, c],
        [augmented, widen(mul(centred, -2), sum(square(centred), 1, true), 1)],
      ],
    });

    const g = new Graph();
    const q = sub(g.input("queries", [chunk, dim]), g.variable(centre));
    const d = matmul(widen(q, 1, sum(square(q), 1, true)), g.variable(augmented), false, true);
    const columns = argSmallestK(d, k);
    const distances = maximum(takeAlongRows(d, columns), 0);
    const executable = await backend.compile({ outputs: [columns, distances] });
    return { references, prepare, executable, lock: Promise.resolve() };
  });
}
