/**
 * The CPU kernels other than elementwise: reductions, matrix product, gather and segment sum. Each
 * `prepare` function returns a closure bound to its arrays, so a run does no allocation.
 */
import type { Tensor } from "../../graph/tensor.ts";
import type { FloatArray } from "../backend.ts";
import { reductionExtents } from "../layout.ts";
import { matmul } from "./matmul.ts";

/** Any array a CPU kernel reads or writes. */
export type CpuArray = FloatArray | Int32Array;

/** sum / max / argmax of `x` along the node's axis. */
export function reduceKernel(node: Tensor, x: FloatArray, out: CpuArray): () => void {
  const [outer, length, inner] = reductionExtents(node.inputs[0], node.attrs.axis as number);
  if (node.op === "sum") {
    // Accumulate in float64 whatever the storage, so long sums keep their precision.
    const acc = new Float64Array(inner);
    return () => {
      for (let o = 0; o < outer; o++) {
        const base = o * length * inner;
        acc.fill(0);
        for (let r = 0; r < length; r++) {
          const row = base + r * inner;
          for (let i = 0; i < inner; i++) acc[i] += x[row + i];
        }
        out.set(acc, o * inner);
      }
    };
  }
  const arg = node.op === "argmax";
  return () => {
    for (let o = 0; o < outer; o++) {
      const base = o * length * inner;
      for (let i = 0; i < inner; i++) {
        let best = x[base + i], at = 0;
        for (let r = 1; r < length; r++) {
          const v = x[base + r * inner + i];
          // NaN wins, so a NaN anywhere shows in the result instead of vanishing.
          if (v > best || (v !== v && best === best)) {
            best = v;
            at = r;
          }
        }
        out[o * inner + i] = arg ? at : best;
      }
    }
  };
}

/** op(a) op(b). */
export function matmulKernel(node: Tensor, a: FloatArray, b: FloatArray, out: FloatArray) {
  const [m, n] = node.shape;
  const tA = node.attrs.transposeA as boolean;
  const tB = node.attrs.transposeB as boolean;
  const k = tA ? node.inputs[0].shape[0] : node.inputs[0].shape[1];
  return () => matmul(a, b, out, m, n, k, tA, tB);
}

/** Rows of x picked by indices. */
export function gatherKernel(node: Tensor, x: FloatArray, indices: Int32Array, out: FloatArray) {
  const rows = node.shape[0];
  const inner = node.size / rows;
  return () => {
    for (let r = 0; r < rows; r++) {
      const src = indices[r] * inner;
      out.set(x.subarray(src, src + inner), r * inner);
    }
  };
}

/** Rows of x summed into their segments. */
export function segmentSumKernel(node: Tensor, x: FloatArray, ids: Int32Array, out: FloatArray) {
  const rows = node.inputs[0].shape[0];
  const inner = node.inputs[0].size / rows;
  const size = node.size;
  return () => {
    out.fill(0, 0, size);
    for (let r = 0; r < rows; r++) {
      const dst = ids[r] * inner, src = r * inner;
      for (let i = 0; i < inner; i++) out[dst + i] += x[src + i];
    }
  };
}

/** One-hot rows of int32 indices. */
export function oneHotKernel(node: Tensor, indices: Int32Array, out: FloatArray) {
  const [rows, depth] = node.shape;
  return () => {
    out.fill(0, 0, rows * depth);
    for (let r = 0; r < rows; r++) {
      const k = indices[r];
      if (k >= 0 && k < depth) out[r * depth + k] = 1;
    }
  };
}
