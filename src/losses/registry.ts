/**
 * The losses a model can be trained with, as registered pieces: each says how its batches are
 * drawn, how its embedding classifies, the smallest batch it works on, and builds its graph with
 * named outputs. The trainer reads only this, so a new loss is its own file and one line here.
 */
import { gather, reshape } from "../graph/ops.ts";
import { type Tensor, Variable } from "../graph/tensor.ts";
import { Random } from "../util/random.ts";
import { magnetLoss, type VarianceForm } from "./magnet.ts";
import { softmaxLoss } from "./softmax.ts";
import { tripletLoss, type TripletMining } from "./triplet.ts";

/** A training batch as graph inputs: M clusters (or groups) of rows. */
export interface BatchTensors {
  /** [N, dim]: the model's embeddings of the batch's rows. */
  readonly embeddings: Tensor;
  /** [N] int32: each row's cluster, in [0, M). */
  readonly clusterOf: Tensor;
  /** [M] float: each cluster's class. */
  readonly clusterClasses: Tensor;
  /** M. */
  readonly numClusters: number;
}

/** The settings losses read (a part of the trainer's configuration). */
export interface LossSettings {
  /** The magnet margin. */
  readonly alpha: number;
  /** The triplet margin. */
  readonly tripletMargin: number;
  /** How triplet negatives are chosen. */
  readonly tripletMining: TripletMining;
  /** The magnet loss's variance term: the paper's, or the widely copied squared form. */
  readonly varianceForm: VarianceForm;
  /** Width of the embeddings (the softmax head's input). */
  readonly embeddingDim: number;
  /** Seed of the loss's own initial values. */
  readonly seed: number;
}

/** What a loss graph gives the trainer, by name. */
export interface LossOutputs {
  /** Scalar: the loss to minimise. */
  readonly loss: Tensor;
  /** [N]: each row's loss, which neighbourhood sampling weighs clusters by. */
  readonly exampleLosses?: Tensor;
  /** Scalar: the batch's variance s2, whose running mean the magnet rule votes with. */
  readonly variance?: Tensor;
}

/** One trainable loss. */
export interface TrainingLoss {
  /**
   * "neighbourhood": a seed cluster of the index and its nearest impostor clusters (needs the
   * cluster index, refreshed as training goes); "classes": M classes of D examples each.
   */
  readonly batches: "neighbourhood" | "classes";
  /** How the trained embedding classifies: the magnet rule over the index, or k-NN. */
  readonly rule: "magnet" | "knn";
  /** The smallest M (clusters or classes per batch) it can learn from. */
  readonly minM: number;
  /** The smallest D (rows per cluster or class) it can learn from. */
  readonly minD: number;
  /** Variables of its own (a classifier head), made once per run; none by default. */
  variables?(settings: LossSettings, classes: number): Variable[];
  /** The loss graph of a batch, given the variables made by {@link TrainingLoss.variables}. */
  build(batch: BatchTensors, settings: LossSettings, variables: readonly Variable[]): LossOutputs;
}

/** Each row's class, gathered from its cluster's. */
function rowClasses(batch: BatchTensors): Tensor {
  const classes = reshape(batch.clusterClasses, [batch.numClusters, 1]);
  return reshape(gather(classes, batch.clusterOf), [batch.clusterOf.size]);
}

const magnet: TrainingLoss = {
  batches: "neighbourhood",
  rule: "magnet",
  // Impostor clusters of another class, and each cluster's spread measured from its D rows.
  minM: 2,
  minD: 2,
  build(batch, settings) {
    const out = magnetLoss({
      ...batch,
      alpha: settings.alpha,
      varianceForm: settings.varianceForm,
    });
    return { loss: out.loss, exampleLosses: out.losses, variance: out.variance };
  },
};

const triplet: TrainingLoss = {
  batches: "classes",
  rule: "knn",
  // Negatives need a second class; positives a second row of the class.
  minM: 2,
  minD: 2,
  build(batch, settings) {
    const { loss } = tripletLoss(batch.embeddings, rowClasses(batch), {
      margin: settings.tripletMargin,
      mining: settings.tripletMining,
    });
    return { loss };
  },
};

const softmax: TrainingLoss = {
  batches: "classes",
  rule: "knn",
  minM: 1,
  minD: 1,
  variables(settings, classes) {
    // Glorot-scaled head, seeded apart from the model's own weights.
    const rng = new Random(settings.seed + 7);
    const std = Math.sqrt(2 / (settings.embeddingDim + classes));
    return [
      new Variable(
        "head.weight",
        [settings.embeddingDim, classes],
        Float32Array.from({ length: settings.embeddingDim * classes }, () => rng.normal() * std),
      ),
      new Variable("head.bias", [classes]),
    ];
  },
  build(batch, _settings, [weight, bias]) {
    const g = batch.embeddings.graph;
    const { loss } = softmaxLoss(
      batch.embeddings,
      rowClasses(batch),
      g.variable(weight),
      g.variable(bias),
    );
    return { loss };
  },
};

/** Every loss, by the name settings and the command line use. */
export const LOSSES = { magnet, triplet, softmax } as const;

/** The name of a registered loss. */
export type LossKind = keyof typeof LOSSES;

/** Whether `name` is a registered loss. */
export function isLossKind(name: string): name is LossKind {
  return Object.hasOwn(LOSSES, name);
}
