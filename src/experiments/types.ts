/**
 * What an experiment is: a claim of the paper, the training runs that test it, the measurements
 * each run adds beyond the usual test metrics, and the tables and figures that summarise the runs
 * (medians over seeds). The runner (runner.ts) trains; the page (page.ts) draws.
 */
import type { Backend } from "../backend/backend.ts";
import type { Dataset, Features } from "../data/dataset.ts";
import type { TrainConfig } from "../train/config.ts";
import type { TrainResult } from "../train/types.ts";

/** How the command line asked for an experiment. */
export interface ExperimentOptions {
  /** Seeds; every run is repeated once per seed. */
  readonly seeds: readonly number[];
  /** A small version: fewer rows, steps and evaluations (for CI and a first look). */
  readonly quick: boolean;
  /** Training steps of every run (default 6,000; 150 with quick). */
  readonly iterations: number;
  /** The embedding network. */
  readonly model: "mlp" | "cnn";
}

/** The data an experiment runs on (fine labels: the data set's own classes). */
export interface ExperimentData {
  /** "Fashion-MNIST" or "MNIST". */
  readonly name: string;
  readonly train: Dataset<Features>;
  readonly test: Dataset<Features>;
}

/** What a run's planning and measuring code may use. */
export interface ExperimentEnv {
  readonly backend: Backend;
  readonly data: ExperimentData;
  readonly options: ExperimentOptions;
}

/** One planned training run (repeated for each seed). */
export interface RunSpec {
  /** Names the settings within the experiment, unique: "magnet", "K = 4", ... */
  readonly key: string;
  /** The settings that differ from the defaults (the seed and the steps are the runner's). */
  readonly settings: Partial<TrainConfig>;
  /** Train on these data instead of the experiment's (the hierarchy's coarse labels). */
  readonly data?: ExperimentData;
  /** Steps after which to evaluate on the test set (the end always is). */
  readonly evalAt?: readonly number[];
}

/** A test evaluation during a run. */
export interface CurvePoint {
  /** Steps done. */
  readonly iteration: number;
  /** Seconds of training so far, evaluations left out. */
  readonly seconds: number;
  /** The loss's own classification error: the magnet rule's for magnet, k-NN's for the others. */
  readonly error: number;
  /** k-NN error (k = 5). */
  readonly knnError: number;
}

/** A finished run. */
export interface RunRecord {
  readonly key: string;
  readonly seed: number;
  /** The settings that differ from the defaults. */
  readonly settings: Partial<TrainConfig>;
  /** Steps done. */
  readonly iterations: number;
  /** Wall time of the run, evaluations included. */
  readonly seconds: number;
  /** Seconds of training (steps and refreshes) per 1,000 steps. */
  readonly trainSecondsPer1000: number;
  /** The test evaluations, the last one at the end. */
  readonly curve: readonly CurvePoint[];
  /** The final test metrics and the experiment's own measurements, by name (fractions). */
  readonly metrics: Readonly<Record<string, number | null>>;
}

/** A table of the page and of results.json: cells are already formatted. */
export interface ResultTable {
  readonly title: string;
  readonly caption: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

/** A line chart: one series per setting, medians over seeds. */
export interface ResultFigure {
  readonly title: string;
  readonly caption: string;
  readonly xTitle: string;
  readonly yTitle: string;
  readonly series: readonly { label: string; xs: number[]; ys: number[] }[];
}

/** One experiment. */
export interface Experiment {
  /** The command-line name. */
  readonly name: string;
  /** A heading. */
  readonly title: string;
  /** The paper's claim it tests, in a sentence or two. */
  readonly claim: string;
  /** The runs, once per seed each. */
  plan(env: ExperimentEnv): RunSpec[];
  /** Measurements beyond the test metrics, taken after a run (fractions, by name). */
  measure?(env: ExperimentEnv, spec: RunSpec, result: TrainResult): Promise<Record<string, number>>;
  /** Tables and figures of the runs so far (medians over seeds). */
  summarise(records: readonly RunRecord[], env: ExperimentEnv): {
    tables: ResultTable[];
    figures: ResultFigure[];
  };
}

/** results.json: everything measured, the summary, and how to run it again. */
export interface ExperimentResults {
  readonly format: "magnet-experiment";
  readonly version: 1;
  readonly experiment: string;
  readonly title: string;
  readonly claim: string;
  /** The command that produced it. */
  readonly command: string;
  /** False while runs are missing (an interrupted experiment). */
  readonly complete: boolean;
  readonly startedAt: string;
  readonly updatedAt: string;
  /** Wall time so far, all sessions together. */
  readonly seconds: number;
  readonly backend: string;
  readonly data: { name: string; train: number; test: number };
  readonly options: ExperimentOptions;
  readonly runs: readonly RunRecord[];
  readonly tables: readonly ResultTable[];
  readonly figures: readonly ResultFigure[];
}
