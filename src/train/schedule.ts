/**
 * Defaults that fit the data: the run's length, its index refresh interval, its evaluation interval
 * and the model it keeps, when the caller leaves them open. The fixed defaults suit MNIST (8,000
 * training rows, an epoch of 167 steps) and Fashion-MNIST (60,000 rows); on a 150-row table they
 * would mean 3,000 epochs and 3,000 index refreshes. So each is bounded in epochs and in count per
 * run, in a way that leaves MNIST's and Fashion-MNIST's values as they were (6,000 steps, a refresh
 * each epoch), and the evaluations of a magnet run fall on refreshes (MNIST every 1,002 steps,
 * Fashion-MNIST every 1,250).
 */
import { MagnetInputError } from "../errors.ts";
import { DEFAULT_CONFIG, type TrainConfig } from "./config.ts";
import { LOSSES, type LossKind } from "../losses/registry.ts";
import type { TrainOptions } from "./types.ts";

/** The steps of the longest default run (MNIST, Fashion-MNIST): 6,000. */
export const DEFAULT_ITERATIONS = DEFAULT_CONFIG.iterations;
/** A smaller training set trains for this many epochs by default... */
export const DEFAULT_EPOCHS = 50;
/** ...but for this many steps at least: the optimiser needs them, whatever the data's size. */
export const MIN_DEFAULT_ITERATIONS = 1000;
/** The index is refreshed once per epoch, but at most this many times in a run. */
export const MAX_DEFAULT_REFRESHES = 40;
/** Evaluations at most every 1,000 steps... */
export const DEFAULT_EVAL_EVERY = DEFAULT_CONFIG.evalEvery;
/** ...or this many times in a shorter run... */
export const MAX_DEFAULT_EVALUATIONS = 20;
/** ...but not more often than every this many epochs (MNIST's 1,000 steps). */
export const MIN_EVAL_EPOCHS = 6;

/** Steps in one epoch: a pass over `trainRows` rows in batches of M x D. */
export function stepsPerEpoch(trainRows: number, config: { m: number; d: number }): number {
  return Math.max(1, Math.ceil(trainRows / (config.m * config.d)));
}

/** What {@link fitToData} needs to know of the data. */
export interface DataShape {
  /** Rows trained on. */
  readonly trainRows: number;
  /** Whether the run has validation rows (to choose the best model and stop early). */
  readonly hasValidation: boolean;
}

/**
 * `options` with the settings it leaves open that depend on the data filled in: `iterations`
 * (`epochs` of them when given, else {@link DEFAULT_EPOCHS} epochs within
 * [{@link MIN_DEFAULT_ITERATIONS}, {@link DEFAULT_ITERATIONS}] steps), `refreshEvery` (one epoch, or
 * more steps so that at most {@link MAX_DEFAULT_REFRESHES} refreshes happen; an explicit 0 is one
 * epoch), `evalEvery` (every {@link DEFAULT_EVAL_EVERY} steps, or {@link MAX_DEFAULT_EVALUATIONS}
 * times a run when that is more often, but at most every {@link MIN_EVAL_EPOCHS} epochs; with
 * both intervals left open and a loss that refreshes an index, rounded up to a multiple of the
 * refresh interval, where an evaluation reuses the refresh's embeddings and index) and
 * `keep` ("best" with validation rows, else "last"). Settings that need validation rows are refused
 * without them.
 *
 * @example
 * ```ts
 * fitToData({}, { trainRows: 96, hasValidation: true });
 * // { iterations: 1000, refreshEvery: 25, evalEvery: 50, keep: "best" }
 * ```
 */
export function fitToData(options: TrainOptions, data: DataShape): Partial<TrainConfig> {
  const { epochs, ...settings } = options;
  const m = settings.m ?? DEFAULT_CONFIG.m, d = settings.d ?? DEFAULT_CONFIG.d;
  const epoch = stepsPerEpoch(data.trainRows, { m, d });
  if (epochs !== undefined) {
    if (settings.iterations !== undefined) {
      throw new MagnetInputError(
        "give the run's length as iterations (--iterations) or as epochs (--epochs), not both",
      );
    }
    if (!Number.isInteger(epochs) || epochs < 1) {
      throw new MagnetInputError(`epochs (--epochs) must be an integer >= 1, got ${epochs}`);
    }
  }
  const iterations = settings.iterations ??
    (epochs !== undefined
      ? epochs * epoch
      : Math.min(DEFAULT_ITERATIONS, Math.max(MIN_DEFAULT_ITERATIONS, DEFAULT_EPOCHS * epoch)));
  const refreshEvery = settings.refreshEvery === undefined
    ? Math.max(epoch, Math.ceil(iterations / MAX_DEFAULT_REFRESHES))
    : settings.refreshEvery === 0
    ? epoch
    : settings.refreshEvery;
  let evalEvery = settings.evalEvery ??
    Math.min(
      DEFAULT_EVAL_EVERY,
      Math.max(MIN_EVAL_EPOCHS * epoch, Math.ceil(iterations / MAX_DEFAULT_EVALUATIONS)),
    );
  // On the default schedule evaluations fall on index refreshes (the first at or after the
  // interval above): there the training rows are embedded and clustered already, so an evaluation
  // costs only its own rows and the search.
  const loss = LOSSES[(settings.loss ?? DEFAULT_CONFIG.loss) as LossKind];
  const defaultRefreshes = settings.refreshEvery === undefined || settings.refreshEvery === 0;
  if (settings.evalEvery === undefined && defaultRefreshes && loss?.batches === "neighbourhood") {
    evalEvery = refreshEvery * Math.ceil(evalEvery / refreshEvery);
  }
  const keep = settings.keep ?? (data.hasValidation ? "best" : "last");
  if (!data.hasValidation) {
    if (keep === "best") {
      throw new MagnetInputError(
        "keeping the best model (--keep best) needs validation rows to judge it on " +
          "(--val-fraction or --val); the test rows are only for the final report",
      );
    }
    if ((settings.earlyStop ?? 0) > 0) {
      throw new MagnetInputError(
        "early stopping (--early-stop) needs validation rows to judge the model on " +
          "(--val-fraction or --val); the test rows are only for the final report",
      );
    }
  }
  return { ...settings, iterations, refreshEvery, evalEvery, keep };
}
