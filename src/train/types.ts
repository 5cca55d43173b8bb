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
import type { WorkProgress } from "../util/work.ts";

/** A point of the training history. */
export interface HistoryPoint {
  /** Steps done. */
  iteration: number;
  /** Mean training loss over the steps since the previous point (null at iteration 0). */
  loss: number | null;
  /** Seconds of training so far (steps, refreshes and evaluations). */
  seconds: number;
  /** Test metrics, on test evaluation points. */
  test?: EvalMetrics;
  /** Validation metrics, on validation evaluation points. */
  validation?: EvalMetrics;
}

/** Which rows an evaluation measured: the validation rows (during training) or the test rows. */
export type EvalSplit = "validation" | "test";

/** Which long phase of a run is under way: an index build or refresh, or an evaluation. */
export type Phase = "index" | "evaluation";

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
    /** The rows measured. */
    split: EvalSplit;
    /** Whether this evaluation became the best so far (validation evaluations only). */
    best: boolean;
  }
  | {
    /** A refresh or evaluation under way: how far its current stage is. */
    kind: "phase";
    phase: Phase;
    iteration: number;
    /** For an evaluation: the rows it measures. */
    split?: EvalSplit;
    progress: WorkProgress;
  }
  | {
    /** Something the user should know once (the loss has been exactly 0 for long, say). */
    kind: "note";
    iteration: number;
    message: string;
  }
  | {
    /** The run stops early: `evaluations` validation evaluations in a row did not improve. */
    kind: "early-stop";
    iteration: number;
    evaluations: number;
    /** The step of the best evaluation. */
    bestIteration: number;
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
  /**
   * Test data: the final report's evaluation, and the evaluations on the schedule when there are
   * no validation rows (none: no evaluation).
   */
  test?: Dataset<Features>;
  /**
   * The pretrained network of a run with `model: "backbone"` (from `readOnnx`); on resume its
   * structure alone will do, the weights coming from the saved state.
   */
  backbone?: OnnxSource;
  /**
   * Validation data: the evaluations on the schedule, which choose the model kept (`keep`) and
   * stop the run early (`earlyStop`). Never the test rows. Null or absent: none.
   */
  validation?: Dataset<Features> | null;
  /** Called with progress events. */
  onProgress?: (event: TrainEvent) => void;
  /**
   * Stops the run, state intact, when aborted: at the next step boundary, or within a chunk of an
   * index refresh or evaluation (which is then redone on resume).
   */
  signal?: AbortSignal;
  /** Steps between calls of `onCheckpoint` (0: never). */
  checkpointEvery?: number;
  /** Receives the state at each checkpoint (before that step's refresh and evaluation). */
  onCheckpoint?: (state: TrainerState) => Promise<void> | void;
  /**
   * The clock the run's times are read from, in milliseconds (default `performance.now`): a
   * process's CPU time, say, measures its work apart from what else the machine runs.
   */
  clock?: () => number;
  /** Steps queued before the oldest result is awaited (default 0 on the CPU, 3 on WebGPU). */
  pipelineDepth?: number;
  /**
   * The steps after which to evaluate, in place of every `evalEvery` steps (the end is always
   * evaluated): for curves sampled where they change, denser early than late.
   */
  evalAt?: readonly number[];
}

/**
 * A run's settings: any of {@link TrainConfig}, the rest at their defaults (those that depend on
 * the data fitted to it: see train/schedule.ts); `epochs` gives the run's length in passes over
 * the training rows instead of `iterations`.
 */
export type TrainOptions = Partial<TrainConfig> & { epochs?: number };

/** The model a run keeps, and why. */
export interface KeptModel {
  /** "best": the evaluation with the lowest validation error; "last": the last step. */
  rule: "best" | "last";
  /** The step whose parameters these are. */
  iteration: number;
  /**
   * The metric that judges it on the validation rows: the loss's own rule's error (null without
   * validation rows).
   */
  metric: "magnetError" | "knnError" | null;
  /** Its value for this model (null without validation rows). */
  value: number | null;
}

/** The best validation evaluation so far, with the model's variables at that step. */
export interface BestState {
  /** The step of the evaluation. */
  iteration: number;
  /** The loss's own rule's error on the validation rows. */
  value: number;
  /** The model's parameters and state (not the optimizer's). */
  variables: Record<string, Float32Array>;
  /** The running batch variance's sum at that step (the magnet rule's width is sum / count). */
  varianceSum: number;
  /** The number of batch variances in that sum. */
  varianceCount: number;
}

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
  /** The best validation evaluation so far (null: none yet, or no validation rows). */
  best: BestState | null;
  /** Validation evaluations since the best one (for early stopping). */
  sinceBest: number;
  /** Whether the run has stopped early (a resumed run does not go on). */
  stopped: boolean;
  /** Steps in a row whose loss was exactly 0, and whether that was said. */
  zeroLoss: { steps: number; noted: boolean };
}

/** The outcome of `Trainer.run`. */
export interface TrainResult {
  /** "completed", or "interrupted" when the signal stopped it. */
  status: "completed" | "interrupted";
  /** Steps done. */
  iterations: number;
  /** Whether the run stopped early (`earlyStop` validation evaluations without improvement). */
  stoppedEarly: boolean;
  /** The model kept (null when interrupted). */
  kept: KeptModel | null;
  /**
   * The final evaluation of the kept model on the test rows (null when there is no test set or
   * the run was interrupted).
   */
  test: EvalMetrics | null;
  /** The kept model's validation metrics (null without validation rows). */
  validation: EvalMetrics | null;
  /** Loss and evaluation history. */
  history: HistoryPoint[];
  /** The running mean of the batch variance s2 of the kept model (null for the baselines). */
  variance: number | null;
  /** Where the time went. */
  timings: TrainTimings;
  /** Total seconds. */
  seconds: number;
  /** The trained model, holding the kept parameters (they live on the backend). */
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
