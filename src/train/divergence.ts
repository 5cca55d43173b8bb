/**
 * Naming a divergence: from the outputs of the step that was not sound (see step.ts), what went
 * wrong and what to change, as a {@link DivergenceError}.
 */
import { DivergenceError, type DivergenceReason } from "../errors.ts";
import { EMBEDDING_LIMIT, type StepOutputs } from "./step.ts";
import { DEFAULT_CONFIG } from "./config.ts";

/**
 * The learning rate to try after `lr` diverged: ten times lower, and no higher than the default
 * (a rate far above it is better started again from the default).
 */
export function lowerRate(lr: number): number {
  return Math.min(Number((lr / 10).toPrecision(2)), DEFAULT_CONFIG.lr);
}

/** A rate as a person writes it: 0.001, 1e-5, 1e+10. */
function rate(x: number): string {
  return x >= 1e4 || x < 1e-3 ? x.toExponential() : String(x);
}

/**
 * The error for the step after `iteration` good steps, read from its `outputs`: the loss first (the
 * plainest sign), then the embeddings' scale, then the batch variance, and otherwise the update
 * (parameters or optimizer state that left float32's range). `lr` is the run's learning rate.
 */
export function divergence(
  at: StepOutputs,
  outputs: readonly ArrayLike<number>[],
  iteration: number,
  lr: number,
): DivergenceError {
  const loss = outputs[at.loss][0], scale = outputs[at.scale][0];
  const variance = at.variance === null ? 0 : outputs[at.variance][0];
  const step = iteration + 1;
  let reason: DivergenceReason, what: string;
  if (!Number.isFinite(loss)) {
    reason = "loss";
    what = `the training loss became ${loss} at step ${step}`;
  } else if (!(scale <= EMBEDDING_LIMIT)) {
    reason = "embeddings";
    const shown = Number.isFinite(scale) ? scale.toExponential(1) : String(scale);
    what = `the embeddings grew to ${shown} at step ${step}, beyond the ` +
      `${EMBEDDING_LIMIT.toExponential(0)} float32 can carry on with`;
  } else if (!Number.isFinite(variance)) {
    reason = "variance";
    what = `the batch variance became ${variance} at step ${step}`;
  } else {
    reason = "update";
    what = `the update of step ${step} held non-finite values (the loss was ${loss})`;
  }
  return new DivergenceError(
    iteration,
    reason,
    `training diverged: ${what}; that step was not applied, so the parameters are those of the ` +
      `last good step (${iteration}). Lower the learning rate (--lr, now ${rate(lr)}; try ${
        rate(lowerRate(lr))
      }).`,
  );
}
