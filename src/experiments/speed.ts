/**
 * Speed against triplet (paper section 4.1, figure 4): magnet, triplet with semi-hard and with
 * batch-all mining, and softmax train the same network for the same steps; the test error is
 * followed along the way. The table gives each loss's final error, its error at fixed budgets, its
 * time per step, and the steps it needed to reach the final error of the triplet run (semi-hard).
 */
import type { TrainConfig } from "../train/config.ts";
import { curveSchedule } from "./runner.ts";
import {
  errorFigure,
  median,
  medianCell,
  medianCurve,
  metricOf,
  relativeCell,
  runsOf,
} from "./summary.ts";
import type { Experiment, ResultTable, RunRecord } from "./types.ts";

const LOSSES: readonly { key: string; settings: Partial<TrainConfig> }[] = [
  { key: "magnet", settings: { loss: "magnet" } },
  { key: "triplet (semi-hard)", settings: { loss: "triplet", tripletMining: "semihard" } },
  { key: "triplet (batch-all)", settings: { loss: "triplet", tripletMining: "all" } },
  { key: "softmax", settings: { loss: "softmax" } },
];

/** The reference whose final error the others race to. */
const TARGET = "triplet (semi-hard)";

/** The first step at which the median curve reaches `target` (null: never). */
function stepsToReach(runs: readonly RunRecord[], target: number): number | null {
  const c = medianCurve(runs, (p) => p.error);
  const i = c.ys.findIndex((y) => y <= target);
  return i < 0 ? null : c.iterations[i];
}

export const speed: Experiment = {
  name: "speed",
  title: "Speed against triplet",
  claim: "Magnet reaches the triplet loss's error in several times fewer iterations (5-30x on " +
    "fine-grained image sets) and ends with a 30-40 % lower error (paper, section 4.1).",
  plan(env) {
    const evalAt = curveSchedule(env.options.iterations);
    return LOSSES.map((l) => ({
      key: l.key,
      settings: { ...l.settings, model: env.options.model },
      evalAt,
    }));
  },
  summarise(records) {
    const iterations = records[0]?.iterations ?? 0;
    const target = median(runsOf(records, TARGET).map((r) => r.curve.at(-1)!.error));
    const budgets = [1 / 6, 1 / 3, 2 / 3].map((f) => Math.round(f * iterations));
    const atBudget = (runs: readonly RunRecord[], step: number) =>
      runs.map((r) => r.curve.find((p) => p.iteration === step)?.error)
        .filter((v): v is number => v !== undefined);
    const present = LOSSES.filter((l) => runsOf(records, l.key).length > 0);
    const table: ResultTable = {
      title: "Test error by loss",
      caption: `Medians over seeds (range in brackets). The error is each loss's own rule: the ` +
        `magnet rule for magnet, 5-NN for the others. "Steps to triplet's error" is the first ` +
        `evaluated step at which the median curve reaches the final error of ${TARGET} ` +
        `(${(100 * target).toFixed(1)} %); "speed-up" divides ${TARGET}'s steps by it. Training ` +
        "time leaves the evaluations out.",
      columns: [
        "loss",
        ...budgets.map((b) => `error @ ${b}`),
        `error @ ${iterations}`,
        "5-NN error",
        "vs triplet",
        "steps to triplet's error",
        "speed-up",
        "s / 1,000 steps",
      ],
      rows: present.map((l) => {
        const runs = runsOf(records, l.key);
        const final = runs.map((r) => r.curve.at(-1)!.error);
        const reach = stepsToReach(runs, target);
        const targetSteps = stepsToReach(runsOf(records, TARGET), target);
        return [
          l.key,
          ...budgets.map((b) => medianCell(atBudget(runs, b))),
          medianCell(final),
          medianCell(metricOf(runs, "knnError")),
          relativeCell(median(final), target),
          reach === null ? "not reached" : String(reach),
          reach === null || targetSteps === null ? "-" : `${(targetSteps / reach).toFixed(1)}x`,
          median(runs.map((r) => r.trainSecondsPer1000)).toFixed(1),
        ];
      }),
    };
    const settings = present.map((l) => ({ key: l.key, label: l.key }));
    return {
      tables: [table],
      figures: [
        errorFigure(
          records,
          settings,
          "iterations",
          "Test error against training steps",
          "Median over seeds at each evaluated step; each loss's own rule.",
        ),
        errorFigure(
          records,
          settings,
          "seconds",
          "Test error against training time",
          "The same points against the median training time (steps and index refreshes; the " +
            "evaluations are left out).",
        ),
      ],
    };
  },
};
