/**
 * One evaluation of an embedding model: test queries against training references. The magnet rule
 * (when a variance is known), k-NN classification, and the retrieval metrics, plus NMI of k-means on
 * the test embeddings.
 */
import type { Backend } from "../backend/backend.ts";
import { MagnetInputError } from "../errors.ts";
import type { Dataset, Features } from "../data/dataset.ts";
import { buildClusterIndex, type ClusterIndex } from "../index/cluster_index.ts";
import type { Model } from "../nn/model.ts";
import type { Classifier } from "./classifier.ts";
import { embed } from "../nn/embed.ts";
import { errorRate, knnClassify } from "./knn.ts";
import { DEFAULT_VOTING_CLUSTERS, magnetClassify } from "./magnet_rule.ts";
import { forEachNeighbours, type Neighbours } from "./neighbours.ts";
import { kmeansNmi } from "./nmi.ts";
import { RetrievalScorer } from "./retrieval.ts";
import { Pacer, type WorkOptions } from "../util/work.ts";

/** Test metrics; errors are fractions in [0, 1]. */
export interface EvalMetrics {
  /** Error of the magnet rule, or null when no variance is known (the baselines). */
  magnetError: number | null;
  /** Error of k-NN classification against the training set. */
  knnError: number;
  /** Precision@1 (pytorch-metric-learning's precision_at_1). */
  precisionAt1: number;
  /** R-precision (r_precision). */
  rPrecision: number;
  /** MAP@R (mean_average_precision_at_r). */
  mapAtR: number;
  /** NMI of k-means on the test embeddings (as many clusters as classes) against the labels. */
  nmi: number;
}

/**
 * Options of {@link evaluate}. Its progress goes through the stages "embedding" (the reference
 * and query rows together), "clustering" (the magnet rule's index), "searching" (queries) and
 * "scoring" (NMI); an aborted signal stops it within a chunk of any of them.
 */
export interface EvaluateOptions extends WorkOptions {
  /** The running mean of the training batches' s2; null skips the magnet rule. */
  readonly variance: number | null;
  /** K of the cluster index the magnet rule votes over. */
  readonly clustersPerClass: number;
  /** Seed of the index's and NMI's k-means. */
  readonly seed: number;
  /** L: centres voting per query. Default 128. */
  readonly votingClusters?: number;
  /** k of k-NN. Default 5. */
  readonly knnK?: number;
  /** An index to vote with, instead of clustering the training embeddings anew. */
  readonly index?: ClusterIndex;
  /**
   * The training (reference) rows' embeddings under the model's current parameters, when they are
   * at hand already (a cluster index was refreshed at the same step): they are not made again.
   */
  readonly trainEmbeddings?: Float32Array;
}

/** What {@link evaluate} measured, with the embeddings it made. */
export interface Evaluation {
  /** The metrics. */
  readonly metrics: EvalMetrics;
  /** Embeddings of the training (reference) rows. */
  readonly trainEmbeddings: Float32Array;
  /** Embeddings of the test (query) rows. */
  readonly testEmbeddings: Float32Array;
  /** The index the magnet rule voted with (null without a variance). */
  readonly index: ClusterIndex | null;
  /** How the model classified: what a saved model keeps to classify new rows the same way. */
  readonly classifier: Classifier;
}

/** Evaluates `model` on `test` with `train` as the reference set. */
export async function evaluate(
  backend: Backend,
  model: Model,
  train: Dataset<Features>,
  test: Dataset<Features>,
  options: EvaluateOptions,
): Promise<Evaluation> {
  const dim = model.outputDim;
  const { signal, onProgress } = options;
  const nTrain = train.labels.length, nTest = test.labels.length;
  // The two embeddings report as one stage over all the rows.
  const rowsFrom = (offset: number): WorkOptions["onProgress"] =>
    onProgress &&
    ((p) => onProgress({ stage: "embedding", done: offset + p.done, total: nTrain + nTest }));
  if (options.trainEmbeddings !== undefined && options.trainEmbeddings.length !== nTrain * dim) {
    throw new MagnetInputError(
      `the training rows' embeddings hold ${options.trainEmbeddings.length} values, expected ` +
        `${nTrain} rows x ${dim}`,
    );
  }
  const trainEmbeddings = options.trainEmbeddings ??
    await embed(backend, model, train.features, { signal, onProgress: rowsFrom(0) });
  const testEmbeddings = await embed(backend, model, test.features, {
    signal,
    onProgress: rowsFrom(nTrain),
  });
  let magnetError: number | null = null;
  let index: ClusterIndex | null = null;
  if (options.variance !== null) {
    index = options.index ??
      await buildClusterIndex(backend, trainEmbeddings, dim, train.labels, {
        clustersPerClass: options.clustersPerClass,
        seed: options.seed,
        signal,
        onProgress,
      });
    const predicted = await magnetClassify(
      backend,
      testEmbeddings,
      index,
      options.variance,
      options.votingClusters ?? DEFAULT_VOTING_CLUSTERS,
      { signal },
    );
    magnetError = errorRate(predicted, test.labels);
  }
  // One streamed search serves k-NN and the retrieval metrics: k covers the largest class (R) and
  // k-NN's k; each query is scored as it comes, and only its k-NN neighbours are kept.
  const knnK = Math.min(options.knnK ?? 5, train.labels.length);
  const scorer = new RetrievalScorer(test.labels, train.labels);
  const k = Math.max(knnK, scorer.neighboursNeeded);
  const nearest: Neighbours = {
    k: knnK,
    indices: new Int32Array(test.labels.length * knnK),
    distances: new Float32Array(test.labels.length * knnK),
  };
  await forEachNeighbours(backend, testEmbeddings, trainEmbeddings, dim, k, (q, indices, d) => {
    nearest.indices.set(indices.subarray(0, knnK), q * knnK);
    nearest.distances.set(d.subarray(0, knnK), q * knnK);
    scorer.add(q, indices);
  }, { signal, onProgress });
  const knnError = errorRate(knnClassify(nearest, train.labels, knnK), test.labels);
  const retrieval = scorer.result();
  const pacer = new Pacer(options, "the evaluation");
  await pacer.tick({ stage: "scoring", done: 0, total: 1 });
  const nmi = kmeansNmi(testEmbeddings, dim, test.labels, options.seed);
  pacer.options.onProgress?.({ stage: "scoring", done: 1, total: 1 });
  const classifier: Classifier = index !== null && options.variance !== null
    ? {
      kind: "magnet",
      centres: index.centres,
      centreClasses: index.clusterClass,
      variance: options.variance,
      votingClusters: options.votingClusters ?? DEFAULT_VOTING_CLUSTERS,
    }
    : { kind: "knn", references: trainEmbeddings, referenceLabels: train.labels, k: knnK };
  return {
    metrics: { magnetError, knnError, ...retrieval, nmi },
    trainEmbeddings,
    testEmbeddings,
    index,
    classifier,
  };
}
