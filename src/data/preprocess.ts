/**
 * Feature standardisation for users' own data: each column shifted by its training mean and divided
 * by its training standard deviation (constant columns are only shifted). A saved model keeps these
 * so new rows are embedded exactly as the training rows were.
 */

/** Per-column shift and scale. */
export interface Standardization {
  /** Training mean of each column. */
  mean: Float32Array;
  /** Training standard deviation of each column (1 for constant columns). */
  scale: Float32Array;
}

/** The mean and standard deviation of each of the `dim` columns of `features`. */
export function fitStandardization(features: Float32Array, dim: number): Standardization {
  const n = features.length / dim;
  const mean = new Float64Array(dim);
  const squares = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) mean[d] += features[i * dim + d];
  }
  for (let d = 0; d < dim; d++) mean[d] /= Math.max(n, 1);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) squares[d] += (features[i * dim + d] - mean[d]) ** 2;
  }
  const scale = new Float32Array(dim);
  for (let d = 0; d < dim; d++) {
    const std = Math.sqrt(squares[d] / Math.max(n, 1));
    scale[d] = std > 1e-12 ? std : 1;
  }
  return { mean: Float32Array.from(mean), scale };
}

/** `features` standardised with `s` (a new array). */
export function standardize(features: Float32Array, dim: number, s: Standardization): Float32Array {
  const out = new Float32Array(features.length);
  for (let i = 0; i < features.length; i++) {
    const d = i % dim;
    out[i] = (features[i] - s.mean[d]) / s.scale[d];
  }
  return out;
}
