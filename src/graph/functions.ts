/**
 * Composite functions built from the primitive ops. They need no kernels and no gradients of their
 * own: both come from the ops they are made of.
 */
import { ShapeError } from "../errors.ts";
import {
  add,
  div,
  equal,
  exp,
  gather,
  isFinite,
  log,
  matmul,
  max,
  maximum,
  mul,
  neg,
  reshape,
  segmentSum,
  square,
  stopGradient,
  sub,
  sum,
  where,
} from "./ops.ts";
import { formatShape, type Tensor } from "./tensor.ts";

/** Sum of every element, as a scalar. */
export function sumAll(x: Tensor): Tensor {
  return sum(reshape(x, [x.size]), 0);
}

/**
 * 1 when every element of every tensor is finite, else 0 (a float scalar of the first tensor's
 * graph). It counts the non-finite elements, whose sum is 0 exactly when there are none, however
 * the device rounds: a guard that cannot be fooled by NaN arithmetic. Tensors of one shape (an
 * optimizer's parameter and its moments) are counted element by element together and summed once,
 * so a backend that fuses elementwise work reads each of them once and reduces once per shape.
 */
export function allFinite(tensors: readonly Tensor[]): Tensor {
  if (tensors.length === 0) throw new ShapeError("allFinite", "needs at least one tensor");
  const byShape = new Map<string, Tensor>();
  for (const t of tensors) {
    const key = formatShape(t.shape);
    const flags = sub(1, isFinite(t));
    const before = byShape.get(key);
    byShape.set(key, before === undefined ? flags : add(before, flags));
  }
  let bad: Tensor | null = null;
  for (const flags of byShape.values()) {
    const count = sumAll(flags);
    bad = bad === null ? count : add(bad, count);
  }
  return equal(bad!, 0);
}

/** Mean of every element (no axis) or along `axis`. */
export function mean(x: Tensor, axis?: number, keepDims = false): Tensor {
  if (axis === undefined) return div(sumAll(x), x.size);
  const a = axis < 0 ? axis + x.rank : axis;
  return div(sum(x, a, keepDims), x.shape[a] ?? 1);
}

/** Minimum along `axis`. */
export function min(x: Tensor, axis: number, keepDims = false): Tensor {
  return neg(max(neg(x), axis, keepDims));
}

/**
 * log(sum(exp(x))) along `axis`, shifted by the maximum so it neither overflows nor underflows.
 * The shift carries no gradient: it cancels exactly.
 */
export function logSumExp(x: Tensor, axis: number, keepDims = false): Tensor {
  const shift = stopGradient(max(x, axis, true));
  const out = add(log(sum(exp(sub(x, shift)), axis, true)), shift);
  return keepDims ? out : reshape(out, out.shape.filter((_, i) => i !== normalize(axis, x.rank)));
}

/** The value that stands for "excluded" in {@link maskedLogSumExp}: exp of it is exactly 0. */
export const MASKED_LOGIT = -1e30;

/**
 * log(sum over the entries where `mask` is nonzero of exp(x)) along `axis`. Every row must have at
 * least one entry in the mask (callers check that: an empty set has no log-sum).
 */
export function maskedLogSumExp(x: Tensor, mask: Tensor, axis: number, keepDims = false): Tensor {
  return logSumExp(where(mask, x, MASKED_LOGIT), axis, keepDims);
}

/** Means of the rows of `x` grouped by `segmentIds`; an empty segment's mean is 0. */
export function segmentMean(x: Tensor, segmentIds: Tensor, numSegments: number): Tensor {
  const ones = x.graph.constant(new Float64Array(x.shape[0]).fill(1), [x.shape[0], 1]);
  const counts = segmentSum(ones, segmentIds, numSegments);
  return div(segmentSum(x, segmentIds, numSegments), maximum(counts, 1));
}

/**
 * Squared Euclidean distances between the rows of `a` [n, d] and of `b` [m, d], as [n, m], through
 * |a|^2 + |b|^2 - 2 a.b (one matrix product; clamped at 0 against rounding). For large n and m.
 *
 * Both sets are first moved by `b`'s first row, which changes no distance: so rows far from the
 * origin (embeddings drift during long runs) do not lose their distances to the cancellation of
 * large squares. A row of the data rather than a mean keeps exact data exact (integer rows stay
 * integers, so ties stay ties). The shift carries no gradient, and needs none: no distance
 * depends on it.
 */
export function squaredDistances(a: Tensor, b: Tensor): Tensor {
  if (a.rank !== 2 || b.rank !== 2 || a.shape[1] !== b.shape[1]) {
    throw new ShapeError(
      "squaredDistances",
      `expects [n, d] and [m, d], got ${formatShape(a.shape)} and ${formatShape(b.shape)}`,
    );
  }
  const centre = stopGradient(gather(b, b.graph.constant([0], [1], "int32"))); // [1, d]
  const ac = sub(a, centre);
  const bc = sub(b, centre);
  const aa = sum(square(ac), 1, true); // [n, 1]
  const bb = reshape(sum(square(bc), 1), [1, b.shape[0]]); // [1, m]
  return maximum(sub(add(aa, bb), mul(matmul(ac, bc, false, true), 2)), 0);
}

/**
 * Squared Euclidean distances between the rows of `a` [n, d] and of `b` [m, d], as [n, m], through
 * explicit differences: exact and translation-safe, with an [n, m, d] intermediate. For small batches.
 */
export function squaredDistancesExact(a: Tensor, b: Tensor): Tensor {
  if (a.rank !== 2 || b.rank !== 2 || a.shape[1] !== b.shape[1]) {
    throw new ShapeError(
      "squaredDistancesExact",
      `expects [n, d] and [m, d], got ${formatShape(a.shape)} and ${formatShape(b.shape)}`,
    );
  }
  const [n, d] = a.shape;
  const m = b.shape[0];
  const diff = sub(reshape(a, [n, 1, d]), reshape(b, [1, m, d]));
  return sum(square(diff), 2);
}

/**
 * One-hot rows from float class ids: `labels` [n] against `numClasses` columns, as [n, numClasses].
 * (For int32 indices use the `oneHot` op.)
 */
export function oneHotFloat(labels: Tensor, numClasses: number): Tensor {
  const n = labels.size;
  const range = labels.graph.constant(
    Float64Array.from({ length: numClasses }, (_, i) => i),
    [1, numClasses],
  );
  return equal(reshape(labels, [n, 1]), range);
}

function normalize(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}
