/**
 * How a trained embedding assigns classes, as data a model file can keep: the magnet rule over the
 * cluster index's centres (with the running mean of the batch variance), or k-NN against the
 * training embeddings for the baselines. Evaluation builds one; saved models carry one.
 */
import type { Backend } from "../backend/backend.ts";
import { ClusterIndex } from "../index/cluster_index.ts";
import { knnClassify } from "./knn.ts";
import { magnetClassify } from "./magnet_rule.ts";
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
  if (classifier.kind === "magnet") {
    const { centres, centreClasses, variance, votingClusters } = classifier;
    const index = new ClusterIndex(dim, centres, centreClasses, new Int32Array(0), []);
    return await magnetClassify(backend, embeddings, index, variance, votingClusters);
  }
  const k = Math.min(classifier.k, classifier.referenceLabels.length);
  const neighbours = await nearestNeighbours(backend, embeddings, classifier.references, dim, k);
  return knnClassify(neighbours, classifier.referenceLabels, k);
}
