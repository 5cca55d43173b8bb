/**
 * The Magnet loss (Rippel et al., ICLR 2016, eq. 5) as a graph, computed in log space.
 *
 * For rows r_n with cluster means mu_m (the means of each cluster's rows in the batch) and the
 * batch variance s2 = sum_n |r_n - mu(n)|^2 / (N - 1):
 *
 *   l_n = max(0, |r_n - mu(n)|^2 / (2 s2) + alpha + log sum_{m : class(m) != class(n)} exp(-|r_n - mu_m|^2 / (2 s2)))
 *
 * and the loss is the mean of l_n. Gradients flow through the means and through s2. Widely copied
 * ports divide by 2 s2^2 instead of 2 s2, which makes the loss depend on the scale of the embeddings;
 * here scaling every row by any factor leaves the loss unchanged, as the paper's definition does.
 *
 * Because the loss changes under neither a shift nor a scaling of the whole batch, the graph first
 * moves the batch to its mean and divides it by its largest coordinate. Then every distance is
 * exact to float32 rounding whatever the embeddings' offset (no cancellation of large squares), and
 * no square overflows whatever their scale. Neither step carries a gradient, and none is needed:
 * L(r) = L((r - c) / s) for any constants c and s > 0, so the gradient with c and s held constant
 * is the whole gradient.
 */
import { ShapeError } from "../errors.ts";
import {
  abs,
  add,
  div,
  equal,
  gather,
  max,
  maximum,
  mul,
  neg,
  relu,
  reshape,
  square,
  stopGradient,
  sub,
  sum,
} from "../graph/ops.ts";
import {
  maskedLogSumExp,
  mean,
  segmentMean,
  squaredDistances,
  sumAll,
} from "../graph/functions.ts";
import { formatShape, type Tensor } from "../graph/tensor.ts";

/** The magnet loss graph's inputs. */
export interface MagnetLossInputs {
  /** [N, dim] rows. */
  readonly embeddings: Tensor;
  /** [N] int32: the cluster of each row, in [0, numClusters). */
  readonly clusterOf: Tensor;
  /** [numClusters] float: the class of each cluster (class ids as numbers). */
  readonly clusterClasses: Tensor;
  /** Number of clusters in the batch (M). */
  readonly numClusters: number;
  /** The margin alpha: a number, or a scalar tensor (so one compiled graph serves every alpha). */
  readonly alpha: Tensor | number;
  /**
   * "paper" (the default) divides squared distances by 2 s2, as eq. 5 does. "squared" divides by
   * 2 s2^2, the mistake of widely copied ports, which makes the loss depend on the embeddings'
   * scale: it exists only so that the ablation experiment can measure what the mistake costs. It
   * centres the batch but does not rescale it (the rescaling is exact only for the paper's form).
   */
  readonly varianceForm?: VarianceForm;
}

/** How the magnet loss divides by the variance; see {@link MagnetLossInputs.varianceForm}. */
export type VarianceForm = "paper" | "squared";

/** The magnet loss graph's outputs. */
export interface MagnetLossGraph {
  /** Scalar: the mean of the per-example losses. */
  readonly loss: Tensor;
  /** [N]: l_n. */
  readonly losses: Tensor;
  /**
   * Scalar: s2, the batch's within-cluster variance (float32: it overflows for embeddings beyond
   * about 1e19, where `unitVariance * scale^2` computed in float64 does not).
   */
  readonly variance: Tensor;
  /** Scalar: s2 divided by `scale` squared, the form the loss computes with. */
  readonly unitVariance: Tensor;
  /** Scalar: the largest coordinate of the batch about its mean (the unit of `unitVariance`). */
  readonly scale: Tensor;
  /** [numClusters, dim]: the batch cluster means. */
  readonly means: Tensor;
}

/** Below this, a batch counts as all one point (its variance is then 0 and the loss undefined). */
const SMALLEST_SCALE = 1e-30;

/** Builds the magnet loss of a batch. Validation of the batch's contents is the caller's. */
export function magnetLoss(inputs: MagnetLossInputs): MagnetLossGraph {
  const { embeddings: r, clusterOf, clusterClasses, numClusters: m, alpha } = inputs;
  if (r.rank !== 2 || r.shape[0] < 2) {
    throw new ShapeError(
      "magnetLoss",
      `embeddings must be [N >= 2, dim], got ${formatShape(r.shape)}`,
    );
  }
  const n = r.shape[0];
  if (clusterOf.dtype !== "int32" || clusterOf.size !== n) {
    throw new ShapeError("magnetLoss", `clusterOf must be int32 [${n}], got ${clusterOf}`);
  }
  if (clusterClasses.dtype !== "float" || clusterClasses.size !== m) {
    throw new ShapeError(
      "magnetLoss",
      `clusterClasses must be float [${m}], got ${clusterClasses}`,
    );
  }
  const dim = r.shape[1];
  const centre = stopGradient(mean(r, 0, true)); // [1, dim]
  const centred = sub(r, centre);
  const squaredForm = inputs.varianceForm === "squared";
  const scale = squaredForm ? r.graph.constant([1], []) : stopGradient(
    maximum(max(reshape(abs(centred), [n * dim]), 0), SMALLEST_SCALE),
  );
  const unit = squaredForm ? centred : div(centred, scale); // [N, dim], in [-1, 1] for "paper"
  const unitMeans = segmentMean(unit, clusterOf, m); // [M, dim]
  const ownDistance = sum(square(sub(unit, gather(unitMeans, clusterOf))), 1); // [N]
  const unitVariance = div(sumAll(ownDistance), n - 1);
  const twoVariance = mul(squaredForm ? square(unitVariance) : unitVariance, 2);
  const classes = reshape(clusterClasses, [m, 1]);
  const rowClass = gather(classes, clusterOf); // [N, 1]
  const impostor = sub(1, equal(rowClass, reshape(classes, [1, m]))); // [N, M]
  // Distances to every mean through one matrix product: exact enough for the impostor terms, which
  // are never near 0 relative to their size (a row's own distance, which can be, is computed above
  // from explicit differences and is masked out here).
  const logits = neg(div(squaredDistances(unit, unitMeans), twoVariance)); // [N, M]
  const impostorTerm = maskedLogSumExp(logits, impostor, 1); // [N]
  const losses = relu(add(add(div(ownDistance, twoVariance), alpha), impostorTerm));
  return {
    loss: mean(losses),
    losses,
    variance: mul(unitVariance, square(scale)),
    unitVariance,
    scale,
    means: add(mul(unitMeans, scale), centre),
  };
}
