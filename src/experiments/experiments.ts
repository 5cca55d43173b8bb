/** The experiments by name, and the results file they write. */
import type { DataSource } from "../data/source.ts";
import { ablation } from "./ablation.ts";
import { hierarchy } from "./hierarchy.ts";
import { speed } from "./speed.ts";
import type { Experiment, ExperimentEnv, ExperimentResults, RunRecord } from "./types.ts";

/** Every experiment, by its command-line name. */
export const EXPERIMENTS: Readonly<Record<string, Experiment>> = { speed, hierarchy, ablation };

/** What results.json records besides the runs. */
export interface ResultsContext {
  /** The command that produced the results. */
  readonly command: string;
  /** Where the data came from (so `--resume` loads it again). */
  readonly source: DataSource;
  readonly startedAt: Date;
  /** Wall time of the whole experiment so far, in seconds. */
  readonly seconds: number;
}

/** results.json with its source: the data's description travels with the results. */
export type SavedResults = ExperimentResults & { readonly source: DataSource };

/** The results of `records`, summarised. */
export function buildResults(
  experiment: Experiment,
  env: ExperimentEnv,
  records: readonly RunRecord[],
  complete: boolean,
  context: ResultsContext,
): SavedResults {
  const { tables, figures } = experiment.summarise(records, env);
  return {
    format: "magnet-experiment",
    version: 1,
    experiment: experiment.name,
    title: experiment.title,
    claim: experiment.claim,
    command: context.command,
    complete,
    startedAt: context.startedAt.toISOString(),
    updatedAt: new Date().toISOString(),
    seconds: context.seconds,
    backend: env.backend.description,
    data: {
      name: env.data.name,
      train: env.data.train.labels.length,
      test: env.data.test.labels.length,
    },
    source: context.source,
    options: env.options,
    runs: records,
    tables,
    figures,
  };
}

/** A table as Markdown, for the terminal and the README. */
export function markdownTable(
  t: { columns: readonly string[]; rows: readonly (readonly string[])[] },
) {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(t.columns), line(t.columns.map(() => "---")), ...t.rows.map(line)].join("\n");
}
