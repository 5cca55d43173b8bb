/**
 * Where a finished run's time went, per unit (per run, per 1,000 steps, per step, per refresh, per
 * evaluation): the one computation behind the command line's summary, metrics.json's `time` and the
 * report, so that all three give the same figures.
 */
import type { TrainResult, TrainTimings } from "./types.ts";

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

/** What {@link remainingSeconds} needs to know of a run in progress. */
export interface Schedule {
  /** Steps done. */
  readonly from: number;
  /** Steps of the whole run. */
  readonly iterations: number;
  /** Measured time of one step. */
  readonly secondsPerStep: number;
  /** Steps between index refreshes (0: none). */
  readonly refreshEvery: number;
  /** Steps between evaluations, or the steps after which to evaluate; null: no evaluation. */
  readonly evaluations: number | readonly number[] | null;
  /** What the run has timed so far. */
  readonly timings: TrainTimings;
}

/**
 * Wall time still to go: the remaining steps at the measured time per step, plus the refreshes
 * and evaluations still scheduled (the final evaluation included) at their measured mean cost.
 * Before the first evaluation its cost is unknown and left out; it is re-estimated as it goes.
 */
export function remainingSeconds(s: Schedule): number {
  const { from, iterations, timings: t } = s;
  const scheduled = (every: number) =>
    // Multiples of `every` in [from, iterations): those steps are still to come.
    every > 0
      ? Math.max(0, Math.floor((iterations - 1) / every) - Math.floor((from - 1) / every))
      : 0;
  const refreshes = scheduled(s.refreshEvery);
  const evaluations = s.evaluations === null
    ? 0
    : 1 + (typeof s.evaluations === "number"
      ? scheduled(s.evaluations)
      : s.evaluations.filter((at) => at >= from && at < iterations && at > 0).length);
  const mean = (total: number, count: number) => (count > 0 ? total / count : 0);
  return (iterations - from) * s.secondsPerStep + refreshes * mean(t.refresh, t.refreshCount) +
    evaluations * mean(t.eval, t.evalCount);
}
