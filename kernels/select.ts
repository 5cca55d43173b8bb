/**
 * Selection within rows: the columns of each row's k smallest values (argSmallestK), and values
 * picked per row (takeAlongRows).
 */
import { LINEAR_ENTRY_PARAMS, linearIndex, linearWorkgroups } from "./common.ts";

/** Uniforms of both kernels: rows, row length n, k. */
export function rowSelectUniforms(rows: number, n: number, k: number): Uint32Array {
  return Uint32Array.of(rows, n, k, 0);
}

/** Workgroups of argSmallestK: one per row. */
export function argSmallestKWorkgroups(rows: number): [number, number, number] {
  return linearWorkgroups(rows, 1);
}

const PARAMS = "struct Params { rows: u32, n: u32, k: u32, pad: u32 }";

/**
 * One workgroup of 256 invocations per row; each loop stays far below llvmpipe's cap of 65,535
 * iterations per loop and invocation (nested loops count together there), so no invocation walks
 * a whole row alone. A value's key orders floats as unsigned integers (-0 as +0, NaN as
 * +Infinity). Three histograms in workgroup memory (11, 11 and 10 bits of the key, the later ones
 * over the keys that share the digits found so far) give the k-th smallest key, the threshold;
 * blocks of 256 columns, in order, then write the columns below it and as many equal to it as k
 * needs (lowest first) to the row's output; a bitonic sort of (key, column) pairs, a total order,
 * sorts them in place (the missing entries of the power-of-two network count as +Infinity and
 * never move).
 */
export const ARG_SMALLEST_K_SHADER = `${PARAMS}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<i32>;
@group(0) @binding(2) var<uniform> p: Params;
var<workgroup> hist: array<atomic<u32>, 2048>;
var<workgroup> scan: array<u32, 256>;
// The threshold's digits so far, the rank still to find among them, taken ties, placed columns.
var<workgroup> state: array<u32, 4>;

fn key_of(v: f32) -> u32 {
  var bits = bitcast<u32>(v);
  if (bits == 0x80000000u) { bits = 0u; }
  if ((bits & 0x7fffffffu) > 0x7f800000u) { bits = 0x7f800000u; }
  if ((bits & 0x80000000u) != 0u) { return ~bits; }
  return bits | 0x80000000u;
}

// The inclusive prefix sum of every invocation's value over the workgroup, in order.
fn prefix_sum(lid: u32, value: u32) -> u32 {
  scan[lid] = value;
  workgroupBarrier();
  for (var d = 1u; d < 256u; d = d * 2u) {
    var add = 0u;
    if (lid >= d) { add = scan[lid - d]; }
    workgroupBarrier();
    scan[lid] = scan[lid] + add;
    workgroupBarrier();
  }
  let total = scan[lid];
  workgroupBarrier();
  return total;
}

// Invocation 0 finds the bucket holding the rank-th smallest counted key.
fn pick(lid: u32, bits: u32) {
  workgroupBarrier();
  if (lid == 0u) {
    var rank = state[1];
    var digit = 0u;
    loop {
      let c = atomicLoad(&hist[digit]);
      if (c >= rank) { break; }
      rank = rank - c;
      digit = digit + 1u;
    }
    state[0] = (state[0] << bits) | digit;
    state[1] = rank;
  }
  workgroupBarrier();
  for (var b = lid; b < 2048u; b = b + 256u) { atomicStore(&hist[b], 0u); }
  workgroupBarrier();
}

// (key, column) of entry a after that of entry b
fn after(ca: i32, cb: i32, row: u32) -> bool {
  let ka = key_of(x[row + u32(ca)]);
  let kb = key_of(x[row + u32(cb)]);
  return ka > kb || (ka == kb && ca > cb);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let r = wid.y * nwg.x + wid.x;
  if (r >= p.rows) { return; }
  let row = r * p.n;
  let base = r * p.k;
  for (var b = lid; b < 2048u; b = b + 256u) { atomicStore(&hist[b], 0u); }
  if (lid == 0u) { state[0] = 0u; state[1] = p.k; state[2] = 0u; state[3] = 0u; }
  workgroupBarrier();
  for (var j = lid; j < p.n; j = j + 256u) { atomicAdd(&hist[key_of(x[row + j]) >> 21u], 1u); }
  pick(lid, 0u);
  let top = state[0];
  for (var j = lid; j < p.n; j = j + 256u) {
    let kj = key_of(x[row + j]);
    if ((kj >> 21u) == top) { atomicAdd(&hist[(kj >> 10u) & 2047u], 1u); }
  }
  pick(lid, 11u);
  let high = state[0];
  for (var j = lid; j < p.n; j = j + 256u) {
    let kj = key_of(x[row + j]);
    if ((kj >> 10u) == high) { atomicAdd(&hist[kj & 1023u], 1u); }
  }
  pick(lid, 10u);
  let threshold = state[0];
  let ties = state[1];
  // Blocks of 256 columns in order: below the threshold, or equal while ties remain.
  let blocks = (p.n + 255u) / 256u;
  for (var blk = 0u; blk < blocks; blk = blk + 1u) {
    let j = blk * 256u + lid;
    var kj = 0xffffffffu;
    if (j < p.n) { kj = key_of(x[row + j]); }
    let equal = select(0u, 1u, kj == threshold && j < p.n);
    let tie = prefix_sum(lid, equal);
    let take = kj < threshold || (equal == 1u && state[2] + tie <= ties);
    let place = prefix_sum(lid, select(0u, 1u, take));
    if (take) { out[base + state[3] + place - 1u] = i32(j); }
    workgroupBarrier();
    if (lid == 255u) { state[2] = state[2] + tie; state[3] = state[3] + place; }
    workgroupBarrier();
  }
  storageBarrier();
  workgroupBarrier();
  var size = 2u;
  while (size < p.k) { size = size * 2u; }
  for (var span = 2u; span <= size; span = span * 2u) {
    for (var stride = span / 2u; stride > 0u; stride = stride / 2u) {
      for (var i = lid; i < size / 2u; i = i + 256u) {
        // Pair i: the lower entry a and its partner b; the first step of a span mirrors.
        let low = (i / stride) * stride * 2u + i % stride;
        var a = low;
        var b = low + stride;
        if (stride == span / 2u) {
          let start = (i / stride) * span;
          b = start + span - 1u - (low - start);
        }
        if (b < p.k && after(out[base + a], out[base + b], row)) {
          let t = out[base + a];
          out[base + a] = out[base + b];
          out[base + b] = t;
        }
      }
      storageBarrier();
      workgroupBarrier();
    }
  }
}
`;

/** out[r, j] = x[r, indices[r, j]], 0 for an index outside the row; one invocation per value. */
export const TAKE_ALONG_ROWS_SHADER = `${PARAMS}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> indices: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@compute @workgroup_size(256)
fn main(${LINEAR_ENTRY_PARAMS}) {
  ${linearIndex()}
  if (i >= p.rows * p.k) { return; }
  let c = indices[i];
  if (c < 0 || u32(c) >= p.n) { out[i] = 0.0; return; }
  out[i] = x[(i / p.k) * p.n + u32(c)];
}
`;
