/**
 * Triplet loss with a margin on the same batch layout as the magnet loss (rows with class labels):
 * "batch all" over every valid triplet, or "semi-hard" negatives (FaceNet). Distances are Euclidean.
 */
import { ShapeError } from "../errors.ts";
import {
  add,
  div,
  equal,
  greater,
  max,
  maximum,
  mul,
  relu,
  reshape,
  sqrt,
  sub,
  where,
} from "../graph/ops.ts";
import { min, squaredDistancesExact, sumAll } from "../graph/functions.ts";
import { formatShape, type Tensor } from "../graph/tensor.ts";

/** How negatives are chosen. */
export type TripletMining = "all" | "semihard";

/** Options of {@link tripletLoss}. */
export interface TripletLossOptions {
  /** The margin. Default 0.2. */
  readonly margin?: number;
  /** "all" (default): mean over the triplets with a positive loss; "semihard": one negative per pair. */
  readonly mining?: TripletMining;
}

/** The triplet loss graph's outputs. */
export interface TripletLossGraph {
  /** Scalar loss. */
  readonly loss: Tensor;
  /** Scalar: the fraction of valid triplets (all) or pairs (semihard) with a positive loss. */
  readonly activeFraction: Tensor;
  /**
   * Scalar: how many valid triplets (all) or anchor-positive pairs with some negative (semihard)
   * the batch holds. A batch of one class has none: its loss is 0 and it teaches nothing.
   */
  readonly count: Tensor;
}

const FAR = 1e30;

/**
 * Builds the triplet loss of `embeddings` [N, dim] with `classes` [N] (float class ids).
 * Batch all: the mean of max(0, d(a,p) - d(a,n) + margin) over triplets where it is positive
 * (0 when none is). Semi-hard: for each positive pair, the closest negative farther than the
 * positive, or the farthest negative when none is, averaged over all positive pairs.
 */
export function tripletLoss(
  embeddings: Tensor,
  classes: Tensor,
  options: TripletLossOptions = {},
): TripletLossGraph {
  const margin = options.margin ?? 0.2;
  const mining = options.mining ?? "all";
  if (embeddings.rank !== 2 || classes.size !== embeddings.shape[0]) {
    throw new ShapeError(
      "tripletLoss",
      `expects embeddings [N, dim] and classes [N], got ${formatShape(embeddings.shape)} and ${
        formatShape(classes.shape)
      }`,
    );
  }
  const n = embeddings.shape[0];
  const g = embeddings.graph;
  // The clamp keeps sqrt's gradient finite where a distance is 0 (an anchor with itself).
  const dist = sqrt(maximum(squaredDistancesExact(embeddings, embeddings), 1e-12)); // [N, N]
  const sameClass = equal(reshape(classes, [n, 1]), reshape(classes, [1, n]));
  const notSelf = g.constant(
    Float64Array.from({ length: n * n }, (_, i) => (Math.floor(i / n) === i % n ? 0 : 1)),
    [n, n],
  );
  const positive = mul(sameClass, notSelf); // [a, p]
  const negative = sub(1, sameClass); // [a, n]

  if (mining === "all") {
    const dAP = reshape(dist, [n, n, 1]);
    const dAN = reshape(dist, [n, 1, n]);
    const valid = mul(reshape(positive, [n, n, 1]), reshape(negative, [n, 1, n])); // [a, p, n]
    const losses = mul(relu(add(sub(dAP, dAN), margin)), valid);
    const active = sumAll(mul(greater(losses, 0), valid));
    const count = sumAll(valid);
    return {
      loss: div(sumAll(losses), maximum(active, 1)),
      activeFraction: div(active, maximum(count, 1)),
      count,
    };
  }
  if (mining !== "semihard") {
    throw new ShapeError("tripletLoss", `unknown mining "${mining}": expected "all" or "semihard"`);
  }
  const dAP = reshape(dist, [n, n, 1]); // [a, p, 1]
  const dAN = reshape(dist, [n, 1, n]); // [a, 1, n]
  const negative3 = reshape(negative, [n, 1, n]);
  const farther = mul(greater(dAN, dAP), negative3); // [a, p, n]
  const closestFarther = min(where(farther, dAN, FAR), 2); // [a, p]
  const hasFarther = max(farther, 2); // [a, p]
  const farthest = max(where(negative, dist, -FAR), 1, true); // [a, 1]
  const chosen = where(hasFarther, closestFarther, farthest); // [a, p]
  // An anchor without any negative has no triplet: its pairs would meet the -FAR sentinel.
  const hasNegative = max(negative, 1, true); // [a, 1]
  const valid = mul(positive, hasNegative); // [a, p]
  const losses = mul(relu(add(sub(dist, where(hasNegative, chosen, 0)), margin)), valid);
  const count = sumAll(valid);
  const pairs = maximum(count, 1);
  return {
    loss: div(sumAll(losses), pairs),
    activeFraction: div(sumAll(mul(greater(losses, 0), valid)), pairs),
    count,
  };
}
