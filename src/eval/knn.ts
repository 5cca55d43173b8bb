/** k-nearest-neighbour classification from a {@link Neighbours} search, and its error rate. */
import { MagnetInputError } from "../errors.ts";
import type { Neighbours } from "./neighbours.ts";

/**
 * Predicts each query's label by a majority vote among its `k` nearest references.
 *
 * Ties between classes with the same number of votes go to the class whose nearest member among the
 * k comes first in the neighbour order (the order of {@link Neighbours.indices}: by distance, then
 * by reference index). With k = 1 this is plain nearest-neighbour classification, and for any k the
 * answer depends only on the ranking, never on label values.
 *
 * @param neighbours a search with `neighbours.k >= k`
 * @param referenceLabels the label of every reference row the search indexed
 * @param k how many of the nearest neighbours vote (1 <= k <= neighbours.k)
 * @returns one predicted label per query
 * @throws {MagnetInputError} when k is out of range or a neighbour index has no label
 *
 * @example
 * ```ts
 * const nn = { k: 3, indices: new Int32Array([2, 0, 1]), distances: new Float32Array([1, 2, 3]) };
 * knnClassify(nn, new Int32Array([7, 8, 9]), 3); // [9]: three classes tie, reference 2 is nearest
 * ```
 */
export function knnClassify(
  neighbours: Neighbours,
  referenceLabels: Int32Array,
  k: number,
): Int32Array {
  const stride = neighbours.k;
  if (!Number.isInteger(k) || k < 1 || k > stride) {
    throw new MagnetInputError(
      `knnClassify: k must be an integer in [1, ${stride}] (the neighbours searched), got ${k}`,
    );
  }
  if (neighbours.indices.length % stride !== 0) {
    throw new MagnetInputError(
      `knnClassify: ${neighbours.indices.length} neighbour indices are not a multiple of k = ${stride}`,
    );
  }
  const nQuery = neighbours.indices.length / stride;
  const predicted = new Int32Array(nQuery);
  // A label's first vote comes from its nearest member, so the rank of that vote is what settles a
  // tie; it must be remembered because the leader can change more than once as votes arrive.
  const votes = new Map<number, number>();
  const firstRank = new Map<number, number>();
  for (let q = 0; q < nQuery; q++) {
    votes.clear();
    firstRank.clear();
    let best = 0, bestVotes = 0, bestFirst = 0;
    for (let r = 0; r < k; r++) {
      const ref = neighbours.indices[q * stride + r];
      if (ref < 0 || ref >= referenceLabels.length) {
        throw new MagnetInputError(
          `knnClassify: query ${q} has neighbour ${ref}, but there are ${referenceLabels.length} ` +
            `reference labels`,
        );
      }
      const label = referenceLabels[ref];
      const count = (votes.get(label) ?? 0) + 1;
      votes.set(label, count);
      if (count === 1) firstRank.set(label, r);
      const first = firstRank.get(label)!;
      if (count > bestVotes || (count === bestVotes && first < bestFirst)) {
        best = label;
        bestVotes = count;
        bestFirst = first;
      }
    }
    predicted[q] = best;
  }
  return predicted;
}

/**
 * The fraction of `predicted` labels that differ from `labels`, in [0, 1].
 *
 * @throws {MagnetInputError} when the lengths differ or there is nothing to compare
 */
export function errorRate(predicted: Int32Array, labels: Int32Array): number {
  if (predicted.length !== labels.length) {
    throw new MagnetInputError(
      `errorRate: ${predicted.length} predictions for ${labels.length} labels`,
    );
  }
  if (labels.length === 0) {
    throw new MagnetInputError("errorRate: no labels, so there is no error rate");
  }
  let wrong = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] !== labels[i]) wrong++;
  return wrong / labels.length;
}
