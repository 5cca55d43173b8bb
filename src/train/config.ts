/**
 * Training settings: every option of the trainer with its default, checked in one place so that a
 * bad value is one clear sentence wherever it comes from (the API, the command line, a checkpoint).
 */
import { MagnetInputError } from "../errors.ts";
import type { TripletMining } from "../losses/triplet.ts";
import { checkAlpha, FLOAT32_MAX } from "../losses/limits.ts";
import { isLossKind, LOSSES, type LossKind } from "../losses/registry.ts";
import type { VarianceForm } from "../losses/magnet.ts";
import type { SamplerKind } from "../sample/neighbourhood.ts";
import { MAX_TENSOR_ELEMENTS } from "../nn/size.ts";
import { AUGMENT_KINDS, type AugmentKind } from "../data/images/augment.ts";

export { MAX_TENSOR_ELEMENTS };

export type { AugmentKind, SamplerKind, VarianceForm };

export type { LossKind };

/** Which optimizer updates the parameters. */
export type OptimizerKind = "adam" | "sgd";

/**
 * Which model a run keeps: "best", the parameters of the evaluation with the lowest error of the
 * loss's own rule on the validation rows; "last", those of the last step.
 */
export type KeepRule = "best" | "last";

/** Every setting of a training run (all have defaults; see {@link resolveConfig}). */
export interface TrainConfig {
  /** Default "magnet". */
  loss: LossKind;
  /** The network: a multilayer perceptron, or a CNN for image data. Default "mlp". */
  model: ModelKind;
  /** Hidden (dense) layer widths; a CNN's come after its convolutions. Default [256, 128]. */
  hidden: number[];
  /** CNN only: channels of each 3 x 3 convolution block (each halves the image). Default [32, 64]. */
  conv: number[];
  /** CNN only: normalisation after each convolution. Default "batch". */
  norm: "batch" | "none";
  /**
   * Backbone only (an imported network, given to the run as `TrainSetup.backbone`): the value
   * taken as features. Default null: the network's output.
   */
  backboneOutput: string | null;
  /** Backbone only: keep its weights fixed and train the head alone. Default false. */
  freezeBackbone: boolean;
  /** Backbone only: its weights' learning rate relative to the head's. Default 1. */
  backboneLrScale: number;
  /** Backbone only: the input size [height, width] it gets. Default null: as its file declares. */
  backboneSize: [number, number] | null;
  /** Backbone only: per-channel mean of its inputs. Default null: ImageNet's for 3 channels. */
  backboneMean: number[] | null;
  /** Backbone only: per-channel standard deviation. Default null: ImageNet's for 3 channels. */
  backboneStd: number[] | null;
  /** Backbone only: feed the channels in reverse order (BGR). Default false. */
  backboneBgr: boolean;
  /** Embedding width. Default 64. */
  embeddingDim: number;
  /** Training steps. Default 6000. */
  iterations: number;
  /** Clusters per batch (M). Default 12. */
  m: number;
  /** Examples per cluster (D). Default 4. */
  d: number;
  /** Clusters per class in the index (K). Default 8. */
  k: number;
  /** The magnet margin. Default 1. */
  alpha: number;
  /** Default "adam". */
  optimizer: OptimizerKind;
  /** Learning rate. Default 1e-3. */
  lr: number;
  /** Steps between index refreshes; 0 means once per epoch (training set size / batch size). */
  refreshEvery: number;
  /**
   * How magnet batches are drawn: "neighbourhood" (the paper: a seed cluster in proportion to its
   * recent loss, then its M-1 nearest clusters of other classes), "uniform-seed" (a uniform seed,
   * then its nearest impostors) or "random" (M clusters uniformly at random). Default
   * "neighbourhood"; the others exist for the ablation experiment.
   */
  sampler: SamplerKind;
  /**
   * The magnet loss's variance term: "paper" (eq. 5, the default) or "squared" (2 s2^2, the mistake
   * of widely copied ports, kept only for the ablation experiment).
   */
  varianceForm: VarianceForm;
  /**
   * Steps between evaluations (on the validation rows when the run has them, else on the test
   * rows); 0 evaluates only at the end. Default 1000 (see train/schedule.ts for the default
   * fitted to the data).
   */
  evalEvery: number;
  /**
   * The model kept at the end: "best" needs validation rows. Default "last" here; a run with
   * validation rows and no choice keeps "best" (train/schedule.ts).
   */
  keep: KeepRule;
  /**
   * Stop after this many evaluations in a row without a lower validation error (0: never). Needs
   * validation rows. Default 0.
   */
  earlyStop: number;
  /** Seed of everything random. Default 1. */
  seed: number;
  /** Margin of the triplet baseline. Default 0.2. */
  tripletMargin: number;
  /** Negative mining of the triplet baseline. Default "semihard". */
  tripletMining: TripletMining;
  /** L: centres voting in the magnet rule. Default 128. */
  votingClusters: number;
  /** k of k-NN evaluation. Default 5. */
  knnK: number;
  /** Steps between loss-history points. Default 50. */
  logEvery: number;
  /**
   * Augmentation of training batches of images (never of refreshes or evaluations): "flip",
   * "crop-flip" (a random resized crop, then a flip) or "none". Default "none".
   */
  augment: AugmentKind;
}

/** Which network embeds the rows: an MLP, a CNN, or an imported network with a linear head. */
export type ModelKind = "mlp" | "cnn" | "backbone";

/** The defaults of every setting. */
export const DEFAULT_CONFIG: Readonly<TrainConfig> = Object.freeze({
  loss: "magnet",
  model: "mlp",
  hidden: [256, 128],
  conv: [32, 64],
  norm: "batch",
  backboneOutput: null,
  freezeBackbone: false,
  backboneLrScale: 1,
  backboneSize: null,
  backboneMean: null,
  backboneStd: null,
  backboneBgr: false,
  embeddingDim: 64,
  iterations: 6000,
  m: 12,
  d: 4,
  k: 8,
  alpha: 1,
  optimizer: "adam",
  lr: 1e-3,
  refreshEvery: 0,
  sampler: "neighbourhood",
  varianceForm: "paper",
  evalEvery: 1000,
  keep: "last",
  earlyStop: 0,
  seed: 1,
  tripletMargin: 0.2,
  tripletMining: "semihard",
  votingClusters: 128,
  knnK: 5,
  logEvery: 50,
  augment: "none",
} as TrainConfig);

/** The largest seed: seeds are 32-bit, so a larger one would silently alias a smaller one. */
export const MAX_SEED = 0xffffffff;

/** The smallest positive normal float32: a learning rate below it would round towards 0. */
const FLOAT32_MIN_NORMAL = 1.1754943508222875e-38;

function integer(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new MagnetInputError(`${name} must be an integer ${range}, got ${value}`);
  }
}

/** A positive setting that the float32 graph must see as itself, neither 0 nor infinite. */
function positiveFloat32(name: string, value: number): void {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new MagnetInputError(`${name} must be a positive number, got ${value}`);
  }
  if (value < FLOAT32_MIN_NORMAL || value > FLOAT32_MAX) {
    throw new MagnetInputError(
      `${name} = ${value} cannot be represented in float32 (the graph's precision): use a value ` +
        `between ${FLOAT32_MIN_NORMAL} and ${FLOAT32_MAX}`,
    );
  }
}

/** The full configuration: `options` over the defaults, every value checked. */
export function resolveConfig(options: Partial<TrainConfig> = {}): TrainConfig {
  // Only the settings: options may carry other things (a backend, callbacks) beside them.
  const defined = Object.fromEntries(
    Object.entries(options).filter(([key, v]) => key in DEFAULT_CONFIG && v !== undefined),
  );
  const c: TrainConfig = {
    ...DEFAULT_CONFIG,
    hidden: [...DEFAULT_CONFIG.hidden],
    conv: [...DEFAULT_CONFIG.conv],
    ...defined,
  };
  if (c.model !== "mlp" && c.model !== "cnn" && c.model !== "backbone") {
    throw new MagnetInputError(`model (--model) must be mlp, cnn or backbone, got "${c.model}"`);
  }
  checkBackboneSettings(c);
  if (!Array.isArray(c.conv)) {
    throw new MagnetInputError(`convolution channels (--conv) must be a list, got ${c.conv}`);
  }
  c.conv.forEach((h) => integer("convolution channels (--conv)", h, 1, 4096));
  if (c.norm !== "batch" && c.norm !== "none") {
    throw new MagnetInputError(`norm (--norm) must be batch or none, got "${c.norm}"`);
  }
  if (!isLossKind(c.loss)) {
    throw new MagnetInputError(
      `loss must be one of ${Object.keys(LOSSES).join(", ")}, got "${c.loss}"`,
    );
  }
  if (!["adam", "sgd"].includes(c.optimizer)) {
    throw new MagnetInputError(`optimizer must be adam or sgd, got "${c.optimizer}"`);
  }
  if (!["neighbourhood", "uniform-seed", "random"].includes(c.sampler)) {
    throw new MagnetInputError(
      `sampler must be neighbourhood, uniform-seed or random, got "${c.sampler}"`,
    );
  }
  if (c.varianceForm !== "paper" && c.varianceForm !== "squared") {
    throw new MagnetInputError(`variance form must be paper or squared, got "${c.varianceForm}"`);
  }
  if (!(AUGMENT_KINDS as readonly string[]).includes(c.augment)) {
    throw new MagnetInputError(
      `augmentation (--augment) must be one of ${AUGMENT_KINDS.join(", ")}, got "${c.augment}"`,
    );
  }
  if (!["all", "semihard"].includes(c.tripletMining)) {
    throw new MagnetInputError(`triplet mining must be all or semihard, got "${c.tripletMining}"`);
  }
  if (!Array.isArray(c.hidden)) {
    throw new MagnetInputError(`hidden layer widths (--hidden) must be a list, got ${c.hidden}`);
  }
  c.hidden.forEach((h) => integer("hidden layer widths (--hidden)", h, 1, MAX_TENSOR_ELEMENTS));
  integer("embedding dim (--embedding-dim)", c.embeddingDim, 1, MAX_TENSOR_ELEMENTS);
  integer("iterations (--iterations)", c.iterations, 1);
  // Each loss says the smallest batch it can learn from (see losses/registry.ts).
  integer("M (clusters per batch, --m)", c.m, LOSSES[c.loss].minM);
  integer("D (examples per cluster, --d)", c.d, LOSSES[c.loss].minD);
  integer("K (clusters per class, --k)", c.k, 1);
  integer("--refresh-every", c.refreshEvery, 0);
  integer("--eval-every", c.evalEvery, 0);
  if (c.keep !== "best" && c.keep !== "last") {
    throw new MagnetInputError(`keep (--keep) must be best or last, got "${c.keep}"`);
  }
  integer("--early-stop", c.earlyStop, 0);
  integer("seed (--seed)", c.seed, 0, MAX_SEED);
  integer("voting clusters (L)", c.votingClusters, 1);
  integer("k of k-NN", c.knnK, 1);
  integer("log-every", c.logEvery, 1);
  positiveFloat32("learning rate (--lr)", c.lr);
  checkAlpha(c.alpha, "alpha (--alpha)");
  if (!Number.isFinite(c.tripletMargin) || c.tripletMargin < 0) {
    throw new MagnetInputError(`triplet margin must be >= 0, got ${c.tripletMargin}`);
  }
  checkAlpha(c.tripletMargin, "triplet margin");
  return c;
}

/** The backbone settings, each of its own type and range. */
function checkBackboneSettings(c: TrainConfig): void {
  if (
    c.backboneOutput !== null && (typeof c.backboneOutput !== "string" || c.backboneOutput === "")
  ) {
    throw new MagnetInputError(`--backbone-output must name a value, got ${c.backboneOutput}`);
  }
  if (typeof c.freezeBackbone !== "boolean" || typeof c.backboneBgr !== "boolean") {
    throw new MagnetInputError("freezeBackbone and backboneBgr must be true or false");
  }
  if (!(c.backboneLrScale >= 0) || !Number.isFinite(c.backboneLrScale)) {
    throw new MagnetInputError(
      `--backbone-lr-scale must be a number >= 0, got ${c.backboneLrScale}`,
    );
  }
  if (c.backboneSize !== null) {
    if (!Array.isArray(c.backboneSize) || c.backboneSize.length !== 2) {
      throw new MagnetInputError(`--backbone-size must be [height, width], got ${c.backboneSize}`);
    }
    c.backboneSize.forEach((v) => integer("--backbone-size", v, 1, 4096));
  }
  for (const [flag, values] of [["mean", c.backboneMean], ["std", c.backboneStd]] as const) {
    if (values === null) continue;
    if (!Array.isArray(values) || values.length === 0 || values.some((v) => !Number.isFinite(v))) {
      throw new MagnetInputError(`--backbone-${flag} must be finite numbers, got ${values}`);
    }
  }
  if (c.backboneStd?.some((v) => v <= 0)) {
    throw new MagnetInputError(`--backbone-std must be positive, got ${c.backboneStd}`);
  }
}

/** Settings that only some models or losses read, with what they need. */
const ONLY_FOR: Partial<Record<keyof TrainConfig, (c: TrainConfig) => boolean>> = {
  conv: (c) => c.model === "cnn",
  norm: (c) => c.model === "cnn",
  backboneOutput: (c) => c.model === "backbone",
  freezeBackbone: (c) => c.model === "backbone",
  backboneLrScale: (c) => c.model === "backbone",
  backboneSize: (c) => c.model === "backbone",
  backboneMean: (c) => c.model === "backbone",
  backboneStd: (c) => c.model === "backbone",
  backboneBgr: (c) => c.model === "backbone",
  hidden: (c) => c.model !== "backbone",
  k: (c) => LOSSES[c.loss].batches === "neighbourhood",
  refreshEvery: (c) => LOSSES[c.loss].batches === "neighbourhood",
  sampler: (c) => LOSSES[c.loss].batches === "neighbourhood",
  alpha: (c) => c.loss === "magnet",
  varianceForm: (c) => c.loss === "magnet",
  votingClusters: (c) => LOSSES[c.loss].rule === "magnet",
  tripletMargin: (c) => c.loss === "triplet",
  tripletMining: (c) => c.loss === "triplet",
};

/**
 * The settings that `config`'s model and loss read (a CNN's convolutions, magnet's alpha and
 * index, triplet's margin): what a report lists, leaving out what could not have mattered.
 */
export function applicableSettings(config: TrainConfig): Partial<TrainConfig> {
  return Object.fromEntries(
    Object.entries(config).filter(([key]) => ONLY_FOR[key as keyof TrainConfig]?.(config) ?? true),
  ) as Partial<TrainConfig>;
}
