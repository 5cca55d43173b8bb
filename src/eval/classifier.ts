/**
 * How a trained embedding assigns classes, as data a model file can keep: the magnet rule over the
 * cluster index's centres (with the running mean of the batch variance), or k-NN against the
 * training embeddings for the baselines. Evaluation builds one; saved models carry one.
 */
import type { Backend } from "../backend/backend.ts";
import { knnClassify } from "./knn.ts";
import { magnetVotes } from "./magnet_rule.ts";
import { nearestNeighbours } from "./neighbours.ts";

/** How a model assigns classes to embeddings. */
export type Classifier =
  | {
    kind: "magnet";
    /** Cluster centres (n x embedding dim) and their classes. */
    centres: Float32Array;
    centreClasses: Int32Array;
    /** The running mean of the training batches' variance. */
    variance: number;
    /** L: the centres voting for each query. */
    votingClusters: number;
  }
  | {
    kind: "knn";
    /** Training embeddings and their classes. */
    references: Float32Array;
    referenceLabels: Int32Array;
    k: number;
  };

/** The class of each of `embeddings` (n x `dim`) under `classifier`. */
export async function classifyEmbeddings(
  backend: Backend,
  classifier: Classifier,
  embeddings: Float32Array,
  dim: number,
): Promise<Int32Array> {
  return (await classifyWithVotes(backend, classifier, embeddings, dim)).predicted;
}

/**
 * {@link classifyEmbeddings}'s classes with each winner's share of the vote, in (0, 1]: of the
 * magnet rule's soft vote, or of the k nearest references.
 */
export async function classifyWithVotes(
  backend: Backend,
  classifier: Classifier,
  embeddings: Float32Array,
  dim: number,
): Promise<{ predicted: Int32Array; share: Float32Array }> {
  if (classifier.kind === "magnet") {
    const { centres, centreClasses, variance, votingClusters } = classifier;
    const l = Math.min(votingClusters, centreClasses.length);
    const neighbours = await nearestNeighbours(backend, embeddings, centres, dim, l);
    return magnetVotes(neighbours, centreClasses, variance);
  }
  const k = Math.min(classifier.k, classifier.referenceLabels.length);
  const neighbours = await nearestNeighbours(backend, embeddings, classifier.references, dim, k);
  const predicted = knnClassify(neighbours, classifier.referenceLabels, k);
  const share = new Float32Array(predicted.length);
  for (let q = 0; q < predicted.length; q++) {
    let votes = 0;
    for (let j = 0; j < k; j++) {
      if (classifier.referenceLabels[neighbours.indices[q * k + j]] === predicted[q]) votes++;
    }
    share[q] = votes / k;
  }
  return { predicted, share };
}
