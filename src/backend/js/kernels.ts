/**
 * The JavaScript device's kernels other than elementwise: reductions, matrix product, gather,
 * segment sum, one-hot, image windows and selection within rows. Each returns a closure bound to its arrays, so a run allocates nothing.
 */
import type { FloatArray } from "../backend.ts";
import type {
  GatherKernel,
  MatmulKernel,
  OneHotKernel,
  PatchKernel,
  ReduceKernel,
  RowSelectKernel,
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

/**
 * Window rows from images (patches) or images from window rows (unpatches), by the definition:
 * window row (n, oy, ox), column (dy, dx, ch) is pixel (oy * stride + dy - padTop, ox * stride +
 * dx - padLeft, ch) of image n, or nothing when that lies in the padding.
 */
export function patchKernel(k: PatchKernel, x: FloatArray, out: FloatArray): () => void {
  const { n, height, width, c, kh, kw, stride, padTop, padLeft, outHeight, outWidth } = k;
  const rowLength = kh * kw * c;
  const windows = k.kind === "patches";
  return () => {
    if (!windows) out.fill(0, 0, n * height * width * c);
    let row = 0;
    for (let img = 0; img < n; img++) {
      for (let oy = 0; oy < outHeight; oy++) {
        for (let ox = 0; ox < outWidth; ox++, row++) {
          for (let dy = 0; dy < kh; dy++) {
            const y = oy * stride + dy - padTop;
            for (let dx = 0; dx < kw; dx++) {
              const xx = ox * stride + dx - padLeft;
              const col = row * rowLength + (dy * kw + dx) * c;
              const inside = y >= 0 && y < height && xx >= 0 && xx < width;
              const pixel = ((img * height + y) * width + xx) * c;
              for (let ch = 0; ch < c; ch++) {
                if (windows) out[col + ch] = inside ? x[pixel + ch] : 0;
                else if (inside) out[pixel + ch] += x[col + ch];
              }
            }
          }
        }
      }
    }
  };
}

/**
 * The columns of each row's k smallest values by a full sort on (value, column), NaN as +Infinity
 * (argSmallestK); or the values at given columns (takeAlongRows, 0 outside the row).
 */
export function rowSelectKernel(
  k: RowSelectKernel,
  x: FloatArray,
  indices: Int32Array | null,
  out: JsArray,
): () => void {
  const { rows, n } = k;
  if (k.kind === "takeAlongRows") {
    return () => {
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < k.k; j++) {
          const c = indices![r * k.k + j];
          out[r * k.k + j] = c >= 0 && c < n ? x[r * n + c] : 0;
        }
      }
    };
  }
  const order = Array.from({ length: n }, (_, j) => j);
  return () => {
    for (let r = 0; r < rows; r++) {
      const key = (j: number) => {
        const v = x[r * n + j];
        return v === v ? v : Infinity;
      };
      for (let j = 0; j < n; j++) order[j] = j;
      order.sort((a, b) => {
        const ka = key(a), kb = key(b);
        return ka < kb ? -1 : ka > kb ? 1 : a - b;
      });
      for (let j = 0; j < k.k; j++) out[r * k.k + j] = order[j];
    }
  };
}
