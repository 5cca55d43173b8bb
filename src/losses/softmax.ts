/**
 * Softmax cross-entropy over a linear classifier head on the embeddings: the classification baseline
 * the paper compares with.
 */
import { ShapeError } from "../errors.ts";
import { add, matmul, mul, reshape, sub, sum } from "../graph/ops.ts";
import { logSumExp, mean, oneHotFloat } from "../graph/functions.ts";
import { formatShape, type Tensor } from "../graph/tensor.ts";

/** The softmax loss graph's outputs. */
export interface SoftmaxLossGraph {
  /** Scalar: mean cross-entropy. */
  readonly loss: Tensor;
  /** [N, numClasses]: the head's logits. */
  readonly logits: Tensor;
}

/**
 * Mean cross-entropy of `embeddings` [N, dim] through the head `weights` [dim, C] and `bias` [C],
 * against `classes` [N] (float class ids in [0, C)).
 */
export function softmaxLoss(
  embeddings: Tensor,
  classes: Tensor,
  weights: Tensor,
  bias: Tensor,
): SoftmaxLossGraph {
  const n = embeddings.shape[0];
  const c = weights.shape[1];
  if (
    embeddings.rank !== 2 || weights.rank !== 2 || weights.shape[0] !== embeddings.shape[1] ||
    bias.size !== c || classes.size !== n
  ) {
    throw new ShapeError(
      "softmaxLoss",
      `expects embeddings [N, dim], classes [N], weights [dim, C], bias [C]; got ${
        [embeddings, classes, weights, bias].map((t) => formatShape(t.shape)).join(", ")
      }`,
    );
  }
  const logits = add(matmul(embeddings, weights), reshape(bias, [1, c]));
  const target = sum(mul(logits, oneHotFloat(classes, c)), 1);
  return { loss: mean(sub(logSumExp(logits, 1), target)), logits };
}
