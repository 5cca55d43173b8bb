/**
 * Dense matrix multiplication for the CPU backend, in plain TypeScript on typed arrays.
 *
 * Large products use the classic packed, cache-blocked scheme: panels of op(A) and op(B) are copied
 * into contiguous scratch so that the innermost loop reads both operands with unit stride whatever
 * the transpose flags, and a register-blocked micro-kernel keeps a small tile of `out` in local
 * variables while it walks the shared dimension. Packing pays off from 4 x 4 x 4 up (measured);
 * only products with one or two rows or columns, which would use a packed operand once or twice,
 * skip it.
 *
 * @module
 */

/** The element types the CPU backend computes in. */
export type FloatArray = Float32Array | Float64Array;

/** Rows of op(A) per micro-tile. */
const MR = 4;
/** Columns of op(B) per micro-tile. */
const NR = 4;
/**
 * Upper bounds on the blocks of the shared dimension (k), of op(A)'s rows (m) and of op(B)'s columns
 * (n). A packed micro-panel of B (KC x NR doubles, 8 KiB) stays in L1 while the kernel sweeps the
 * packed block of A (MC x KC doubles, 256 KiB) that sits in L2; NC only bounds the scratch size.
 */
const KC = 256;
const MC = 128;
const NC = 2048;
/**
 * Products with fewer rows or columns than this skip packing: the padded micro-tiles would mostly
 * compute zeros, and a packed operand would be used once or twice. At 3 both paths measured alike.
 */
const DIRECT_BELOW = 3;

// Packed panels are float64 whatever the input type, so one set of scratch serves both types. The
// kernel then sees a single element type even when float32 and float64 products share a process,
// which V8 compiles to much faster code: ~1.7x over packing into the input's own type, measured.
let packedA = new Float64Array(0);
let packedB = new Float64Array(0);
const edgeTile = new Float64Array(MR * NR);

/**
 * Computes `out = op(A) * op(B)`, overwriting `out` (m x n, row-major).
 *
 * op(A) is m x k: `a` holds it row-major as m x k, or, when `transposeA`, holds A as k x m and
 * op(A) = Aᵀ. Likewise op(B) is k x n: `b` is k x n, or n x k when `transposeB`. The three arrays
 * must share one element type and may be `subarray` views; `out` must not overlap `a` or `b`.
 * Sums are accumulated in float64 and rounded to `out`'s type once per block of up to 256 terms.
 *
 * @param a op(A)'s data, at least m * k elements.
 * @param b op(B)'s data, at least k * n elements.
 * @param out Receives the product, at least m * n elements; only the first m * n are written.
 * @param m Rows of op(A) and of `out`.
 * @param n Columns of op(B) and of `out`.
 * @param k Columns of op(A), rows of op(B).
 * @param transposeA Whether `a` is stored as k x m.
 * @param transposeB Whether `b` is stored as n x k.
 * @throws {RangeError} If a size is not a positive integer or an array is too short for it.
 */
export function matmul(
  a: FloatArray,
  b: FloatArray,
  out: FloatArray,
  m: number,
  n: number,
  k: number,
  transposeA: boolean,
  transposeB: boolean,
): void {
  checkSize("m", m);
  checkSize("n", n);
  checkSize("k", k);
  checkLength("a", a, m * k);
  checkLength("b", b, k * n);
  checkLength("out", out, m * n);
  if (m < DIRECT_BELOW || n < DIRECT_BELOW) {
    matmulDirect(a, b, out, m, n, k, transposeA, transposeB);
  } else {
    matmulPacked(a, b, out, m, n, k, transposeA, transposeB);
  }
}

function checkSize(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`matmul: ${name} must be a positive integer, got ${value}`);
  }
}

function checkLength(name: string, array: FloatArray, needed: number): void {
  if (array.length < needed) {
    throw new RangeError(`matmul: ${name} has ${array.length} elements, needs ${needed}`);
  }
}

/**
 * Unpacked loops for products with one or two rows or columns (a matrix-vector product, say),
 * where packing would copy a whole operand to use it only once or twice.
 */
function matmulDirect(
  a: FloatArray,
  b: FloatArray,
  out: FloatArray,
  m: number,
  n: number,
  k: number,
  transposeA: boolean,
  transposeB: boolean,
): void {
  // op(A)[i][p] = a[i * aRow + p * aCol] and op(B)[p][j] = b[p * bRow + j * bCol].
  const aRow = transposeA ? 1 : k;
  const aCol = transposeA ? m : 1;
  const bRow = transposeB ? 1 : n;
  const bCol = transposeB ? k : 1;
  if (n >= m) {
    // Each row of op(A) meets four columns of op(B) at a time, loading its element once for all.
    for (let i = 0; i < m; i++) {
      const o = i * n;
      let j = 0;
      for (; j + 4 <= n; j += 4) {
        const v = j * bCol;
        dot4(a, i * aRow, aCol, b, v, v + bCol, v + 2 * bCol, v + 3 * bCol, bRow, k, out, o + j, 1);
      }
      for (; j < n; j++) out[o + j] = dot(a, i * aRow, aCol, b, j * bCol, bRow, k);
    }
  } else {
    // The mirror image: each column of op(B) meets four rows of op(A) at a time.
    for (let j = 0; j < n; j++) {
      let i = 0;
      for (; i + 4 <= m; i += 4) {
        const u = i * aRow;
        const o = i * n + j;
        dot4(b, j * bCol, bRow, a, u, u + aRow, u + 2 * aRow, u + 3 * aRow, aCol, k, out, o, n);
      }
      for (; i < m; i++) out[i * n + j] = dot(a, i * aRow, aCol, b, j * bCol, bRow, k);
    }
  }
}

/** Sum over p < k of x[xi + p * xs] * y[yi + p * ys]. */
function dot(
  x: FloatArray,
  xi: number,
  xs: number,
  y: FloatArray,
  yi: number,
  ys: number,
  k: number,
): number {
  let sum = 0;
  for (let p = 0; p < k; p++) {
    sum += x[xi] * y[yi];
    xi += xs;
    yi += ys;
  }
  return sum;
}

/**
 * Four dot products sharing the vector x (stride xs) against vectors of y starting at y0..y3 (each
 * of stride ys), stored at out[o], out[o + os], out[o + 2 * os] and out[o + 3 * os].
 */
function dot4(
  x: FloatArray,
  xi: number,
  xs: number,
  y: FloatArray,
  y0: number,
  y1: number,
  y2: number,
  y3: number,
  ys: number,
  k: number,
  out: FloatArray,
  o: number,
  os: number,
): void {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (let p = 0, q = 0; p < k; p++) {
    const v = x[xi];
    s0 += v * y[y0 + q];
    s1 += v * y[y1 + q];
    s2 += v * y[y2 + q];
    s3 += v * y[y3 + q];
    xi += xs;
    q += ys;
  }
  out[o] = s0;
  out[o + os] = s1;
  out[o + 2 * os] = s2;
  out[o + 3 * os] = s3;
}

/** Rounds `x` up to a multiple of `step`. */
function roundUp(x: number, step: number): number {
  return Math.ceil(x / step) * step;
}

/** Cache-blocked product over packed float64 panels. */
function matmulPacked(
  a: FloatArray,
  b: FloatArray,
  out: FloatArray,
  m: number,
  n: number,
  k: number,
  transposeA: boolean,
  transposeB: boolean,
): void {
  // Equal-sized blocks rather than full blocks plus a sliver: a thin last k block would pay the
  // kernel's per-tile overhead for little work (k = 784 gives 4 x 196, not 3 x 256 + 16).
  const kcMax = Math.ceil(k / Math.ceil(k / KC));
  const mcMax = roundUp(Math.ceil(m / Math.ceil(m / MC)), MR);
  const ncMax = roundUp(Math.ceil(n / Math.ceil(n / NC)), NR);
  if (packedA.length < mcMax * kcMax) packedA = new Float64Array(mcMax * kcMax);
  if (packedB.length < ncMax * kcMax) packedB = new Float64Array(ncMax * kcMax);
  const pa = packedA;
  const pb = packedB;
  for (let jc = 0; jc < n; jc += ncMax) {
    const nc = Math.min(ncMax, n - jc);
    for (let pc = 0; pc < k; pc += kcMax) {
      const kc = Math.min(kcMax, k - pc);
      // op(B)[p][j] is b[p * n + j], or b[j * k + p] when transposed.
      if (transposeB) packFromRows(b, jc * k + pc, k, nc, kc, NR, pb);
      else packFromColumns(b, pc * n + jc, n, nc, kc, NR, pb);
      const accumulate = pc > 0;
      for (let ic = 0; ic < m; ic += mcMax) {
        const mc = Math.min(mcMax, m - ic);
        // op(A)[i][p] is a[i * k + p], or a[p * m + i] when transposed.
        if (transposeA) packFromColumns(a, pc * m + ic, m, mc, kc, MR, pa);
        else packFromRows(a, ic * k + pc, k, mc, kc, MR, pa);
        for (let jr = 0; jr < nc; jr += NR) {
          const cols = Math.min(NR, nc - jr);
          const bOffset = jr * kc;
          for (let ir = 0; ir < mc; ir += MR) {
            const rows = Math.min(MR, mc - ir);
            const o = (ic + ir) * n + jc + jr;
            if (rows === MR && cols === NR) {
              kernel(pa, ir * kc, pb, bOffset, kc, out, o, n, accumulate);
            } else {
              // The padded panels make a full tile computable; keep only its real part.
              kernel(pa, ir * kc, pb, bOffset, kc, edgeTile, 0, NR, false);
              for (let r = 0; r < rows; r++) {
                for (let c = 0; c < cols; c++) {
                  const v = edgeTile[r * NR + c];
                  out[o + r * n + c] = accumulate ? out[o + r * n + c] + v : v;
                }
              }
            }
          }
        }
      }
    }
  }
}

/**
 * Packs `count` lanes of `kc` elements, lane t's element p being `src[base + t * ld + p]`, into
 * panels of `width` lanes interleaved element by element: dst[q * width * kc + p * width + r] holds
 * lane q * width + r. Lanes past `count` are zeroed: the kernel always computes whole tiles, and
 * the entries it computes from padding, which are dropped, should not come from stale data.
 */
function packFromRows(
  src: FloatArray,
  base: number,
  ld: number,
  count: number,
  kc: number,
  width: number,
  dst: Float64Array,
): void {
  for (let t0 = 0; t0 < count; t0 += width) {
    const panel = t0 * kc;
    for (let r = 0; r < width; r++) {
      let d = panel + r;
      if (t0 + r < count) {
        const s = base + (t0 + r) * ld;
        for (let p = 0; p < kc; p++) {
          dst[d] = src[s + p];
          d += width;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          dst[d] = 0;
          d += width;
        }
      }
    }
  }
}

/**
 * Same layout as {@link packFromRows}, for lanes that are strided in memory: lane t's element p is
 * `src[base + p * ld + t]`. Walking p outermost reads each source row once, front to back.
 */
function packFromColumns(
  src: FloatArray,
  base: number,
  ld: number,
  count: number,
  kc: number,
  width: number,
  dst: Float64Array,
): void {
  const full = count - (count % width);
  const panelStride = width * kc;
  for (let p = 0; p < kc; p++) {
    const s = base + p * ld;
    let d = p * width;
    let t = 0;
    for (; t < full; t += width) {
      for (let r = 0; r < width; r++) dst[d + r] = src[s + t + r];
      d += panelStride;
    }
    if (t < count) {
      for (let r = 0; r < width; r++) dst[d + r] = t + r < count ? src[s + t + r] : 0;
    }
  }
}

/**
 * The 4 x 4 micro-kernel: out tile (row stride `ldo`, at `o`) = (or +=) the packed A panel at `ai`
 * times the packed B panel at `bi`, over `kc` steps. The 16 sums live in locals so V8 can keep
 * them in registers; each step loads 8 values for 16 multiply-adds. The indices advance in the
 * loop body rather than in the for-update clause, which V8 ran measurably (~5%) faster. Larger
 * tiles (4 x 5, 5 x 4) and shapes like 4 x 3 or 2 x 6 measured no better.
 */
function kernel(
  pa: Float64Array,
  ai: number,
  pb: Float64Array,
  bi: number,
  kc: number,
  out: FloatArray,
  o: number,
  ldo: number,
  accumulate: boolean,
): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  for (let p = 0; p < kc; p++) {
    const a0 = pa[ai], a1 = pa[ai + 1], a2 = pa[ai + 2], a3 = pa[ai + 3];
    const b0 = pb[bi], b1 = pb[bi + 1], b2 = pb[bi + 2], b3 = pb[bi + 3];
    c00 += a0 * b0;
    c01 += a0 * b1;
    c02 += a0 * b2;
    c03 += a0 * b3;
    c10 += a1 * b0;
    c11 += a1 * b1;
    c12 += a1 * b2;
    c13 += a1 * b3;
    c20 += a2 * b0;
    c21 += a2 * b1;
    c22 += a2 * b2;
    c23 += a2 * b3;
    c30 += a3 * b0;
    c31 += a3 * b1;
    c32 += a3 * b2;
    c33 += a3 * b3;
    ai += 4;
    bi += 4;
  }
  const o1 = o + ldo, o2 = o1 + ldo, o3 = o2 + ldo;
  if (accumulate) {
    out[o] += c00;
    out[o + 1] += c01;
    out[o + 2] += c02;
    out[o + 3] += c03;
    out[o1] += c10;
    out[o1 + 1] += c11;
    out[o1 + 2] += c12;
    out[o1 + 3] += c13;
    out[o2] += c20;
    out[o2 + 1] += c21;
    out[o2 + 2] += c22;
    out[o2 + 3] += c23;
    out[o3] += c30;
    out[o3 + 1] += c31;
    out[o3 + 2] += c32;
    out[o3 + 3] += c33;
  } else {
    out[o] = c00;
    out[o + 1] = c01;
    out[o + 2] = c02;
    out[o + 3] = c03;
    out[o1] = c10;
    out[o1 + 1] = c11;
    out[o1 + 2] = c12;
    out[o1 + 3] = c13;
    out[o2] = c20;
    out[o2 + 1] = c21;
    out[o2 + 2] = c22;
    out[o2 + 3] = c23;
    out[o3] = c30;
    out[o3 + 1] = c31;
    out[o3 + 2] = c32;
    out[o3 + 3] = c33;
  }
}
