/**
 * Ablations (paper section 3 and 4.1): the magnet loss with each adaptive part changed while the
 * others keep their defaults: K clusters per class, the sampler (the paper's loss-weighted seed and
 * nearest impostors, a uniform seed, or random clusters), how often the index is refreshed, the
 * margin alpha, the batch's shape (M, D), and the variance-squared form of the loss that widely
 * copied ports use. Runs shared by several groups (the defaults) are trained once.
 */
import type { TrainConfig } from "../train/config.ts";
import { BATCH, batchShape } from "./runner.ts";
import { median, medianCell, metricOf, pointsCell, runsOf } from "./summary.ts";
import type { Experiment, ExperimentEnv, ResultTable, RunSpec } from "./types.ts";

/** One row of a group: its label and the settings it changes. */
interface Variant {
  readonly label: string;
  readonly settings: Partial<TrainConfig>;
}

/** A group of variants, one of them the defaults. */
interface Group {
  readonly title: string;
  readonly what: string;
  readonly variants: readonly Variant[];
}

const DEFAULT_LABEL = "(default)";

function groups(env: ExperimentEnv): Group[] {
  const classes = env.data.train.classNames.length;
  const epoch = Math.ceil(env.data.train.labels.length / BATCH);
  const iterations = env.options.iterations;
  const k = (value: number): Variant => {
    const shape = batchShape((classes - 1) * value);
    const changed = shape.m !== 12 ? ` (M = ${shape.m}, D = ${shape.d})` : "";
    return {
      label: `K = ${value}${changed}${value === 8 ? ` ${DEFAULT_LABEL}` : ""}`,
      settings: value === 8 ? {} : { k: value, ...(shape.m !== 12 ? shape : {}) },
    };
  };
  const refresh = (label: string, steps: number, isDefault = false): Variant => ({
    label: `${label} (${steps} steps)${isDefault ? ` ${DEFAULT_LABEL}` : ""}`,
    settings: isDefault ? {} : { refreshEvery: steps },
  });
  return [
    {
      title: "Clusters per class (K)",
      what: "K; where fewer clusters leave too few impostors for M = 12, M shrinks and D grows",
      variants: [1, 2, 4, 8, 16].map(k),
    },
    {
      title: "Sampler",
      what: "how a batch's clusters are drawn",
      variants: [
        { label: `loss-weighted seed + nearest impostors ${DEFAULT_LABEL}`, settings: {} },
        { label: "uniform seed + nearest impostors", settings: { sampler: "uniform-seed" } },
        { label: "uniformly random clusters", settings: { sampler: "random" } },
      ],
    },
    {
      title: "Index refresh",
      what: "steps between refreshes of the cluster index",
      variants: [
        refresh("every 1/4 epoch", Math.max(1, Math.round(epoch / 4))),
        refresh("every epoch", epoch, true),
        refresh("every 4 epochs", 4 * epoch),
        {
          label: "never (the index of the initial embedding)",
          settings: { refreshEvery: iterations },
        },
      ],
    },
    {
      title: "Margin (alpha)",
      what: "alpha",
      variants: [0, 0.5, 1, 2].map((alpha) => ({
        label: `alpha = ${alpha}${alpha === 1 ? ` ${DEFAULT_LABEL}` : ""}`,
        settings: alpha === 1 ? {} : { alpha },
      })),
    },
    {
      title: "Batch shape (M, D)",
      what: "clusters per batch and examples per cluster, 48 rows each",
      variants: [[12, 4], [6, 8], [24, 2]].map(([m, d]) => ({
        label: `M = ${m}, D = ${d}${m === 12 ? ` ${DEFAULT_LABEL}` : ""}`,
        settings: m === 12 ? {} : { m, d },
      })),
    },
    {
      title: "Variance term",
      what: "the loss's denominator",
      variants: [
        { label: `2 s2, as the paper ${DEFAULT_LABEL}`, settings: {} },
        { label: "2 s2^2, as widely copied ports", settings: { varianceForm: "squared" } },
      ],
    },
  ];
}

/** The key of a variant's settings: variants with the same settings share their runs. */
function keyOf(settings: Partial<TrainConfig>): string {
  const entries = Object.entries(settings).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0
    ? "defaults"
    : entries.map(([name, value]) => `${name} = ${value}`).join(", ");
}

export const ablation: Experiment = {
  name: "ablation",
  title: "What each adaptive part is worth",
  claim: "The adaptive parts (K clusters per class, loss-driven neighbourhood sampling, index " +
    "refresh) are what make magnet work; and the widely copied 2 s2^2 form is not the paper's " +
    "loss (paper, sections 3 and 4.1).",
  plan(env) {
    const specs = new Map<string, RunSpec>();
    for (const group of groups(env)) {
      for (const v of group.variants) {
        const key = keyOf(v.settings);
        specs.set(key, {
          key,
          settings: { ...v.settings, loss: "magnet", model: env.options.model },
        });
      }
    }
    return [...specs.values()];
  },
  summarise(records, env) {
    const base = median(metricOf(runsOf(records, keyOf({})), "magnetError"));
    const tables: ResultTable[] = groups(env).map((group) => ({
      title: group.title,
      caption: `Magnet runs that change ${group.what}; everything else at its default. Medians ` +
        "over seeds (range). The last column is the change in magnet-rule error against the " +
        "defaults' run.",
      columns: ["setting", "magnet-rule error", "5-NN error", "vs default"],
      rows: group.variants.map((v) => {
        const runs = runsOf(records, keyOf(v.settings));
        const errors = metricOf(runs, "magnetError");
        return [
          v.label,
          medianCell(errors),
          medianCell(metricOf(runs, "knnError")),
          pointsCell(median(errors) - base),
        ];
      }),
    }));
    return { tables, figures: [] };
  },
};
