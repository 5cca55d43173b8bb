/**
 * The report's two tables: the run summary (final test metrics in percent, then the run's length
 * and where its time went) and the settings (nested objects listed with dotted keys).
 */
import type { RunSummary } from "./data.ts";
import { esc, formatCount, formatNumber, formatSeconds } from "./format.ts";
import { DEFAULT_KNN_K, formatMetric, METRICS, metricValue } from "./metrics.ts";

/** A row: a name and its value, or a group heading spanning both columns. */
type Row = [string, string] | { group: string };

/** A key/value table split into `pairs` column pairs, so a long list stays short on the page. */
function pairsTable(rows: Row[], empty: string, pairs: number): string {
  if (rows.length === 0) return `<p class="empty">${esc(empty)}</p>`;
  const perColumn = Math.ceil(rows.length / pairs);
  const body: string[] = [];
  for (let r = 0; r < perColumn; r++) {
    let tr = "<tr>";
    for (let p = 0; p < pairs; p++) {
      const row = rows[p * perColumn + r];
      if (row === undefined) tr += "<th></th><td></td>";
      else if (Array.isArray(row)) tr += `<th scope="row">${esc(row[0])}</th>${cell(row[1])}`;
      else tr += `<th class="group" colspan="2">${esc(row.group)}</th>`;
    }
    body.push(`${tr}</tr>`);
  }
  return `<table class="kv">${body.join("")}</table>`;
}

/** Cuts a long value for the table; the full text stays in the cell's hover title. */
function cell(text: string, limit = 80): string {
  if (text.length <= limit) return `<td>${esc(text)}</td>`;
  return `<td title="${esc(text)}">${esc(text.slice(0, limit - 1))}…</td>`;
}

/** "3 × 1.20 s", or "none". */
function repeated(x: { count: number; secondsEach: number | null }): string {
  return x.count === 0 || x.secondsEach === null
    ? "none"
    : `${formatCount(x.count)} × ${formatSeconds(x.secondsEach)}`;
}

/** "3 × 1.20 s", saying when the first build was the only one. */
export function indexText(
  x: { count: number; secondsEach: number | null },
  usesIndex: boolean,
): string {
  const text = repeated(x);
  return usesIndex && x.count === 1 ? `${text} (the first build: never refreshed)` : text;
}

/** Which model a run kept, in words: "best validation magnet-rule error (4.20%) at step 600". */
export function keptText(kept: NonNullable<RunSummary["kept"]>, k: number): string {
  const metric = METRICS.find((m) => m.key === kept.metric);
  const measured = metric !== undefined && kept.value !== null
    ? ` (validation ${metric.name(k)} ${formatMetric(metric, kept.value)})`
    : "";
  return kept.rule === "best"
    ? `the best on the validation rows, from step ${formatCount(kept.iteration)}${measured}`
    : `the last, from step ${formatCount(kept.iteration)}${measured}`;
}

/**
 * The summary: the final test metrics (by name, in percent; NMI as a score), then the run's
 * length and times.
 * The wall time is `summary.time.seconds`, the figure the page's subtitle gives too.
 */
export function summaryTable(summary: RunSummary): string {
  const k = summary.knnK ?? DEFAULT_KNN_K;
  const rows: Row[] = [{ group: "Final test metrics" }];
  const m = summary.metrics;
  if (m === null) {
    rows.push(["test metrics", "none: the run ended without a final evaluation"]);
  } else {
    for (const spec of METRICS) {
      const v = metricValue(m, spec.key);
      // A baseline has no magnet rule: leave the row out rather than show a dash.
      if (v === null && spec.key === "magnetError") continue;
      rows.push([spec.name(k), formatMetric(spec, v)]);
    }
  }
  const t = summary.time;
  rows.push({ group: "Run" });
  rows.push([
    "iterations",
    formatCount(summary.iterations) + (summary.stoppedEarly ? " (stopped early)" : ""),
  ]);
  if (summary.kept) rows.push(["model kept", keptText(summary.kept, k)]);
  rows.push(["wall time", formatSeconds(t.seconds)]);
  rows.push(["per 1,000 steps", formatSeconds(t.secondsPer1000Steps)]);
  rows.push(["one step", formatSeconds(t.msPerStep / 1000)]);
  if (t.refreshes.count > 0 || summary.usesIndex) {
    rows.push(["index builds", indexText(t.refreshes, summary.usesIndex === true)]);
  }
  rows.push(["evaluations", repeated(t.evaluations)]);
  return pairsTable(rows, "No summary recorded.", 1);
}

function formatConfigValue(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "—";
  if (typeof value === "number") return formatNumber(value);
  if (typeof value === "string") return value;
  if (typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (typeof value === "function" || typeof value === "symbol") return String(value);
  try {
    const json = JSON.stringify(value, (_k, v) => typeof v === "bigint" ? String(v) : v);
    return json === undefined ? String(value) : json;
  } catch {
    // Cyclic objects cannot be shown as JSON; the table must still render.
    return String(value);
  }
}

/** Lists nested plain objects with dotted keys, so a table row never holds a wall of JSON. */
function flattenConfig(
  config: Record<string, unknown>,
  prefix = "",
  out: [string, string][] = [],
  depth = 0,
): [string, string][] {
  for (const [key, value] of Object.entries(config)) {
    const name = prefix + key;
    if (
      depth < 4 && value !== null && typeof value === "object" && !Array.isArray(value) &&
      !ArrayBuffer.isView(value) && Object.getPrototypeOf(value) === Object.prototype
    ) {
      flattenConfig(value as Record<string, unknown>, `${name}.`, out, depth + 1);
    } else {
      out.push([name, formatConfigValue(value)]);
    }
  }
  return out;
}

/** The settings, in two column pairs when there are more than eight. */
export function configTable(config: Record<string, unknown>): string {
  const rows = flattenConfig(config);
  return pairsTable(rows, "No settings recorded.", rows.length > 8 ? 2 : 1);
}
