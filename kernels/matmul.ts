/**
 * Matrix multiplication kernel (WGSL) for the WebGPU backend.
 *
 * `out (m x n, row-major) = op(A) * op(B)`, where op(A) is m x k (A stored m x k, or k x m when
 * `transposeA`) and op(B) is k x n (B stored k x n, or n x k when `transposeB`).
 *
 * Design. Correct on any WebGPU implementation, but tuned for Mesa llvmpipe (Mesa 22.3, 256-bit
 * SIMD), the software adapter this project runs on. On a discrete GPU the large per-invocation block
 * below would spill registers; a GPU-tuned variant would use a small block and workgroup memory.
 *
 * - No workgroup memory and no barriers. On llvmpipe every storage-buffer load inside a loop runs
 *   lane by lane (a scalar loop over the 8 SIMD lanes with a mask test and a bounds check), so one
 *   load costs about 25 times an FMA and the only lever is the number of loads per FMA. Each
 *   invocation keeps a `TILE_M` x `TILE_N` (24 x 32) block of accumulators and, per k step, loads
 *   `TILE_M` values of op(A) and `TILE_N` values of op(B) for `TILE_M * TILE_N` FMAs.
 *   Shared-memory tiling measured slower on llvmpipe (barriers turn the shader into coroutines
 *   whose frame holds every load result) and compiled many times slower.
 * - The k loop is unrolled twice; an odd tail zeroes both factors of the second step with
 *   `select`, so no NaN or infinity can leak from a clamped duplicate.
 * - Loads never go out of bounds: row and column indices are clamped to `m - 1` / `n - 1`, so an
 *   invocation whose block hangs over the edge computes duplicates of the last row / column.
 *   Invocations whose whole block lies outside the output skip the k loop. The epilogue writes
 *   only rows `< m`; a column past `n` is written to column `n - 1` with exactly the value of that
 *   column (same inputs, same operation order) by the same invocation, which owns column `n - 1`:
 *   no out-of-bounds write and no write race.
 * - The epilogue is a loop that writes one row and shifts the accumulator rows up: unrolled
 *   guarded stores made llvmpipe's shader compile several times slower.
 * - A workgroup is `LANES` (8) invocations, one 256-bit SIMD group on llvmpipe. The lanes run along
 *   n (a workgroup covers `TILE_M` rows x `LANES * TILE_N` columns) unless running them along m
 *   (`LANES * TILE_M` rows x `TILE_N` columns) needs fewer workgroups, e.g. for narrow outputs. The
 *   shader derives the same choice from `m` and `n` as {@link matmulWorkgroups}.
 *
 * Parameters (uniform, binding 3): four u32 `m, n, k, unused`; the fourth word is ignored (write 0).
 *
 * @module
 */

import { MAX_WORKGROUPS_PER_DIMENSION } from "./common.ts";

/** Which operands are stored transposed. */
export interface MatmulVariant {
  /** A is stored k x m (row-major) and used transposed. */
  transposeA: boolean;
  /** B is stored n x k (row-major) and used transposed. */
  transposeB: boolean;
}

/** Output rows held in registers by one invocation. */
const TILE_M = 24;
/** Output columns held in registers by one invocation. */
const TILE_N = 32;
/** Invocations per workgroup (one llvmpipe SIMD group). */
const LANES = 8;
/** Largest workgroup count per grid dimension allowed by WebGPU's default limits. */
const MAX_GROUPS = MAX_WORKGROUPS_PER_DIMENSION;

interface Layout {
  /** Lanes run along m (true) or along n (false). */
  alongM: boolean;
  groups: [number, number, number];
}

function ceilDiv(x: number, d: number): number {
  return Math.floor((x - 1) / d) + 1;
}

/** The workgroup layout for an m x n output; mirrors `lanesAlongM` in the WGSL exactly. */
function layout(m: number, n: number): Layout {
  if (
    !Number.isInteger(m) || !Number.isInteger(n) || m < 1 || n < 1 || m > 0xffffffff ||
    n > 0xffffffff
  ) {
    throw new RangeError(`matmul: m and n must be integers in [1, 2^32), got m=${m}, n=${n}`);
  }
  const rowsN = ceilDiv(m, TILE_M), colsN = ceilDiv(n, LANES * TILE_N);
  const rowsM = ceilDiv(m, LANES * TILE_M), colsM = ceilDiv(n, TILE_N);
  const validN = rowsN <= MAX_GROUPS && colsN <= MAX_GROUPS;
  const validM = rowsM <= MAX_GROUPS && colsM <= MAX_GROUPS;
  if (!validN && !validM) {
    throw new RangeError(
      `matmul: output ${m} x ${n} needs more than ${MAX_GROUPS} workgroups per dimension`,
    );
  }
  const alongM = validM && (!validN || rowsM * colsM < rowsN * colsN);
  return { alongM, groups: alongM ? [rowsM, colsM, 1] : [rowsN, colsN, 1] };
}

/** Workgroup counts `[x, y, z]` to dispatch {@link matmulShader} for an m x n output. */
export function matmulWorkgroups(m: number, n: number): [number, number, number] {
  return layout(m, n).groups;
}

const shaderCache = new Map<string, string>();

/**
 * WGSL source of the compute shader (entry point `main`) for one transpose variant.
 * Bindings, group 0: 0 = A (`var<storage, read> array<f32>`), 1 = B (read), 2 = out
 * (`var<storage, read_write> array<f32>`), 3 = params (`var<uniform>`: u32 m, n, k, unused).
 * Dispatch it with {@link matmulWorkgroups}.
 */
export function matmulShader(variant: MatmulVariant): string {
  const key = `${variant.transposeA ? 1 : 0}${variant.transposeB ? 1 : 0}`;
  let src = shaderCache.get(key);
  if (src === undefined) {
    src = generate(variant.transposeA, variant.transposeB);
    shaderCache.set(key, src);
  }
  return src;
}

function generate(transposeA: boolean, transposeB: boolean): string {
  const rows = [...Array(TILE_M).keys()];
  const cols = [...Array(TILE_N).keys()];
  const lines: string[] = [];
  const emit = (indent: number, text: string) => lines.push("  ".repeat(indent) + text);

  // Index of op(A)[row i][step] and op(B)[step][col j]; `s` is the step variable (p or q).
  // Row / column base offsets that do not depend on the step are hoisted out of the loop.
  const aIndex = (i: number, s: string) => transposeA ? `${s}m + r${i}` : `r${i}k + ${s}`;
  const bIndex = (j: number, s: string) => transposeB ? `c${j}k + ${s}` : `${s}n + c${j}`;

  emit(
    0,
    `// matmul: out = ${transposeA ? "A^T" : "A"} * ${
      transposeB ? "B^T" : "B"
    }; generated by kernels/matmul.ts`,
  );
  emit(0, `struct Params { m: u32, n: u32, k: u32, unused: u32 }`);
  emit(0, `@group(0) @binding(0) var<storage, read> a: array<f32>;`);
  emit(0, `@group(0) @binding(1) var<storage, read> b: array<f32>;`);
  emit(0, `@group(0) @binding(2) var<storage, read_write> out: array<f32>;`);
  emit(0, `@group(0) @binding(3) var<uniform> params: Params;`);
  emit(0, ``);
  emit(0, `// Same decision as layout() in kernels/matmul.ts.`);
  emit(0, `fn lanesAlongM(m: u32, n: u32) -> bool {`);
  emit(1, `let rowsN = (m - 1u) / ${TILE_M}u + 1u;`);
  emit(1, `let colsN = (n - 1u) / ${LANES * TILE_N}u + 1u;`);
  emit(1, `let rowsM = (m - 1u) / ${LANES * TILE_M}u + 1u;`);
  emit(1, `let colsM = (n - 1u) / ${TILE_N}u + 1u;`);
  emit(1, `let validN = rowsN <= ${MAX_GROUPS}u && colsN <= ${MAX_GROUPS}u;`);
  emit(1, `let validM = rowsM <= ${MAX_GROUPS}u && colsM <= ${MAX_GROUPS}u;`);
  emit(1, `return validM && (!validN || rowsM * colsM < rowsN * colsN);`);
  emit(0, `}`);
  emit(0, ``);
  emit(0, `@compute @workgroup_size(${LANES})`);
  emit(
    0,
    `fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {`,
  );
  emit(1, `let m = params.m;`);
  emit(1, `let n = params.n;`);
  emit(1, `let k = params.k;`);
  emit(1, `let alongM = lanesAlongM(m, n);`);
  emit(1, `let row0 = select(wg.x * ${TILE_M}u, (wg.x * ${LANES}u + lid.x) * ${TILE_M}u, alongM);`);
  emit(1, `let col0 = select((wg.y * ${LANES}u + lid.x) * ${TILE_N}u, wg.y * ${TILE_N}u, alongM);`);
  emit(1, `// Clamped rows / columns: loads stay in bounds, overhanging lanes compute duplicates.`);
  for (const i of rows) emit(1, `let r${i} = min(row0 + ${i}u, m - 1u);`);
  for (const j of cols) emit(1, `let c${j} = min(col0 + ${j}u, n - 1u);`);
  if (!transposeA) { for (const i of rows) emit(1, `let r${i}k = r${i} * k;`); }
  if (transposeB) { for (const j of cols) emit(1, `let c${j}k = c${j} * k;`); }
  for (const i of rows) {
    emit(
      1,
      `var acc${i}_0 = 0.0;${cols.slice(1).map((j) => ` var acc${i}_${j} = 0.0;`).join("")}`,
    );
  }
  emit(
    1,
    `// Lanes whose whole block lies outside the output skip the loop (cheaper on llvmpipe).`,
  );
  emit(1, `let live = row0 < m && col0 < n;`);
  emit(1, `let steps = select(0u, k, live);`);
  emit(1, `for (var p = 0u; p < steps; p += 2u) {`);
  emit(2, `// Second step of the pair; past the end both of its factors are zeroed.`);
  emit(2, `let q = min(p + 1u, k - 1u);`);
  emit(2, `let two = p + 1u < k;`);
  if (transposeA) emit(2, `let pm = p * m; let qm = q * m;`);
  if (!transposeB) emit(2, `let pn = p * n; let qn = q * n;`);
  for (const i of rows) {
    emit(
      2,
      `let x${i} = a[${aIndex(i, "p")}]; let y${i} = select(0.0, a[${aIndex(i, "q")}], two);`,
    );
  }
  for (const j of cols) {
    emit(
      2,
      `let u${j} = b[${bIndex(j, "p")}]; let v${j} = select(0.0, b[${bIndex(j, "q")}], two);`,
    );
  }
  for (const i of rows) {
    for (const j of cols) {
      emit(2, `acc${i}_${j} = fma(y${i}, v${j}, fma(x${i}, u${j}, acc${i}_${j}));`);
    }
  }
  emit(1, `}`);
  emit(
    1,
    `// Epilogue: write one row per iteration, then shift the accumulator rows up. A loop keeps`,
  );
  emit(
    1,
    `// the code (and llvmpipe's compile time) small; columns past n land on column n - 1 with`,
  );
  emit(1, `// that column's own value.`);
  emit(1, `let rowCount = select(0u, min(${TILE_M}u, m - row0), live);`);
  emit(1, `for (var i = 0u; i < rowCount; i++) {`);
  emit(2, `let base = (row0 + i) * n;`);
  for (const j of cols) emit(2, `out[base + c${j}] = acc0_${j};`);
  for (const i of rows.slice(0, -1)) {
    emit(2, cols.map((j) => `acc${i}_${j} = acc${i + 1}_${j};`).join(" "));
  }
  emit(1, `}`);
  emit(0, `}`);
  return lines.join("\n") + "\n";
}
