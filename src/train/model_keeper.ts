/**
 * Which model a run keeps. Each validation evaluation is judged against the best so far by the
 * error of the loss's own rule (the earlier of equals wins); the best model's variables and its
 * batch-variance sums are kept aside, and the evaluations since it counted for early stopping. At
 * the end the best model goes onto the backend for the final evaluation and for saving, while the
 * run's state keeps the last step's variables, so a resumed run goes on from where it was.
 */
import { MagnetInputError } from "../errors.ts";
import type { Backend } from "../backend/backend.ts";
import type { Variable } from "../graph/tensor.ts";
import type { EvalMetrics } from "../eval/evaluate.ts";
import type { BestState, HistoryPoint, KeptModel, TrainerState } from "./types.ts";

/** The metric a loss's model is judged by: the error of its own classification rule. */
export type RuleError = "magnetError" | "knnError";

/** Keeps the best validation model of a run; see the module comment. */
export class ModelKeeper {
  #best: BestState | null = null;
  #sinceBest = 0;
  #stopped = false;
  /** While the best model is on the backend: the last step's values of its variables. */
  #last: Record<string, Float32Array> | null = null;

  /**
   * Keeps `variables` (a model's parameters and state) on `backend`, judged by `metric`; stops
   * after `earlyStop` evaluations without improvement (0: never).
   */
  constructor(
    readonly backend: Backend,
    readonly variables: readonly Variable[],
    readonly metric: RuleError,
    readonly earlyStop: number,
  ) {}

  /** The best validation evaluation so far (null: none yet). */
  get best(): BestState | null {
    return this.#best;
  }

  /** Whether the run has stopped early. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Validation evaluations since the best. */
  get sinceBest(): number {
    return this.#sinceBest;
  }

  /** Whether the best model is on the backend in place of the last step's. */
  get swapped(): boolean {
    return this.#last !== null;
  }

  /** The error `metrics` give by the rule (k-NN's when a baseline has no magnet rule). */
  valueOf(metrics: EvalMetrics): number {
    return metrics[this.metric] ?? metrics.knnError;
  }

  /**
   * Judges the validation `metrics` of the model after `iteration` steps, whose running batch
   * variance is `variance`: keeps its variables when they are the best so far. Returns whether
   * they are.
   */
  async judge(
    metrics: EvalMetrics,
    iteration: number,
    variance: { sum: number; count: number },
  ): Promise<boolean> {
    const value = this.valueOf(metrics);
    if (this.#best !== null && !(value < this.#best.value)) {
      this.#sinceBest++;
      return false;
    }
    const variables: Record<string, Float32Array> = {};
    for (const v of this.variables) {
      variables[v.name] = Float32Array.from(await this.backend.readVariable(v));
    }
    this.#best = {
      iteration,
      value,
      variables,
      varianceSum: variance.sum,
      varianceCount: variance.count,
    };
    this.#sinceBest = 0;
    return true;
  }

  /** Whether the run must stop now (`earlyStop` evaluations without improvement); it then stays stopped. */
  stopNow(): boolean {
    if (this.#stopped || this.earlyStop === 0 || this.#sinceBest < this.earlyStop) return false;
    this.#stopped = true;
    return true;
  }

  /** Puts the best model on the backend (unless it is the model after `iteration`, the last). */
  async swapInBest(iteration: number): Promise<void> {
    const best = this.#best;
    if (best === null || this.#last !== null || best.iteration === iteration) return;
    const last: Record<string, Float32Array> = {};
    for (const v of this.variables) {
      last[v.name] = Float32Array.from(await this.backend.readVariable(v));
      this.backend.writeVariable(v, best.variables[v.name]);
    }
    this.#last = last;
  }

  /** Puts the last step's variables back (a finished trainer asked to run on). */
  swapBackLast(): void {
    if (this.#last === null) return;
    for (const v of this.variables) this.backend.writeVariable(v, this.#last[v.name]);
    this.#last = null;
  }

  /** The last step's value of `name` while the best model is swapped in, else undefined. */
  lastValue(name: string): Float32Array | undefined {
    return this.#last?.[name];
  }

  /**
   * The model kept by `rule` after `iteration` steps: the best when it is asked for and there is
   * one, else the last, with its validation error from `history` (null without validation rows).
   */
  kept(
    rule: "best" | "last",
    iteration: number,
    history: readonly HistoryPoint[],
    validated: boolean,
  ): KeptModel {
    const metric = validated ? this.metric : null;
    if (rule === "best" && this.#best !== null) {
      return { rule, iteration: this.#best.iteration, metric, value: this.#best.value };
    }
    const last = history.find((p) => p.iteration === iteration)?.validation;
    return {
      rule: "last",
      iteration,
      metric,
      value: metric === null || last === undefined ? null : this.valueOf(last),
    };
  }

  /** What a checkpoint keeps of it (copies). */
  state(): Pick<TrainerState, "best" | "sinceBest" | "stopped"> {
    const best = this.#best;
    return {
      best: best === null ? null : {
        ...best,
        variables: Object.fromEntries(
          Object.entries(best.variables).map(([name, value]) => [name, value.slice()]),
        ),
      },
      sinceBest: this.#sinceBest,
      stopped: this.#stopped,
    };
  }

  /** Takes a checkpoint's keeper state, checked against the model's variables. */
  restore(state: Pick<TrainerState, "best" | "sinceBest" | "stopped">, validated: boolean): void {
    if (state.best !== null) {
      for (const v of this.variables) {
        if (state.best.variables[v.name]?.length !== v.size) {
          throw new MagnetInputError(
            `the saved best model has no value of ${v.size} numbers for variable "${v.name}"`,
          );
        }
      }
      if (!validated) {
        throw new MagnetInputError("the saved run kept a best model but has no validation rows");
      }
    }
    this.#best = state.best === null ? null : structuredClone(state.best);
    this.#sinceBest = state.sinceBest;
    this.#stopped = state.stopped;
  }
}
