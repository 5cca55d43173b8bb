/**
 * Row gather and segment sum, each the other's gradient. Indices are int32; the backends check fed
 * indices on the host, and these kernels treat an out-of-range index as "no row" rather than read
 * or write out of bounds.
 */
import { LINEAR_ENTRY_PARAMS, linearIndex } from "./common.ts";

/** Uniforms of both kernels: rows of the result, elements per row, rows of the source (gather) or segments. */
export function indexingUniforms(rows: number, inner: number, bound: number): Uint32Array {
  return Uint32Array.of(rows, inner, bound, 0);
}

const HEADER = `struct Params { rows: u32, inner: u32, bound: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> indices: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;`;

/** out[r, j] = x[indices[r], j] for the rows.inner output elements. */
export const GATHER_SHADER = `${HEADER}
@compute @workgroup_size(256)
fn main(${LINEAR_ENTRY_PARAMS}) {
  ${linearIndex()}
  if (i >= p.rows * p.inner) { return; }
  let r = i / p.inner;
  let j = i % p.inner;
  let src = indices[r];
  if (src < 0 || u32(src) >= p.bound) { out[i] = 0.0; return; }
  out[i] = x[u32(src) * p.inner + j];
}
`;

/**
 * out[s, j] = sum of x[r, j] over the source rows r with indices[r] == s, one invocation per output
 * element (WGSL has no float atomics). Here `rows` counts the source rows and `bound` the segments.
 */
export const SEGMENT_SUM_SHADER = `${HEADER}
@compute @workgroup_size(256)
fn main(${LINEAR_ENTRY_PARAMS}) {
  ${linearIndex()}
  if (i >= p.bound * p.inner) { return; }
  let s = i32(i / p.inner);
  let j = i % p.inner;
  var acc = 0.0;
  for (var r = 0u; r < p.rows; r = r + 1u) {
    if (indices[r] == s) { acc = acc + x[r * p.inner + j]; }
  }
  out[i] = acc;
}
`;

/** Uniforms of the one-hot kernel: rows and depth. */
export function oneHotUniforms(rows: number, depth: number): Uint32Array {
  return Uint32Array.of(rows, depth, 0, 0);
}

/** out[r, k] = 1 where indices[r] == k, else 0; one invocation per output element. */
export const ONE_HOT_SHADER = `struct Params { rows: u32, depth: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<storage, read> indices: array<i32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
@compute @workgroup_size(256)
fn main(${LINEAR_ENTRY_PARAMS}) {
  ${linearIndex()}
  if (i >= p.rows * p.depth) { return; }
  out[i] = select(0.0, 1.0, indices[i / p.depth] == i32(i % p.depth));
}
`;
