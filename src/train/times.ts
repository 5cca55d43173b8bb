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
  /**
   * Steps between evaluations during the run, or the steps after which to evaluate; null: none
   * during the run.
   */
  readonly evaluations: number | readonly number[] | null;
  /** Evaluations at the end (the validation rows' and the test rows', as the run has them). */
  readonly finalEvaluations: number;
  /** What the run has timed so far. */
  readonly timings: TrainTimings;
  /**
   * The time of the latest refresh and evaluation of this process, when there were some: they
   * tell the cost of one better than the mean, whose first includes one-off costs (compiling the
   * graphs) and which lags behind a machine whose load changed.
   */
  readonly latest?: {
    readonly refresh: number | null;
    readonly eval: number | null;
    /** Whether that evaluation took its training rows' embeddings and index from a refresh. */
    readonly evalAtRefresh?: boolean;
  };
  /**
   * The rows the work touches, to estimate what is not timed yet: a refresh embeds `train` rows,
   * an evaluation `evaluated` (the references and its queries), a step trains on `batch`.
   */
  readonly rows: { readonly train: number; readonly evaluated: number; readonly batch: number };
}

/**
 * A step's forward, backward and update cost about three forward passes of its batch: what one
 * row's embedding costs, as a share of a step per row, before any embedding was timed.
 */
const FORWARD_SHARE_OF_STEP = 1 / 3;

/**
 * Wall time still to go: the remaining steps at the measured time per step, plus the refreshes
 * and evaluations still scheduled (the final ones included) at their latest measured cost (their
 * mean, after a resume). An evaluation at a refresh step takes the refresh's embeddings of the
 * training rows and its index, so it costs a refresh less than one elsewhere (the final ones). What
 * is not timed yet is estimated from the rows it embeds: an evaluation at the refresh's time per
 * row (the search among them is counted once the first evaluation is timed), a refresh from the
 * step's time per row.
 */
export function remainingSeconds(s: Schedule): number {
  const { from, iterations, timings: t, rows } = s;
  const scheduled = (every: number) =>
    // Multiples of `every` in [from, iterations): those steps are still to come.
    every > 0
      ? Math.max(0, Math.floor((iterations - 1) / every) - Math.floor((from - 1) / every))
      : 0;
  const refreshes = scheduled(s.refreshEvery);
  const atRefresh = (step: number) => s.refreshEvery > 0 && step % s.refreshEvery === 0;
  let during = 0, duringAtRefresh = 0;
  if (typeof s.evaluations === "number") {
    during = scheduled(s.evaluations);
    if (s.refreshEvery > 0) duringAtRefresh = scheduled(lcm(s.evaluations, s.refreshEvery));
  } else if (s.evaluations !== null) {
    const ahead = s.evaluations.filter((at) => at >= from && at < iterations && at > 0);
    during = ahead.length;
    duringAtRefresh = ahead.filter(atRefresh).length;
  }
  // Seconds to embed one row: measured by the refreshes, else estimated from the step.
  const refreshTimed = s.latest?.refresh ??
    (t.refreshCount > 0 ? t.refresh / t.refreshCount : null);
  const evalTimed = s.latest?.eval ?? (t.evalCount > 0 ? t.eval / t.evalCount : null);
  const timedAtRefresh = s.latest?.eval != null && s.latest.evalAtRefresh === true;
  const perRow = refreshTimed !== null
    ? refreshTimed / Math.max(rows.train, 1)
    : (s.secondsPerStep * FORWARD_SHARE_OF_STEP) / Math.max(rows.batch, 1);
  const refreshEach = refreshTimed ?? perRow * rows.train;
  // An evaluation at a refresh, and one elsewhere: they differ by the refresh's work.
  const evalAtRefresh = evalTimed === null
    ? perRow * Math.max(rows.evaluated - rows.train, 0)
    : timedAtRefresh
    ? evalTimed
    : Math.max(evalTimed - refreshEach, 0);
  const evalAlone = evalTimed !== null && !timedAtRefresh ? evalTimed : evalAtRefresh + refreshEach;
  const alone = s.finalEvaluations + during - duringAtRefresh;
  return (iterations - from) * s.secondsPerStep + refreshes * refreshEach +
    duringAtRefresh * evalAtRefresh + alone * evalAlone;
}

/** The least common multiple of two positive integers. */
function lcm(a: number, b: number): number {
  let x = a, y = b;
  while (y !== 0) [x, y] = [y, x % y];
  return (a / x) * b;
}
