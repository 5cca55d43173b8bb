/**
 * Normalized mutual information between labelings, and the clustering metric built on it: k-means on
 * the embeddings with as many clusters as classes, scored against the classes (the "NMI" of
 * pytorch-metric-learning's `AccuracyCalculator`).
 */
import { MagnetInputError } from "../errors.ts";
import { kmeansPlusPlus } from "../index/kmeans.ts";
import { Random } from "../util/random.ts";

/**
 * Normalized mutual information of two labelings of the same items, as scikit-learn's
 * `normalized_mutual_info_score` computes it with its default arithmetic normalisation:
 *
 *   NMI = MI(A, B) / ((H(A) + H(B)) / 2), natural logarithms,
 *   MI = sum_ij (n_ij / n) log(n n_ij / (a_i b_j)), H(A) = -sum_i (a_i / n) log(a_i / n),
 *
 * where n_ij counts the items with label i in A and j in B, and a_i, b_j are the label counts.
 * Label values are only names: any permutation of either labeling gives the same score.
 *
 * Edge cases follow scikit-learn: when both labelings put every item in one cluster (or there are no
 * items) the two agree perfectly and NMI is 1; when exactly one of them does, it carries no
 * information, MI is 0 and NMI is 0.
 *
 * @throws {MagnetInputError} when the labelings have different lengths
 *
 * @example
 * ```ts
 * normalizedMutualInformation(new Int32Array([0, 0, 1, 1]), new Int32Array([5, 5, 3, 3])); // 1
 * normalizedMutualInformation(new Int32Array([0, 0, 1, 1]), new Int32Array([0, 1, 0, 1])); // 0
 * ```
 */
export function normalizedMutualInformation(labelsA: Int32Array, labelsB: Int32Array): number {
  if (labelsA.length !== labelsB.length) {
    throw new MagnetInputError(
      `normalizedMutualInformation: labelings have ${labelsA.length} and ${labelsB.length} items`,
    );
  }
  const n = labelsA.length;
  const a = denseIds(labelsA), b = denseIds(labelsB);
  if (a.count <= 1 && b.count <= 1) return 1;
  // A single cluster has zero entropy, so MI is exactly 0; computing it would only add rounding.
  if (a.count === 1 || b.count === 1) return 0;
  const sizesA = new Float64Array(a.count), sizesB = new Float64Array(b.count);
  const joint = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    sizesA[a.ids[i]]++;
    sizesB[b.ids[i]]++;
    const cell = a.ids[i] * b.count + b.ids[i];
    joint.set(cell, (joint.get(cell) ?? 0) + 1);
  }
  let mi = 0;
  for (const [cell, count] of joint) {
    const i = Math.floor(cell / b.count), j = cell - i * b.count;
    // n n_ij and a_i b_j are integers held exactly, so a cell that matches the product of its
    // marginals gives a ratio of exactly 1 and contributes exactly 0: independent labelings score 0.
    mi += (count / n) * Math.log((n * count) / (sizesA[i] * sizesB[j]));
  }
  // MI is never negative; rounding can leave it a hair below 0 for independent labelings.
  mi = Math.max(mi, 0);
  const mean = (entropy(sizesA, n) + entropy(sizesB, n)) / 2;
  return mi / mean;
}

/**
 * The clustering quality of embeddings: k-means with k = the number of distinct labels (k-means++
 * seeding from `seed`, Lloyd iterations until no assignment changes or 100 iterations), scored with
 * {@link normalizedMutualInformation} against the labels. 1 means the clusters are the classes.
 *
 * @param rows the embeddings, row-major with `dim` columns
 * @param labels one class label per row
 * @param seed seeds the k-means++ initialisation, so the score is reproducible
 * @throws {MagnetInputError} when shapes disagree, there are no rows, or a value is not finite
 */
export function kmeansNmi(
  rows: Float32Array,
  dim: number,
  labels: Int32Array,
  seed: number,
): number {
  if (!Number.isInteger(dim) || dim < 1) {
    throw new MagnetInputError(`kmeansNmi: dim must be a positive integer, got ${dim}`);
  }
  if (rows.length !== labels.length * dim) {
    throw new MagnetInputError(
      `kmeansNmi: ${rows.length} values are not ${labels.length} rows (one per label) of ${dim}`,
    );
  }
  const k = denseIds(labels).count;
  const { assignments } = kmeans(rows, dim, k, new Random(seed));
  return normalizedMutualInformation(labels, assignments);
}

/** The result of {@link kmeans}. */
export interface KMeansResult {
  /** Cluster of every row, in [0, k). */
  assignments: Int32Array;
  /** Cluster centres, `k x dim` row-major. */
  centres: Float64Array;
  /** Lloyd iterations run (assignment passes). */
  iterations: number;
  /** Sum over rows of the squared distance to their centre. */
  inertia: number;
}

/**
 * Lloyd's k-means on the host, in float64, seeded with k-means++ (each next centre drawn with
 * probability proportional to its squared distance from the nearest centre chosen so far).
 *
 * Equal distances go to the lower-numbered centre, and a cluster that loses every row keeps its old
 * centre (it can win rows back later), so a given `random` state always gives the same clustering.
 *
 * @throws {MagnetInputError} when k is not in [1, number of rows] or a value is not finite
 */
export function kmeans(
  rows: Float32Array,
  dim: number,
  k: number,
  random: Random,
  maxIterations = 100,
): KMeansResult {
  if (!Number.isInteger(dim) || dim < 1 || rows.length % dim !== 0) {
    throw new MagnetInputError(`kmeans: ${rows.length} values are not rows of dim = ${dim}`);
  }
  const n = rows.length / dim;
  if (!Number.isInteger(k) || k < 1 || k > n) {
    throw new MagnetInputError(`kmeans: k must be an integer in [1, ${n}] for ${n} rows, got ${k}`);
  }
  for (let i = 0; i < rows.length; i++) {
    if (!Number.isFinite(rows[i])) {
      throw new MagnetInputError(
        `kmeans: row ${Math.floor(i / dim)}, column ${i % dim} is ${rows[i]}; rows must be finite`,
      );
    }
  }
  const centres = seedCentres(rows, dim, n, k, random);
  const assignments = new Int32Array(n).fill(-1);
  const sums = new Float64Array(k * dim);
  const counts = new Int32Array(k);
  let iterations = 0, inertia = 0;
  while (iterations < maxIterations) {
    iterations++;
    let changed = 0;
    inertia = 0;
    for (let i = 0; i < n; i++) {
      let best = 0, bestD = Infinity;
      for (let c = 0; c < k; c++) {
        const d = squaredDistance(rows, i * dim, centres, c * dim, dim);
        if (d < bestD) {
          bestD = d;
          best = c;
        }
      }
      inertia += bestD;
      if (assignments[i] !== best) {
        assignments[i] = best;
        changed++;
      }
    }
    if (changed === 0) break;
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const c = assignments[i];
      counts[c]++;
      for (let d = 0; d < dim; d++) sums[c * dim + d] += rows[i * dim + d];
    }
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0) continue;
      for (let d = 0; d < dim; d++) centres[c * dim + d] = sums[c * dim + d] / counts[c];
    }
  }
  return { assignments, centres, iterations, inertia };
}

/** k-means++ seeding (the one the cluster index uses), as float64 centres. */
function seedCentres(
  rows: Float32Array,
  dim: number,
  n: number,
  k: number,
  random: Random,
): Float64Array {
  const picks = kmeansPlusPlus(rows, dim, Int32Array.from({ length: n }, (_, i) => i), k, random);
  const centres = new Float64Array(k * dim);
  picks.forEach((row, c) => centres.set(rows.subarray(row * dim, (row + 1) * dim), c * dim));
  return centres;
}

function squaredDistance(
  rows: Float32Array,
  rowOffset: number,
  centres: Float64Array,
  centreOffset: number,
  dim: number,
): number {
  let s = 0;
  for (let d = 0; d < dim; d++) {
    const diff = rows[rowOffset + d] - centres[centreOffset + d];
    s += diff * diff;
  }
  return s;
}

/** Renumbers arbitrary label values as 0, 1, ... in order of first appearance. */
function denseIds(labels: Int32Array): { ids: Int32Array; count: number } {
  const ids = new Int32Array(labels.length);
  const seen = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) {
    let id = seen.get(labels[i]);
    if (id === undefined) {
      id = seen.size;
      seen.set(labels[i], id);
    }
    ids[i] = id;
  }
  return { ids, count: seen.size };
}

/** Entropy of a labeling from its cluster sizes, written like the MI terms so equal labelings give 1. */
function entropy(sizes: Float64Array, n: number): number {
  let h = 0;
  for (const s of sizes) if (s > 0) h += (s / n) * Math.log((n * s) / (s * s));
  return h;
}
