/** The float64 reference every matrix-product test measures against. */

/** Anything indexable by number: typed arrays of either width. */
type Values = ArrayLike<number>;

/**
 * op(A) * op(B) (m x n, inner size k; op transposes when asked) in float64 by the definition, with,
 * for each entry, the sum of |a||b| over its terms: the scale rounding errors are measured against
 * (entries that cancel to nearly zero would make a plain relative error meaningless).
 */
export function matmulReference(
  a: Values,
  b: Values,
  m: number,
  n: number,
  k: number,
  transposeA: boolean,
  transposeB: boolean,
): { value: Float64Array; scale: Float64Array } {
  const value = new Float64Array(m * n);
  const scale = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      let abs = 0;
      for (let p = 0; p < k; p++) {
        const x = transposeA ? a[p * m + i] : a[i * k + p];
        const y = transposeB ? b[j * k + p] : b[p * n + j];
        sum += x * y;
        abs += Math.abs(x * y);
      }
      value[i * n + j] = sum;
      scale[i * n + j] = abs;
    }
  }
  return { value, scale };
}
