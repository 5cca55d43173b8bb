/**
 * What the report is drawn from: the run's title, settings, typed summary, history and test
 * embeddings, and the options of the drawing. Types only; `renderReport` (report.ts) reads them.
 */
import type { EvalMetrics } from "../eval/evaluate.ts";
import type { HistoryPoint, KeptModel } from "../train/types.ts";
import type { RunTimes } from "../train/times.ts";

/** The test embeddings to map, with their classes and optionally the cluster centres. */
export interface EmbeddingData {
  /** Row-major n x dim embeddings. */
  points: Float32Array;
  /** Width of an embedding row. */
  dim: number;
  /** Class of each row: an index into `classNames`. */
  labels: Int32Array;
  /** Name of each class. */
  classNames: string[];
  /** Cluster centres in the same space (n_centres x dim), optional. */
  centres?: Float32Array;
  /** Class of each centre. */
  centreClasses?: Int32Array;
  /** For image data: the test images themselves, shown on the map in figure 4. */
  images?: EmbeddingImages;
}

/** The pictures behind the test embeddings (8-bit pixels, channels last). */
export interface EmbeddingImages {
  /** [height, width, channels] of every image; channels 1 (grey) or 3 (RGB). */
  shape: readonly [number, number, number];
  /** The pixels of test row `row`. */
  pixels(row: number): Uint8Array;
  /** Each row's name for the reader (an image's path), when known. */
  ids?: readonly string[];
}

/**
 * A finished run in numbers: its final test metrics, its length and where its time went. The
 * report's subtitle and its summary table both read the run's duration from `time.seconds`.
 */
export interface RunSummary {
  /** The final evaluation (errors and scores as fractions in [0, 1]), or null when there was none. */
  metrics: EvalMetrics | null;
  /** Steps done. */
  iterations: number;
  /** Wall time of the run and per step, refresh and evaluation (see `runTimes`). */
  time: RunTimes;
  /** The k of the k-NN error, so it is named as it was measured ("5-NN error"). Default 5. */
  knnK?: number;
  /** The model the run kept, and why (absent: the last, said nowhere). */
  kept?: KeptModel | null;
  /** Whether the run stopped early for want of a better validation error. */
  stoppedEarly?: boolean;
  /**
   * Whether the loss trains on a cluster index, so that a run whose only index was its first
   * build says it was never refreshed.
   */
  usesIndex?: boolean;
}

/** Everything the report shows. */
export interface ReportData {
  /** The page's heading, e.g. "magnet on MNIST (webgpu)". */
  title: string;
  /** Settings to list in a table; nested plain objects are listed with dotted keys. */
  config: Record<string, unknown>;
  /** The run's final metrics and timings. */
  summary: RunSummary;
  /** The training log, in any order (it is sorted by iteration). */
  history: HistoryPoint[];
  /** The test embeddings to map. */
  embedding: EmbeddingData;
}

/** How `renderReport` draws the embedding map. */
export interface ReportOptions {
  /**
   * The 2-D projection of the embedding map. "umap" needs `loadUmap()` to have been awaited first
   * and takes some seconds for a few thousand points. Default "pca".
   */
  projection?: "pca" | "umap";
  /** Seed of UMAP's random choices; the same seed gives the same map. Default 1. */
  seed?: number;
  /** Most embedding points drawn (a deterministic subsample beyond it). Default 3000. */
  maxPoints?: number;
}
