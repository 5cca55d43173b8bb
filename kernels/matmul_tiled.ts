/**
 * Matrix product for hardware GPUs: the classic shared-memory tiling. A workgroup of 16 x 16
 * invocations computes a 64 x 64 block of the output, each invocation a 4 x 4 sub-block held in
 * registers; both operands pass through workgroup memory in slices of 16 along k, so every value
 * loaded from global memory is used 64 times. (On llvmpipe, a CPU, barriers and workgroup memory cost
 * more than they save: see matmul.ts, the variant used there.)
 *
 * Same contract as matmul.ts: bindings 0 = A, 1 = B, 2 = out, 3 = uniform (m, n, k, unused);
 * op(A) is m x k (A stored k x m when transposed), op(B) is k x n (B stored n x k when transposed).
 */
import type { MatmulVariant } from "./matmul.ts";

const TILE = 64;
const SLICE = 16;

/** The WGSL of the tiled product for a transpose variant. */
export function tiledMatmulShader(variant: MatmulVariant): string {
  // Element (row, col) of op(A) and op(B), reading the stored layout.
  const aAt = variant.transposeA ? "a[col * p.m + row]" : "a[row * p.k + col]";
  const bAt = variant.transposeB ? "b[col * p.k + row]" : "b[row * p.n + col]";
  return `struct Params { m: u32, n: u32, k: u32, unused: u32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> tileA: array<array<f32, ${SLICE}>, ${TILE}>;
var<workgroup> tileB: array<array<f32, ${TILE}>, ${SLICE}>;

fn loadA(row: u32, col: u32) -> f32 {
  if (row >= p.m || col >= p.k) { return 0.0; }
  return ${aAt};
}

fn loadB(row: u32, col: u32) -> f32 {
  if (row >= p.k || col >= p.n) { return 0.0; }
  return ${bAt};
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let rowBase = wid.y * ${TILE}u;
  let colBase = wid.x * ${TILE}u;
  let flat = lid.y * 16u + lid.x;
  var acc: array<array<f32, 4>, 4>;
  for (var k0 = 0u; k0 < p.k; k0 = k0 + ${SLICE}u) {
    // 256 invocations load the 64 x 16 slice of op(A) and the 16 x 64 slice of op(B), 4 values each.
    for (var e = 0u; e < 4u; e = e + 1u) {
      let idx = flat * 4u + e;
      let ar = idx / ${SLICE}u;
      let ac = idx % ${SLICE}u;
      tileA[ar][ac] = loadA(rowBase + ar, k0 + ac);
      let br = idx / ${TILE}u;
      let bc = idx % ${TILE}u;
      tileB[br][bc] = loadB(k0 + br, colBase + bc);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${SLICE}u; kk = kk + 1u) {
      var av: array<f32, 4>;
      var bv: array<f32, 4>;
      for (var i = 0u; i < 4u; i = i + 1u) {
        av[i] = tileA[lid.y * 4u + i][kk];
        bv[i] = tileB[kk][lid.x * 4u + i];
      }
      for (var i = 0u; i < 4u; i = i + 1u) {
        for (var j = 0u; j < 4u; j = j + 1u) {
          acc[i][j] = acc[i][j] + av[i] * bv[j];
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i = i + 1u) {
    let row = rowBase + lid.y * 4u + i;
    if (row >= p.m) { continue; }
    for (var j = 0u; j < 4u; j = j + 1u) {
      let col = colBase + lid.x * 4u + j;
      if (col < p.n) { out[row * p.n + col] = acc[i][j]; }
    }
  }
}
`;
}

/** Workgroups of the tiled product for an m x n output (within WebGPU's per-dimension limit). */
export function tiledMatmulWorkgroups(m: number, n: number): [number, number, number] {
  return [Math.ceil(n / TILE), Math.ceil(m / TILE), 1];
}
