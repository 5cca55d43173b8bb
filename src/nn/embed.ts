/**
 * Embedding many rows with a model: forward only, in fixed-size chunks (one compiled graph per model,
 * backend and chunk size; the last chunk is padded), returning the embeddings on the host.
 */
import { MagnetInputError } from "../errors.ts";
import type { Backend, Executable } from "../backend/backend.ts";
import { Graph } from "../graph/tensor.ts";
import { compileOnce } from "../backend/compile_once.ts";
import type { Model } from "./model.ts";

/** Rows per chunk unless told otherwise: large enough to amortise a dispatch, small in memory. */
export const DEFAULT_CHUNK_ROWS = 2048;

function executableFor(backend: Backend, model: Model, rows: number): Promise<Executable> {
  return compileOnce(backend, model, `embed ${rows}`, () => {
    const g = new Graph();
    return backend.compile({ outputs: [model.forward(g.input("x", [rows, model.inputDim]))] });
  });
}

/**
 * The embeddings (n x model.outputDim) of `rows` (n x model.inputDim, row-major) under the model's
 * current parameters on `backend`.
 */
export async function embed(
  backend: Backend,
  model: Model,
  rows: Float32Array,
  chunkRows: number = DEFAULT_CHUNK_ROWS,
): Promise<Float32Array> {
  const inDim = model.inputDim, outDim = model.outputDim;
  if (rows.length % inDim !== 0) {
    throw new MagnetInputError(
      `rows to embed have ${rows.length} values, not a multiple of the model's input width ${inDim}`,
    );
  }
  const n = rows.length / inDim;
  const out = new Float32Array(n * outDim);
  if (n === 0) return out;
  const chunk = Math.min(chunkRows, n);
  const exe = await executableFor(backend, model, chunk);
  const padded = new Float32Array(chunk * inDim);
  const pending: Promise<void>[] = [];
  for (let start = 0; start < n; start += chunk) {
    const count = Math.min(chunk, n - start);
    let x = rows.subarray(start * inDim, (start + count) * inDim);
    if (count < chunk) {
      padded.fill(0);
      padded.set(x);
      x = padded;
    }
    // Queued without waiting: the backend copies the feed when the run is queued.
    pending.push(
      exe.run({ x }).then(([y]) => out.set(y.subarray(0, count * outDim), start * outDim)),
    );
  }
  await Promise.all(pending);
  return out;
}
