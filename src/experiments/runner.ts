/**
 * The runner every experiment shares: it trains each planned run once per seed, evaluates on the
 * run's schedule (timing the training apart from the evaluations), adds the experiment's own
 * measurements, and hands each finished run over at once, so an interrupted experiment keeps every
 * run it finished and a later call can skip them.
 */
import { subset } from "../data/dataset.ts";
import { stratifiedSplit } from "../data/split.ts";
import { Trainer } from "../train/trainer.ts";
import type { EvalMetrics } from "../eval/evaluate.ts";
import type { TrainResult } from "../train/types.ts";
import type {
  CurvePoint,
  Experiment,
  ExperimentData,
  ExperimentEnv,
  RunRecord,
  RunSpec,
} from "./types.ts";

/** How a caller follows and stops the runs. */
export interface RunnerHooks {
  /** Stops after the step in progress; the unfinished run is dropped. */
  readonly signal?: AbortSignal;
  /** Runs finished earlier (a resumed experiment): they are not run again. */
  readonly done?: readonly RunRecord[];
  /** One line per run started. */
  log?(line: string): void;
  /** Called after each finished run with every run so far. */
  onRecord?(records: readonly RunRecord[]): Promise<void>;
}

/** The runs of `experiment`, seed by seed; `complete` is false when the signal stopped them. */
export async function runExperiment(
  experiment: Experiment,
  env: ExperimentEnv,
  hooks: RunnerHooks = {},
): Promise<{ records: RunRecord[]; complete: boolean }> {
  const specs = experiment.plan(env);
  const records = [...(hooks.done ?? [])];
  const total = specs.length * env.options.seeds.length;
  let position = 0;
  // Seeds outermost: a stopped experiment has whole comparisons for its first seeds.
  for (const seed of env.options.seeds) {
    for (const spec of specs) {
      position++;
      if (records.some((r) => r.key === spec.key && r.seed === seed)) continue;
      if (hooks.signal?.aborted) return { records, complete: false };
      hooks.log?.(`[${position}/${total}] ${experiment.name}: ${spec.key}, seed ${seed}`);
      const record = await runOne(experiment, env, spec, seed, hooks.signal);
      if (record === null) return { records, complete: false };
      records.push(record);
      await hooks.onRecord?.(records);
    }
  }
  return { records, complete: true };
}

/** The error a loss is judged by: its own classification rule's. */
export function ownError(m: EvalMetrics): number {
  return m.magnetError ?? m.knnError;
}

async function runOne(
  experiment: Experiment,
  env: ExperimentEnv,
  spec: RunSpec,
  seed: number,
  signal: AbortSignal | undefined,
): Promise<RunRecord | null> {
  const data = spec.data ?? env.data;
  const curve: CurvePoint[] = [];
  let start = 0, evalSeconds = 0;
  const trainer = await Trainer.create({
    backend: env.backend,
    train: data.train,
    test: data.test,
    signal,
    evalAt: spec.evalAt ?? [],
    onProgress: (e) => {
      if (e.kind !== "eval") return;
      evalSeconds += e.seconds;
      curve.push({
        iteration: e.iteration,
        seconds: (performance.now() - start) / 1000 - evalSeconds,
        error: ownError(e.metrics),
        knnError: e.metrics.knnError,
      });
    },
  }, { ...spec.settings, seed, iterations: env.options.iterations, evalEvery: 0 });
  start = performance.now();
  let result: TrainResult;
  let extra: Record<string, number> = {};
  try {
    result = await trainer.run();
    if (result.status !== "completed" || result.test === null) return null;
    extra = await experiment.measure?.(env, spec, result) ?? {};
  } finally {
    // Many runs share the process: each gives its device memory back as it ends.
    await trainer.dispose();
  }
  const t = result.timings;
  return {
    key: spec.key,
    seed,
    settings: spec.settings,
    iterations: result.iterations,
    seconds: (performance.now() - start) / 1000,
    trainSecondsPer1000: (1000 * (t.steps + t.refresh)) / Math.max(result.iterations, 1),
    curve,
    metrics: { ...result.test, ...extra },
  };
}

/**
 * At most `trainRows` and `testRows` rows of `data`, drawn per class in proportion (the quick
 * version of an experiment); data already small enough is returned as it is.
 */
export function shrink(data: ExperimentData, trainRows: number, testRows: number): ExperimentData {
  const take = (d: ExperimentData["train"], rows: number) => {
    const n = d.labels.length;
    if (n <= rows) return d;
    return subset(d, stratifiedSplit(d.labels, rows / n, 1).test);
  };
  return { name: data.name, train: take(data.train, trainRows), test: take(data.test, testRows) };
}

/**
 * Evaluation steps for a curve over `iterations` steps: the fractions 1/24, 1/12, 1/8, 1/6, 1/4,
 * 1/3, 1/2, 2/3 and 5/6 of the run (250, 500, ... 5,000 of 6,000), denser early where errors fall
 * fastest; the end is always evaluated.
 */
export function curveSchedule(iterations: number): number[] {
  const at = [1 / 24, 1 / 12, 1 / 8, 1 / 6, 1 / 4, 1 / 3, 1 / 2, 2 / 3, 5 / 6]
    .map((f) => Math.round(f * iterations))
    .filter((i) => i > 0 && i < iterations);
  return [...new Set(at)];
}

/** The batch size (M x D) every experiment keeps, as the defaults have it. */
export const BATCH = 48;

/**
 * M and D for a batch of about {@link BATCH} rows when only `impostors` clusters of other classes
 * exist: M is the largest divisor of 48 that is at most 12 and at most impostors + 1.
 */
export function batchShape(impostors: number): { m: number; d: number } {
  for (let m = Math.min(12, impostors + 1); m >= 2; m--) {
    if (BATCH % m === 0) return { m, d: BATCH / m };
  }
  return { m: 2, d: BATCH / 2 };
}
