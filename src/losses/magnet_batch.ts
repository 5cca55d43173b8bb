/**
 * The magnet loss on plain typed arrays: checks the batch, maps cluster ids to the graph's layout,
 * and runs the same graph the trainer uses (compiled once per backend and batch shape).
 */
import { MagnetInputError } from "../errors.ts";
import { checkAlpha, FLOAT32_MAX } from "./limits.ts";
import { gradients } from "../graph/autodiff.ts";
import { Graph } from "../graph/tensor.ts";
import type { Backend, Executable } from "../backend/backend.ts";
import { magnetLoss } from "./magnet.ts";
import { compileOnce } from "../backend/compile_once.ts";

/** A batch for {@link computeMagnetLoss}. */
export interface MagnetBatch {
  /** N x dim rows, row-major. */
  embeddings: Float32Array;
  /** Length of each row. */
  dim: number;
  /** N cluster ids: any integers; rows need not be grouped; clusters may differ in size. */
  clusters: Int32Array;
  /** N class labels; all rows of a cluster share one. */
  classes: Int32Array;
  /** The margin alpha. Default 1. */
  alpha?: number;
}

/** The loss of a batch and its gradient. */
export interface MagnetResult {
  /** Mean of the per-example losses. */
  loss: number;
  /** Per-example losses l_n (N). */
  losses: Float32Array;
  /** The batch variance s2. */
  variance: number;
  /** d loss / d embeddings, N x dim. */
  gradient: Float32Array;
}

/** A batch checked and laid out for the graph. */
interface CheckedBatch {
  n: number;
  numClusters: number;
  clusterOf: Int32Array;
  clusterClasses: Float32Array;
}

/** Checks a batch; every problem is a {@link MagnetInputError} naming the row or cluster. */
function checkBatch(batch: MagnetBatch): CheckedBatch {
  const { embeddings, dim, clusters, classes } = batch;
  if (!Number.isInteger(dim) || dim < 1) {
    throw new MagnetInputError(`dim must be a positive integer, got ${dim}`);
  }
  if (embeddings.length % dim !== 0) {
    throw new MagnetInputError(
      `embeddings has ${embeddings.length} values, not a multiple of dim = ${dim}`,
    );
  }
  const n = embeddings.length / dim;
  if (n < 2) throw new MagnetInputError(`the batch needs at least 2 rows, got ${n}`);
  if (clusters.length !== n) {
    throw new MagnetInputError(`clusters has ${clusters.length} entries for ${n} rows`);
  }
  if (classes.length !== n) {
    throw new MagnetInputError(`classes has ${classes.length} entries for ${n} rows`);
  }
  checkAlpha(batch.alpha ?? 1);
  for (let i = 0; i < embeddings.length; i++) {
    const v = embeddings[i];
    if (!Number.isFinite(v) || Math.abs(v) > FLOAT32_MAX) {
      const beyond = Number.isFinite(v) ? `, beyond the float32 range (±${FLOAT32_MAX})` : "";
      throw new MagnetInputError(
        `embeddings row ${Math.floor(i / dim)}, column ${i % dim} is ${v}${beyond}`,
      );
    }
  }
  // Clusters and classes are renumbered densely: the graph takes class ids as floats, which would
  // merge ids above 2^24.
  const index = new Map<number, number>();
  const classIndex = new Map<number, number>();
  const clusterOf = new Int32Array(n);
  const clusterClass: number[] = [];
  const firstRow: number[] = [];
  for (let i = 0; i < n; i++) {
    let m = index.get(clusters[i]);
    if (m === undefined) {
      m = index.size;
      index.set(clusters[i], m);
      clusterClass.push(classes[i]);
      firstRow.push(i);
    } else if (clusterClass[m] !== classes[i]) {
      throw new MagnetInputError(
        `cluster ${clusters[i]} mixes classes: row ${firstRow[m]} has class ${
          clusterClass[m]
        }, row ${i} has class ${classes[i]}`,
      );
    }
    clusterOf[i] = m;
  }
  if (new Set(clusterClass).size < 2) {
    throw new MagnetInputError(
      `the batch's clusters all have class ${clusterClass[0]}: the magnet loss needs clusters of ` +
        "at least two classes (an impostor cluster)",
    );
  }
  const clusterClasses = Float32Array.from(clusterClass, (c) => {
    if (!classIndex.has(c)) classIndex.set(c, classIndex.size);
    return classIndex.get(c)!;
  });
  return { n, numClusters: index.size, clusterOf, clusterClasses };
}

const SCOPE = {};

/** The compiled loss-and-gradient graph for a batch shape, built once per backend. */
function executableFor(backend: Backend, n: number, dim: number, m: number): Promise<Executable> {
  return compileOnce(backend, SCOPE, `${n}x${dim}/${m}`, () => {
    const g = new Graph();
    const embeddings = g.input("embeddings", [n, dim]);
    const { loss, losses, unitVariance, scale } = magnetLoss({
      embeddings,
      clusterOf: g.input("clusterOf", [n], "int32"),
      clusterClasses: g.input("clusterClasses", [m]),
      numClusters: m,
      alpha: g.input("alpha", []),
    });
    const [gradient] = gradients(loss, [embeddings]);
    return backend.compile({ outputs: [loss, losses, unitVariance, scale, gradient] });
  });
}

/**
 * The Magnet loss (paper eq. 5) of a batch, with its gradient with respect to the embeddings.
 *
 * @example
 * ```ts
 * const backend = await createBackend({ kind: "cpu" });
 * const { loss, gradient } = await computeMagnetLoss(backend, {
 *   embeddings: new Float32Array([0, 0, 0, 1, 5, 5, 5, 6]),
 *   dim: 2,
 *   clusters: new Int32Array([0, 0, 1, 1]),
 *   classes: new Int32Array([0, 0, 1, 1]),
 * });
 * ```
 */
export async function computeMagnetLoss(
  backend: Backend,
  batch: MagnetBatch,
): Promise<MagnetResult> {
  const checked = checkBatch(batch);
  const exe = await executableFor(backend, checked.n, batch.dim, checked.numClusters);
  const [loss, losses, unitVariance, scale, gradient] = await exe.run({
    embeddings: batch.embeddings,
    clusterOf: checked.clusterOf,
    clusterClasses: checked.clusterClasses,
    alpha: [batch.alpha ?? 1],
  });
  // In float64, so that the variance of embeddings near the float32 limit does not overflow.
  const variance = unitVariance[0] * scale[0] * scale[0];
  if (!(variance > 0)) {
    throw new MagnetInputError(
      "the batch has no within-cluster variance (every row equals its cluster mean, e.g. all " +
        "clusters have a single row): the magnet loss is undefined",
    );
  }
  return {
    loss: loss[0],
    losses: Float32Array.from(losses),
    variance,
    gradient: Float32Array.from(gradient),
  };
}
