/**
 * Embedding many rows with a model: forward only, in fixed-size chunks (one compiled graph per model,
 * backend and chunk size; the last chunk is padded), returning the embeddings on the host.
 */
import { MagnetInputError } from "../errors.ts";
import type { Backend, Executable } from "../backend/backend.ts";
import { Graph } from "../graph/tensor.ts";
import { compileOnce } from "../backend/compile_once.ts";
import { Pacer, type WorkOptions } from "../util/work.ts";
import type { Model } from "./model.ts";
import { type Features, rowCount, rowSource } from "../data/row_source.ts";

/** Rows per chunk at most, unless told otherwise: large enough to amortise a dispatch. */
export const DEFAULT_CHUNK_ROWS = 2048;

/**
 * The most values one intermediate of a chunk may hold by default (16 Mi float32, 64 MiB): a
 * CNN's image windows take 56,448 values per 28x28 image, so 2,048 images at once would need
 * 460 MB for that one tensor, where 297 need 64 MiB and run as fast.
 */
const MAX_CHUNK_VALUES = 16 * 1024 * 1024;

/** Rows per chunk for `model`: {@link DEFAULT_CHUNK_ROWS}, fewer when its intermediates are wide. */
export function chunkRowsFor(model: Model): number {
  // The forward graphs of one and of two rows: what a node grows by is what each row adds to it
  // (weights do not grow), and the largest growth is what a chunk multiplies.
  const sizes = [1, 2].map((rows) => {
    const g = new Graph();
    model.forward(g.input("x", [rows, model.inputDim]));
    return g.nodes.map((node) => node.size);
  });
  let widest = 1;
  sizes[0].forEach((one, i) => (widest = Math.max(widest, sizes[1][i] - one)));
  return Math.max(1, Math.min(DEFAULT_CHUNK_ROWS, Math.floor(MAX_CHUNK_VALUES / widest)));
}

function executableFor(backend: Backend, model: Model, rows: number): Promise<Executable> {
  return compileOnce(backend, model, `embed ${rows}`, () => {
    const g = new Graph();
    return backend.compile({ outputs: [model.forward(g.input("x", [rows, model.inputDim]))] });
  });
}

/** Options of {@link embed}: its progress ("embedding", in rows), its signal, its chunk size. */
export interface EmbedOptions extends WorkOptions {
  /** Rows per chunk (default: {@link chunkRowsFor} the model). */
  readonly chunkRows?: number;
}

/**
 * The embeddings (n x model.outputDim) of `rows` (n x model.inputDim: a row-major table, or a
 * source that makes the rows chunk by chunk) under the model's current parameters on `backend`.
 * `options` may be the chunk size alone. Progress is reported per chunk; an aborted signal stops
 * it at the next chunk with an `AbortedError`.
 */
export async function embed(
  backend: Backend,
  model: Model,
  rows: Features,
  options: number | EmbedOptions = {},
): Promise<Float32Array> {
  const opts: EmbedOptions = typeof options === "number" ? { chunkRows: options } : options;
  const inDim = model.inputDim, outDim = model.outputDim;
  if (rows instanceof Float32Array ? rows.length % inDim !== 0 : rows.dim !== inDim) {
    const found = rows instanceof Float32Array
      ? `${rows.length} values, not a multiple of`
      : `${rows.dim} values per row, not`;
    throw new MagnetInputError(
      `rows to embed have ${found} the model's input width ${inDim}`,
    );
  }
  const source = rowSource(rows, inDim);
  const n = rowCount(rows, inDim);
  const out = new Float32Array(n * outDim);
  if (n === 0) return out;
  const pacer = new Pacer(opts, "embedding");
  pacer.check();
  const chunk = Math.min(opts.chunkRows ?? chunkRowsFor(model), n);
  const exe = await executableFor(backend, model, chunk);
  const buffer = new Float32Array(chunk * inDim);
  const launch = (start: number) => {
    const count = Math.min(chunk, n - start);
    let x = source.range(start, count, buffer);
    if (count < chunk) {
      if (x !== buffer) buffer.set(x);
      buffer.fill(0, count * inDim);
      x = buffer;
    }
    // The backend copies the feed when the run is queued, so `buffer` may be reused at once.
    const run = exe.run({ x }).then(([y]) =>
      out.set(y.subarray(0, count * outDim), start * outDim)
    );
    // A failure is reported where the run is awaited; this only keeps a run queued behind a failed
    // or stopped one from ending as an unhandled rejection.
    run.catch(() => {});
    return run;
  };
  // One chunk queued ahead of the one awaited: a GPU computes the next while the host takes the
  // last; each awaited chunk reports progress and may stop the work.
  let pending = launch(0);
  for (let start = 0; start < n; start += chunk) {
    const current = pending;
    if (start + chunk < n) pending = launch(start + chunk);
    await current;
    await pacer.tick({ stage: "embedding", done: Math.min(n, start + chunk), total: n });
  }
  return out;
}
