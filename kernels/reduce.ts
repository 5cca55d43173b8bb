/**
 * Reductions along one axis, with the input seen as [outer, length, inner]. Two shapes of kernel: one
 * invocation per output element looping over the axis (many outputs), or one workgroup per output
 * element sharing the loop and combining in workgroup memory (few outputs, long axis).
 */
import { LINEAR_ENTRY_PARAMS, linearIndex, linearWorkgroups } from "./common.ts";
import { WGSL_HELPERS } from "./elementwise.ts";

/** The reductions there are kernels for. */
export type ReduceOp = "sum" | "max" | "argmax";

/** Threads that share one output element in the cooperative variant. */
const COOPERATIVE_THREADS = 64;

/** Whether the cooperative (workgroup per output) variant suits these extents. */
export function useCooperativeReduce(outer: number, length: number, inner: number): boolean {
  return outer * inner <= 4096 && length >= 256;
}

/** The uniform block: outer, length, inner, 0. */
export function reduceUniforms(outer: number, length: number, inner: number): Uint32Array {
  return Uint32Array.of(outer, length, inner, 0);
}

/** Workgroup counts for the chosen variant. */
export function reduceWorkgroups(
  outer: number,
  length: number,
  inner: number,
): [number, number, number] {
  return useCooperativeReduce(outer, length, inner)
    ? linearWorkgroups(outer * inner, 1)
    : linearWorkgroups(outer * inner);
}

const HEADER = `${WGSL_HELPERS}
struct Params { outer: u32, length: u32, inner: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;`;

/** The WGSL of a reduction, for the variant {@link useCooperativeReduce} picks for these extents. */
export function reduceShader(op: ReduceOp, cooperative: boolean): string {
  const outType = op === "argmax" ? "i32" : "f32";
  const bindings = `${HEADER}
@group(0) @binding(1) var<storage, read_write> out: array<${outType}>;
@group(0) @binding(2) var<uniform> p: Params;`;
  const init = op === "sum" ? "0.0" : "x[base]";
  // NaN wins a max, so that a NaN anywhere shows in the result (tested on the bits: see
  // WGSL_EXPRESSIONS on why `v != v` would not do).
  const better = "(v > best || (nan_f(v) && !nan_f(best)))";
  if (!cooperative) {
    const body = op === "sum"
      ? "acc = acc + x[base + r * p.inner];"
      : `let v = x[base + r * p.inner]; if ${better} { best = v; at = r; }`;
    return `${bindings}
@compute @workgroup_size(256)
fn main(${LINEAR_ENTRY_PARAMS}) {
  ${linearIndex()}
  if (i >= p.outer * p.inner) { return; }
  let o = i / p.inner;
  let j = i % p.inner;
  let base = o * p.length * p.inner + j;
  var acc = 0.0;
  var best = ${init};
  var at = 0u;
  for (var r = ${op === "sum" ? "0u" : "1u"}; r < p.length; r = r + 1u) { ${body} }
  out[i] = ${op === "sum" ? "acc" : op === "max" ? "best" : "i32(at)"};
}
`;
  }
  const T = COOPERATIVE_THREADS;
  const combine = op === "sum"
    ? "vals[lid] = vals[lid] + vals[lid + s];"
    : `let v = vals[lid + s]; let best = vals[lid];
       if (v > best || (nan_f(v) && !nan_f(best)) || (v == best && idx[lid + s] < idx[lid])) {
         vals[lid] = v; idx[lid] = idx[lid + s];
       }`;
  const local = op === "sum"
    ? "acc = acc + x[base + r * p.inner];"
    : `let v = x[base + r * p.inner]; if ${better.replace(/best/g, "acc")} { acc = v; at = r; }`;
  return `${bindings}
var<workgroup> vals: array<f32, ${T}>;
var<workgroup> idx: array<u32, ${T}>;
@compute @workgroup_size(${T})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = wid.y * nwg.x + wid.x;
  let inRange = i < p.outer * p.inner;
  let o = i / p.inner;
  let j = i % p.inner;
  let base = o * p.length * p.inner + j;
  var acc = ${op === "sum" ? "0.0" : "x[base]"};
  var at = 0u;
  if (inRange) {
    for (var r = lid; r < p.length; r = r + ${T}u) { ${local} }
  }
  vals[lid] = acc;
  idx[lid] = at;
  workgroupBarrier();
  for (var s = ${T / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { ${combine} }
    workgroupBarrier();
  }
  if (lid == 0u && inRange) { out[i] = ${
    op === "sum" ? "vals[0]" : op === "max" ? "vals[0]" : "i32(idx[0])"
  }; }
}
`;
}
