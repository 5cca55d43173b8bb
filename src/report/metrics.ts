/**
 * The test metrics as the report names and shows them: one list, read by the summary table, the
 * metrics chart and its table, so a metric has the same words, unit and colour everywhere.
 */
import type { EvalMetrics } from "../eval/evaluate.ts";
import { formatNmi, formatPercent } from "./format.ts";

/** How the report shows one field of {@link EvalMetrics}. */
export interface MetricSpec {
  /** The field. */
  key: keyof EvalMetrics;
  /** Its name in words, e.g. "precision@1"; `k` is the k of k-NN. */
  name(k: number): string;
  /** "error": lower is better, drawn from 0; "score": higher is better. */
  kind: "error" | "score";
  /** Line and marker colour in the chart. */
  colour: string;
  /** Drawn dashed (a clustering score among retrieval scores). */
  dashed?: boolean;
  /**
   * How its values are written: "%" for the errors and precisions; "" for NMI, a score written
   * as 0.865 in every output (the chart draws it on the percent axis, times 100, and says so).
   */
  unit: "%" | "";
}

/** Every metric, in the order the report lists them. All are fractions in [0, 1]. */
export const METRICS: readonly MetricSpec[] = [
  {
    key: "magnetError",
    name: () => "magnet-rule error",
    kind: "error",
    colour: "#d1495b",
    unit: "%",
  },
  { key: "knnError", name: (k) => `${k}-NN error`, kind: "error", colour: "#2e6fba", unit: "%" },
  { key: "precisionAt1", name: () => "precision@1", kind: "score", colour: "#2a9d8f", unit: "%" },
  { key: "rPrecision", name: () => "R-precision", kind: "score", colour: "#c77d12", unit: "%" },
  { key: "mapAtR", name: () => "MAP@R", kind: "score", colour: "#7b4fa0", unit: "%" },
  { key: "nmi", name: () => "NMI", kind: "score", colour: "#555555", dashed: true, unit: "" },
];

/** A metric's value as the report writes it: "4.20%" or, for NMI, "0.865". */
export function formatMetric(spec: MetricSpec, value: number | null): string {
  return spec.unit === "%" ? formatPercent(value) : formatNmi(value);
}

/** The k of k-NN when the summary does not give it (the trainer's default). */
export const DEFAULT_KNN_K = 5;

/** A metric's value as a finite fraction, or null (not measured, or not finite). */
export function metricValue(m: EvalMetrics, key: keyof EvalMetrics): number | null {
  const v = m[key];
  return v === null || !Number.isFinite(v) ? null : v;
}
