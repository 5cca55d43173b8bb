/**
 * Where a finished run's time went, per unit (per run, per 1,000 steps, per step, per refresh, per
 * evaluation): the one computation behind the command line's summary, metrics.json's `time` and the
 * report, so that all three give the same figures.
 */
import type { TrainResult } from "./trainer.ts";

/** Time per unit of a run, in seconds unless the name says otherwise. */
export interface RunTimes {
  /** Wall time of the whole run, refreshes and evaluations included. */
  readonly seconds: number;
  /** The same per 1,000 steps. */
  readonly secondsPer1000Steps: number;
  /** Time of one training step alone: sampling, forward, backward, update, reading the loss. */
  readonly msPerStep: number;
  /** Index refreshes: how many, and the mean time of one (null when there were none). */
  readonly refreshes: { readonly count: number; readonly secondsEach: number | null };
  /** Evaluations: how many, and the mean time of one (null when there were none). */
  readonly evaluations: { readonly count: number; readonly secondsEach: number | null };
}

/**
 * The {@link RunTimes} of a run's result.
 *
 * @example
 * ```ts
 * const { seconds, msPerStep } = runTimes(result);
 * ```
 */
export function runTimes(result: TrainResult): RunTimes {
  const t = result.timings;
  return {
    seconds: result.seconds,
    secondsPer1000Steps: (1000 * result.seconds) / Math.max(result.iterations, 1),
    msPerStep: (1000 * t.steps) / Math.max(t.stepCount, 1),
    refreshes: {
      count: t.refreshCount,
      secondsEach: t.refreshCount > 0 ? t.refresh / t.refreshCount : null,
    },
    evaluations: { count: t.evalCount, secondsEach: t.evalCount > 0 ? t.eval / t.evalCount : null },
  };
}
