/**
 * Principal component analysis in two dimensions, for the report's embedding map: the top two
 * components of a float64 covariance by power iteration, the share of variance they explain, and
 * the projection of any rows onto them. Deterministic: the result depends only on the input.
 */
import { MagnetInputError } from "../errors.ts";

/** A fitted 2-D principal component analysis. */
export interface Pca {
  /** Mean of the fitted rows, dim values. */
  mean: Float64Array;
  /** The two unit components, dim values each (a zero vector where the data has no variance). */
  components: [Float64Array, Float64Array];
  /** Variance along each component. */
  variances: [number, number];
  /** Total variance (the trace of the covariance). */
  totalVariance: number;
}

/**
 * Projects row-major `points` (n x dim) onto their top two principal components, and `extra` rows
 * (cluster centres, say) with the same mean and components, so both land in one coordinate system.
 *
 * The components come from a power iteration with deflation on the float64 covariance, started from
 * a fixed vector, so the result depends only on the input. Each component's sign is fixed by making
 * its largest-magnitude entry positive. Where the data has fewer than two directions of variance
 * (dim 1, or all points on a line), the missing coordinate is 0.
 *
 * @returns `points`: n x 2 coordinates; `extra`: m x 2 coordinates, or null without `extra`
 * @throws {MagnetInputError} when `dim` is not a positive integer or a length is not a multiple of it
 *
 * @example
 * ```ts
 * const { points } = projectTo2d(new Float32Array([0, 0, 0, 2, 0, 0, 4, 0, 1]), 3);
 * // points ~ [-2, -0.33, 0, 0.67, 2, -0.33] (up to the sign convention)
 * ```
 */
export function projectTo2d(
  points: Float32Array,
  dim: number,
  extra?: Float32Array,
): { points: Float32Array; extra: Float32Array | null } {
  checkRows("projectTo2d: points", points, dim);
  if (extra) checkRows("projectTo2d: extra", extra, dim);
  const pca = fitPca(points, dim);
  return {
    points: applyPca(pca, points, dim),
    extra: extra ? applyPca(pca, extra, dim) : null,
  };
}

/** Checks that `dim` is a positive integer and `rows` holds whole rows of it. */
export function checkRows(what: string, rows: Float32Array, dim: number): void {
  if (!Number.isInteger(dim) || dim < 1) {
    throw new MagnetInputError(`${what}: dim must be a positive integer, got ${dim}`);
  }
  if (rows.length % dim !== 0) {
    throw new MagnetInputError(`${what}: length ${rows.length} is not a multiple of dim ${dim}`);
  }
}

/** Fits the top two principal components of row-major `points` (n x dim). */
export function fitPca(points: Float32Array, dim: number): Pca {
  const n = points.length / dim;
  const mean = new Float64Array(dim);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < dim; j++) mean[j] += points[r * dim + j];
  }
  if (n > 0) { for (let j = 0; j < dim; j++) mean[j] /= n; }
  // Forming the dim x dim covariance once makes each power step cost dim^2 instead of n * dim; the
  // embeddings are far narrower than the test set is long.
  const cov = new Float64Array(dim * dim);
  const centred = new Float64Array(dim);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < dim; j++) centred[j] = points[r * dim + j] - mean[j];
    for (let i = 0; i < dim; i++) {
      const ci = centred[i];
      if (ci === 0) continue;
      const row = i * dim;
      for (let j = i; j < dim; j++) cov[row + j] += ci * centred[j];
    }
  }
  const scale = n > 0 ? 1 / n : 0;
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      const v = cov[i * dim + j] * scale;
      cov[i * dim + j] = v;
      cov[j * dim + i] = v;
    }
  }
  let totalVariance = 0;
  for (let i = 0; i < dim; i++) totalVariance += cov[i * dim + i];
  const first = powerIteration(cov, dim, []);
  const second = powerIteration(cov, dim, [first.vector]);
  return {
    mean,
    components: [first.vector, second.vector],
    variances: [first.value, second.value],
    totalVariance,
  };
}

/**
 * The dominant eigenvector of the symmetric PSD matrix `cov` within the orthogonal complement of
 * `previous`. Re-orthogonalising every step (rather than subtracting lambda v v^T from the matrix
 * once) keeps rounding from leaking the earlier components back in.
 */
function powerIteration(
  cov: Float64Array,
  dim: number,
  previous: Float64Array[],
): { vector: Float64Array; value: number } {
  let v = new Float64Array(dim);
  // A fixed start vector with no symmetry (fractional parts of multiples of the golden ratio), so
  // it is never exactly orthogonal to an axis-aligned or evenly spread eigenvector.
  for (let i = 0; i < dim; i++) v[i] = 0.5 + ((i + 1) * 0.6180339887498949) % 1;
  if (!orthonormalise(v, previous)) return { vector: new Float64Array(dim), value: 0 };
  let w = new Float64Array(dim);
  let value = 0;
  let scale = 0;
  for (let i = 0; i < dim; i++) scale = Math.max(scale, cov[i * dim + i]);
  for (let iter = 0; iter < 5000; iter++) {
    for (let i = 0; i < dim; i++) {
      let s = 0;
      const row = i * dim;
      for (let j = 0; j < dim; j++) s += cov[row + j] * v[j];
      w[i] = s;
    }
    let rayleigh = 0;
    for (let i = 0; i < dim; i++) rayleigh += v[i] * w[i];
    value = rayleigh;
    // The residual |C v - lambda v| bounds the distance to an eigenpair, so it is the stopping rule
    // that does not depend on the (unknown) gap between eigenvalues.
    let residual = 0;
    for (let i = 0; i < dim; i++) residual += (w[i] - rayleigh * v[i]) ** 2;
    if (!orthonormalise(w, previous)) {
      // Nothing of C v is left outside the earlier components: no variance in this direction.
      return { vector: new Float64Array(dim), value: 0 };
    }
    [v, w] = [w, v];
    if (Math.sqrt(residual) <= 1e-12 * Math.max(scale, 1e-300)) break;
  }
  // The sign of an eigenvector is arbitrary; fixing it keeps the map's orientation stable.
  let big = 0;
  for (let i = 1; i < dim; i++) if (Math.abs(v[i]) > Math.abs(v[big]) + 1e-12) big = i;
  if (v[big] < 0) { for (let i = 0; i < dim; i++) v[i] = -v[i]; }
  return { vector: v, value: Math.max(value, 0) };
}

/** Removes the `basis` directions from `v` and normalises it; false when nothing is left. */
function orthonormalise(v: Float64Array, basis: Float64Array[]): boolean {
  let before = 0;
  for (let i = 0; i < v.length; i++) before += v[i] * v[i];
  // Twice, because one Gram-Schmidt pass leaves rounding-sized components behind.
  for (let pass = 0; pass < 2; pass++) {
    for (const b of basis) {
      let dot = 0;
      for (let i = 0; i < v.length; i++) dot += v[i] * b[i];
      for (let i = 0; i < v.length; i++) v[i] -= dot * b[i];
    }
  }
  let norm = 0;
  for (let i = 0; i < v.length; i++) norm += v[i] * v[i];
  if (!(norm > 1e-24 * before) || !(norm > 0) || !Number.isFinite(norm)) return false;
  const inv = 1 / Math.sqrt(norm);
  for (let i = 0; i < v.length; i++) v[i] *= inv;
  return true;
}

/** Projects row-major `rows` (n x dim) onto the fitted components: n x 2 coordinates. */
export function applyPca(pca: Pca, rows: Float32Array, dim: number): Float32Array {
  const n = rows.length / dim;
  const out = new Float32Array(n * 2);
  const [a, b] = pca.components;
  for (let r = 0; r < n; r++) {
    let x = 0, y = 0;
    for (let j = 0; j < dim; j++) {
      const c = rows[r * dim + j] - pca.mean[j];
      x += c * a[j];
      y += c * b[j];
    }
    out[2 * r] = x;
    out[2 * r + 1] = y;
  }
  return out;
}

/**
 * The share of the total variance along each of the two components, as fractions in [0, 1]; null
 * when the data has no variance at all (every point equal, or none).
 */
export function explainedShares(pca: Pca): [number, number] | null {
  if (!(pca.totalVariance > 0)) return null;
  const share = (v: number) => Math.min(1, Math.max(0, v / pca.totalVariance));
  return [share(pca.variances[0]), share(pca.variances[1])];
}
