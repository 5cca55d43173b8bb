/**
 * The paper's classification rule (section 3.3): a query's class is the one with the largest soft
 * vote over its L nearest cluster centres, each centre voting exp(-|x - mu|^2 / (2 s2)) for its
 * class, with s2 the running mean of the training batches' variance.
 */
import { MagnetInputError } from "../errors.ts";
import type { Backend } from "../backend/backend.ts";
import type { ClusterIndex } from "../index/cluster_index.ts";
import { nearestNeighbours, type Neighbours } from "./neighbours.ts";
import type { WorkOptions } from "../util/work.ts";

/** Centres voting per query unless told otherwise (the paper's L). */
export const DEFAULT_VOTING_CLUSTERS = 128;

/**
 * The class each query gets from votes of its nearest centres (`neighbours` of the queries among the
 * centres, nearest first), for centres of classes `clusterClass`. Ties go to the lower class id.
 */
export function magnetVote(
  neighbours: Neighbours,
  clusterClass: Int32Array,
  variance: number,
): Int32Array {
  return magnetVotes(neighbours, clusterClass, variance).predicted;
}

/**
 * {@link magnetVote}'s classes, with each winner's share of its query's whole vote (in (0, 1]: 1
 * when every voting centre is of the winning class).
 */
export function magnetVotes(
  neighbours: Neighbours,
  clusterClass: Int32Array,
  variance: number,
): { predicted: Int32Array; share: Float32Array } {
  if (!(variance > 0) || !Number.isFinite(variance)) {
    throw new MagnetInputError(`the magnet rule needs a positive finite variance, got ${variance}`);
  }
  const { k, indices, distances } = neighbours;
  const n = indices.length / k;
  const predicted = new Int32Array(n);
  const share = new Float32Array(n);
  const votes = new Map<number, number>();
  for (let q = 0; q < n; q++) {
    votes.clear();
    // Shifting by the nearest distance keeps exp from underflowing; it scales every vote alike.
    const nearest = distances[q * k];
    let total = 0;
    for (let j = 0; j < k; j++) {
      const c = clusterClass[indices[q * k + j]];
      const vote = Math.exp(-(distances[q * k + j] - nearest) / (2 * variance));
      votes.set(c, (votes.get(c) ?? 0) + vote);
      total += vote;
    }
    let best = -1, bestScore = -Infinity;
    for (const [c, score] of votes) {
      if (score > bestScore || (score === bestScore && c < best)) {
        best = c;
        bestScore = score;
      }
    }
    predicted[q] = best;
    share[q] = bestScore / total;
  }
  return { predicted, share };
}

/**
 * Classifies `queries` (n x index.dim) with the magnet rule over the L nearest of `index`'s centres
 * (all of them when there are fewer than L). `work` may stop it (see {@link nearestNeighbours}).
 */
export async function magnetClassify(
  backend: Backend,
  queries: Float32Array,
  index: ClusterIndex,
  variance: number,
  votingClusters: number = DEFAULT_VOTING_CLUSTERS,
  work: WorkOptions = {},
): Promise<Int32Array> {
  const l = Math.min(votingClusters, index.numClusters);
  const neighbours = await nearestNeighbours(backend, queries, index.centres, index.dim, l, {
    signal: work.signal,
  });
  return magnetVote(neighbours, index.clusterClass, variance);
}
