/**
 * A Markdown table of finished runs, one row per (model, loss) with medians over seeds and their
 * range: what the README's result tables are made from.
 *
 *   deno run -A scripts/runs_table.ts runs/fm-*
 *
 * Each argument is a run folder (its metrics.json is read).
 */
interface Metrics {
  loss: string;
  settings: { model: string; seed: number; tripletMining: string; freezeBackbone?: boolean };
  test: Record<string, number | null>;
  time: { seconds: number; msPerStep: number; refreshes: { secondsEach: number | null } };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function cell(values: number[], percent = true): string {
  const f = (v: number) => (percent ? (100 * v).toFixed(1) : v.toFixed(3));
  if (values.length === 0) return "-";
  const m = f(median(values)) + (percent ? " %" : "");
  return values.length === 1 ? m : `${m} (${f(Math.min(...values))}-${f(Math.max(...values))})`;
}

const runs: Metrics[] = [];
for (const dir of Deno.args) {
  try {
    runs.push(JSON.parse(Deno.readTextFileSync(`${dir}/metrics.json`)));
  } catch {
    console.error(`skipped ${dir}: no readable metrics.json`);
  }
}
const groups = new Map<string, Metrics[]>();
for (const r of runs) {
  const model = r.settings.model !== "backbone"
    ? r.settings.model
    : `backbone, ${r.settings.freezeBackbone ? "frozen" : "fine-tuned"}`;
  const key = `${model} | ${r.loss}`;
  groups.set(key, [...(groups.get(key) ?? []), r]);
}
console.log(
  "| model | loss | seeds | test error | 5-NN error | P@1 | MAP@R | NMI | wall time | ms / step | s / refresh |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const [key, rs] of groups) {
  const own = rs.map((r) => r.test.magnetError ?? r.test.knnError!);
  const get = (name: string) => rs.map((r) => r.test[name]!);
  const refresh = rs.map((r) => r.time.refreshes.secondsEach).filter((v): v is number =>
    v !== null
  );
  console.log(
    `| ${key} | ${rs.map((r) => r.settings.seed).join(", ")} | ${cell(own)} | ${
      cell(get("knnError"))
    } | ${cell(get("precisionAt1"))} | ${cell(get("mapAtR"))} | ${cell(get("nmi"), false)} | ${
      (median(rs.map((r) => r.time.seconds)) / 60).toFixed(1)
    } min | ${median(rs.map((r) => r.time.msPerStep)).toFixed(1)} | ${
      refresh.length ? median(refresh).toFixed(2) : "-"
    } |`,
  );
}
