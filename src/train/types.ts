/**
 * The types of a training run: its setup and settings, the events it reports, its resumable state
 * and its result.
 */
import type { Backend } from "../backend/backend.ts";
import type { Dataset, Features } from "../data/dataset.ts";
import type { EvalMetrics, Evaluation } from "../eval/evaluate.ts";
import type { Classifier } from "../eval/classifier.ts";
import type { ClusterIndex } from "../index/cluster_index.ts";
import type { Model } from "../nn/model.ts";
import type { OnnxSource } from "../nn/onnx/source.ts";
import type { SamplerState } from "../sample/neighbourhood.ts";
import type { TrainConfig } from "./config.ts";

/** A point of the training history. */
export interface HistoryPoint {
  /** Steps done. */
  iteration: number;
  /** Mean training loss over the steps since the previous point (null at iteration 0). */
  loss: number | null;
  /** Seconds of training so far (steps, refreshes and evaluations). */
  seconds: number;
  /** Test metrics, on evaluation points. */
  test?: EvalMetrics;
}

/** What the trainer reports while it runs. */
export type TrainEvent =
  | {
    kind: "step";
    iteration: number;
    iterations: number;
    /** Mean loss of the recent steps. */
    loss: number;
    stepsPerSecond: number;
    etaSeconds: number;
  }
  | { kind: "refresh"; iteration: number; seconds: number; clusters: number }
  | {
    kind: "eval";
    iteration: number;
    seconds: number;
    metrics: EvalMetrics;
    /** The whole evaluation: its embeddings and index too (what a live map draws). */
    evaluation: Evaluation;
  };

/**
 * What a run works with besides its settings: the backend, the data and the hooks. Settings
 * (`TrainOptions`) come apart, as the second argument of `train` and `Trainer.create`.
 */
export interface TrainSetup {
  /** The backend that runs the graphs. */
  backend: Backend;
  /** Training data. */
  train: Dataset<Features>;
  /** Test data, for evaluation (none: no evaluation). */
  test?: Dataset<Features>;
  /**
   * The pretrained network of a run with `model: "backbone"` (from `readOnnx`); on resume its
   * structure alone will do, the weights coming from the saved state.
   */
  backbone?: OnnxSource;
  /** Called with progress events. */
  onProgress?: (event: TrainEvent) => void;
  /** Stops the run at the next step boundary, state intact, when aborted. */
  signal?: AbortSignal;
  /** Steps between calls of `onCheckpoint` (0: never). */
  checkpointEvery?: number;
  /** Receives the state at each checkpoint (before that step's refresh and evaluation). */
  onCheckpoint?: (state: TrainerState) => Promise<void> | void;
  /** Steps queued before the oldest result is awaited (default 0 on the CPU, 3 on WebGPU). */
  pipelineDepth?: number;
  /**
   * The steps after which to evaluate, in place of every `evalEvery` steps (the end is always
   * evaluated): for curves sampled where they change, denser early than late.
   */
  evalAt?: readonly number[];
}

/** A run's settings: any of {@link TrainConfig}, the rest at their defaults. */
export type TrainOptions = Partial<TrainConfig>;

/** Timing of a run, in seconds. */
export interface TrainTimings {
  /** Time in training steps (sampling, running, reading losses). */
  steps: number;
  /** Steps timed. */
  stepCount: number;
  /** Time in index refreshes. */
  refresh: number;
  /** Refreshes timed. */
  refreshCount: number;
  /** Time in evaluations. */
  eval: number;
  /** Evaluations timed. */
  evalCount: number;
}

/** The whole state of a run at a step boundary: enough to resume it exactly. */
export interface TrainerState {
  /** Format version. */
  version: 1;
  /** The run's settings. */
  config: TrainConfig;
  /** Steps done. */
  iteration: number;
  /** State of the sampling generator. */
  rng: [number, number, number, number];
  /** State of the augmentation's generator (null when the run does not augment). */
  augmentRng: [number, number, number, number] | null;
  /** Every variable (parameters, optimizer state, classifier head) by name. */
  variables: Record<string, Float32Array>;
  /** The cluster index in use (magnet only). */
  index: { centres: Float32Array; clusterClass: Int32Array; assignment: Int32Array } | null;
  /** The sampler's loss bookkeeping (magnet only). */
  sampler: SamplerState | null;
  /** Sum of the batch variances so far. */
  varianceSum: number;
  /** Number of batch variances summed. */
  varianceCount: number;
  /** Losses since the last history point. */
  window: { sum: number; count: number };
  /** History so far. */
  history: HistoryPoint[];
  /** Seconds of training so far. */
  seconds: number;
  /** Where the time went. */
  timings: TrainTimings;
}

/** The outcome of `Trainer.run`. */
export interface TrainResult {
  /** "completed", or "interrupted" when the signal stopped it. */
  status: "completed" | "interrupted";
  /** Steps done. */
  iterations: number;
  /** The final evaluation (null when there is no test set or the run was interrupted). */
  test: EvalMetrics | null;
  /** Loss and evaluation history. */
  history: HistoryPoint[];
  /** The running mean of the batch variance s2 (null for the baselines). */
  variance: number | null;
  /** Where the time went. */
  timings: TrainTimings;
  /** Total seconds. */
  seconds: number;
  /** The trained model (its parameters live on the backend). */
  model: Model;
  /** The index of the final evaluation or last refresh (magnet only). */
  index: ClusterIndex | null;
  /** Test embeddings of the final evaluation. */
  testEmbeddings: Float32Array | null;
  /** Training embeddings of the final evaluation. */
  trainEmbeddings: Float32Array | null;
  /**
   * How the trained model classifies (the final evaluation's, or made from the training set when
   * there was none); null when the run was interrupted. A saved model keeps it.
   */
  classifier: Classifier | null;
}
