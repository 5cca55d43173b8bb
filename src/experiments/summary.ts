/** Medians over seeds, and the cell formats of the experiments' tables. */
import type { ResultFigure, RunRecord } from "./types.ts";

/** The median of `values` (NaN when empty). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The runs of one setting, by key. */
export function runsOf(records: readonly RunRecord[], key: string): RunRecord[] {
  return records.filter((r) => r.key === key);
}

/** A metric of every run of a setting (runs without it left out). */
export function metricOf(runs: readonly RunRecord[], name: string): number[] {
  return runs.map((r) => r.metrics[name]).filter((v): v is number => typeof v === "number");
}

/** A percentage with one decimal: "12.3 %"; "-" for nothing. */
export function pct(fraction: number): string {
  return Number.isFinite(fraction) ? `${(100 * fraction).toFixed(1)} %` : "-";
}

/**
 * The median of fractions as a percentage, with the range over seeds when there are several:
 * "12.3 % (11.9-12.8)".
 */
export function medianCell(values: readonly number[]): string {
  if (values.length === 0) return "-";
  const m = pct(median(values));
  if (values.length === 1) return m;
  const lo = Math.min(...values), hi = Math.max(...values);
  return `${m} (${(100 * lo).toFixed(1)}-${(100 * hi).toFixed(1)})`;
}

/** A difference of fractions in percentage points, signed: "+1.2 pp". */
export function pointsCell(delta: number): string {
  if (!Number.isFinite(delta)) return "-";
  const text = (100 * delta).toFixed(1);
  return `${delta >= 0 && text !== "-0.0" ? "+" : ""}${text === "-0.0" ? "0.0" : text} pp`;
}

/** A relative change of `value` against `base`, signed: "-23 %". */
export function relativeCell(value: number, base: number): string {
  if (!Number.isFinite(value) || !Number.isFinite(base) || base === 0) return "-";
  const r = Math.round((100 * (value - base)) / base);
  return `${r > 0 ? "+" : ""}${r} %`;
}

/** Seeds as text: "3 seeds" or "seed 1". */
export function seedsText(runs: readonly RunRecord[]): string {
  return runs.length === 1 ? `seed ${runs[0].seed}` : `${runs.length} seeds`;
}

/**
 * The median curve of a setting's runs: at each evaluated step that every run has, the median of
 * `y` and of the training seconds there.
 */
export function medianCurve(
  runs: readonly RunRecord[],
  y: (point: RunRecord["curve"][number]) => number,
): { iterations: number[]; seconds: number[]; ys: number[] } {
  const steps = runs.length === 0 ? [] : runs[0].curve.map((p) => p.iteration)
    .filter((it) => runs.every((r) => r.curve.some((p) => p.iteration === it)));
  const at = (r: RunRecord, it: number) => r.curve.find((p) => p.iteration === it)!;
  return {
    iterations: steps,
    seconds: steps.map((it) => median(runs.map((r) => at(r, it).seconds))),
    ys: steps.map((it) => median(runs.map((r) => y(at(r, it))))),
  };
}

/** Error curves of several settings against steps, or against training seconds. */
export function errorFigure(
  records: readonly RunRecord[],
  settings: readonly { key: string; label: string }[],
  axis: "iterations" | "seconds",
  title: string,
  caption: string,
): ResultFigure {
  return {
    title,
    caption,
    xTitle: axis === "iterations" ? "training steps" : "training time (s, evaluations left out)",
    yTitle: "test error (%)",
    series: settings.map(({ key, label }) => {
      const c = medianCurve(runsOf(records, key), (p) => p.error);
      return { label, xs: axis === "iterations" ? c.iterations : c.seconds, ys: c.ys };
    }).filter((s) => s.xs.length > 0),
  };
}
