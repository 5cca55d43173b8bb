/**
 * The JavaScript device's kernels other than elementwise: reductions, matrix product, gather,
 * segment sum and one-hot. Each returns a closure bound to its arrays, so a run allocates nothing.
 */
import type { FloatArray } from "../backend.ts";
import type {
  GatherKernel,
  MatmulKernel,
  OneHotKernel,
  ReduceKernel,
  SegmentSumKernel,
} from "../kernel.ts";
import { matmul } from "./matmul.ts";

/** Any array a kernel reads or writes. */
export type JsArray = FloatArray | Int32Array;

/** sum / max / argmax along the kernel's axis. */
export function reduceKernel(k: ReduceKernel, x: FloatArray, out: JsArray): () => void {
  const { outer, length, inner } = k;
  if (k.op === "sum") {
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
  const arg = k.op === "argmax";
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
export function matmulKernel(k: MatmulKernel, a: FloatArray, b: FloatArray, out: FloatArray) {
  return () => matmul(a, b, out, k.m, k.n, k.k, k.transposeA, k.transposeB);
}

/** Rows of x picked by indices (an index out of range gives a row of zeros). */
export function gatherKernel(k: GatherKernel, x: FloatArray, indices: Int32Array, out: FloatArray) {
  const { rows, inner, bound } = k;
  return () => {
    for (let r = 0; r < rows; r++) {
      const row = indices[r];
      if (row >= 0 && row < bound) {
        out.set(x.subarray(row * inner, (row + 1) * inner), r * inner);
      } else {
        out.fill(0, r * inner, (r + 1) * inner);
      }
    }
  };
}

/** Rows of x summed into their segments (rows with an id out of range are dropped). */
export function segmentSumKernel(
  k: SegmentSumKernel,
  x: FloatArray,
  ids: Int32Array,
  out: FloatArray,
) {
  const { rows, inner, segments } = k;
  return () => {
    out.fill(0, 0, segments * inner);
    for (let r = 0; r < rows; r++) {
      const s = ids[r];
      if (!(s >= 0 && s < segments)) continue;
      const dst = s * inner, src = r * inner;
      for (let i = 0; i < inner; i++) out[dst + i] += x[src + i];
    }
  };
}

/** One-hot rows of int32 indices. */
export function oneHotKernel(k: OneHotKernel, indices: Int32Array, out: FloatArray) {
  const { rows, depth } = k;
  return () => {
    out.fill(0, 0, rows * depth);
    for (let r = 0; r < rows; r++) {
      const c = indices[r];
      if (c >= 0 && c < depth) out[r * depth + c] = 1;
    }
  };
}
