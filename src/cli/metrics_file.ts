/**
 * The metrics.json of a finished run: everything needed to read its numbers without the command
 * line that made them (data, resolved settings, times, results). Its fields are described in the
 * README ("metrics.json"); `format` and `version` name the schema.
 */
import denoConfig from "../../deno.json" with { type: "json" };
import type { TrainConfig } from "../train/config.ts";
import type { TrainResult } from "../train/types.ts";
import { runTimes } from "../train/times.ts";
import type { LoadedData } from "../data/source.ts";

/** Re-exported for the command line, which has always found it here. */
export { type RunTimes, runTimes } from "../train/times.ts";

/** What the run was, beyond the trainer's result. */
export interface RunContext {
  readonly backend: { readonly kind: string; readonly description: string };
  readonly config: TrainConfig;
  /** Steps between index refreshes, as the trainer resolved them (one epoch when 0 was given). */
  readonly refreshEvery: number;
  readonly checkpointEvery: number;
  readonly data: LoadedData;
  /** SHA-256 of the data's rows (see data/source.ts). */
  readonly dataHash: string;
  /** When this invocation started, and the step it started from (0 unless resumed). */
  readonly startedAt: Date;
  readonly startedFrom: number;
}

/** The contents of metrics.json. */
export function runMetrics(result: TrainResult, run: RunContext): Record<string, unknown> {
  const { data, config } = run;
  return {
    format: "magnet-metrics",
    version: 1,
    magnet: denoConfig.version,
    startedAt: run.startedAt.toISOString(),
    endedAt: new Date().toISOString(),
    resumedFrom: run.startedFrom > 0 ? run.startedFrom : null,
    backend: run.backend.kind,
    device: run.backend.description,
    loss: config.loss,
    iterations: result.iterations,
    stoppedEarly: result.stoppedEarly,
    kept: result.kept,
    data: {
      name: data.name,
      source: data.source,
      trainRows: data.train.labels.length,
      validationRows: data.validation?.labels.length ?? 0,
      testRows: data.test.labels.length,
      features: data.train.dim,
      classes: data.train.classNames,
      sha256: run.dataHash,
    },
    settings: { ...config, refreshEvery: run.refreshEvery, checkpointEvery: run.checkpointEvery },
    test: result.test,
    validation: result.validation,
    variance: result.variance,
    varianceMeaning: result.variance === null ? null : "the running mean of the training " +
      "batches' within-cluster variance s2 (paper eq. 5), the width the magnet rule votes with",
    time: runTimes(result),
    timings: result.timings,
    history: result.history,
  };
}
