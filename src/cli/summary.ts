/**
 * What `deno task train` tells about its run in words: the rows it uses, its schedule as resolved
 * for the data (at the start, and in --help with data flags), and the summary table at the end.
 */
import type { LoadedData } from "../data/source.ts";
import type { Trainer } from "../train/trainer.ts";
import type { TrainResult } from "../train/types.ts";
import type { TrainConfig } from "../train/config.ts";
import { LOSSES } from "../losses/registry.ts";
import { runTimes } from "../train/times.ts";
import { stepsPerEpoch } from "../train/schedule.ts";
import { formatCount, formatNmi, formatSeconds } from "../report/format.ts";
import { indexText, keptText } from "../report/tables.ts";
import { formatDuration, percent } from "./progress.ts";

/** "96 train / 24 validation / 30 test rows". */
export function rowCounts(data: LoadedData): string {
  const rows = (n: number) => formatCount(n);
  const validation = data.validation === null
    ? ""
    : ` / ${rows(data.validation.labels.length)} validation`;
  return `${rows(data.train.labels.length)} train${validation} / ${
    rows(data.test.labels.length)
  } test rows`;
}

/**
 * The schedule as the settings resolved for the data: "1,000 steps (500 epochs of 2), index
 * refresh every 25 steps, evaluation every 50 steps on the validation rows, keeping the best".
 */
export function describeSchedule(
  config: Pick<TrainConfig, "iterations" | "refreshEvery" | "evalEvery" | "keep" | "earlyStop">,
  context: { loss: TrainConfig["loss"]; epoch: number; validation: boolean },
): string {
  const epochs = config.iterations / context.epoch;
  const shownEpochs = Number.isInteger(epochs) ? formatCount(epochs) : epochs.toFixed(1);
  const parts = [
    `${formatCount(config.iterations)} steps (${shownEpochs} epochs of ${
      formatCount(context.epoch)
    })`,
  ];
  if (LOSSES[context.loss].batches === "neighbourhood") {
    parts.push(`index refresh every ${formatCount(config.refreshEvery)} steps`);
  }
  const on = context.validation ? "the validation rows" : "the test rows";
  parts.push(
    config.evalEvery > 0
      ? `evaluation every ${formatCount(config.evalEvery)} steps on ${on}`
      : `evaluation at the end on ${on}`,
  );
  if (config.earlyStop > 0) {
    parts.push(`stopping after ${config.earlyStop} evaluations without improvement`);
  }
  parts.push(
    config.keep === "best" ? "keeping the best validation model" : "keeping the last model",
  );
  return parts.join(", ");
}

/** The schedule line printed when a run starts. */
export function scheduleLine(trainer: Trainer, data: LoadedData): string {
  const c = trainer.config;
  return describeSchedule(
    { ...c, refreshEvery: trainer.refreshEvery },
    {
      loss: c.loss,
      epoch: stepsPerEpoch(data.train.labels.length, c),
      validation: data.validation !== null,
    },
  );
}

/** "6,000 × 12.3 ms": a count of things and the time of each, in a unit that shows it. */
function repeated(x: { count: number; secondsEach: number | null }): string {
  return x.count === 0 || x.secondsEach === null
    ? "none"
    : `${formatCount(x.count)} × ${formatSeconds(x.secondsEach)}`;
}

/** The rows of the summary table of a finished run. */
export function summaryRows(
  result: TrainResult,
  run: { backend: string; config: TrainConfig; data: LoadedData; out: string },
): [string, string][] {
  const { config: c, data } = run;
  const m = result.test;
  const time = runTimes(result);
  const usesIndex = LOSSES[c.loss].batches === "neighbourhood";
  const rows: [string, string][] = [
    ["backend", run.backend],
    ["loss", c.loss],
    ["data", `${data.name}: ${rowCounts(data)}`],
    ["steps", `${formatCount(result.iterations)}${result.stoppedEarly ? " (stopped early)" : ""}`],
  ];
  if (result.kept !== null) rows.push(["model kept", keptText(result.kept, c.knnK)]);
  rows.push(
    [
      "wall time",
      `${formatDuration(time.seconds)} (${formatSeconds(time.secondsPer1000Steps)} per 1,000 ` +
      "steps, all included)",
    ],
    ["one step", `${formatSeconds(time.msPerStep / 1000)} (sample, forward, backward, update)`],
  );
  if (usesIndex) rows.push(["index builds", indexText(time.refreshes, true)]);
  rows.push(["evaluations", repeated(time.evaluations)]);
  rows.push([
    "test metrics",
    m === null
      ? "none (no test rows)"
      : `on the ${formatCount(data.test.labels.length)} test rows, of the model kept`,
  ]);
  if (LOSSES[c.loss].rule === "magnet") rows.push(["magnet-rule error", percent(m?.magnetError)]);
  rows.push(
    [`${c.knnK}-NN error`, percent(m?.knnError)],
    ["precision@1", percent(m?.precisionAt1)],
    ["R-precision", percent(m?.rPrecision)],
    ["MAP@R", percent(m?.mapAtR)],
    ["NMI", m ? formatNmi(m.nmi) : "-"],
    ["output", run.out],
  );
  return rows;
}
