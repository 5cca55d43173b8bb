/**
 * Timing for benchmarks whose figure of merit is a rate (GFLOP/s) or a time per unit of work (ms per
 * call) rather than time per bench iteration: each benchmark records the seconds of its timed part,
 * and when `deno bench` ends the medians are printed as a table, side by side per group, each row
 * with its unit.
 */

interface Entry {
  group: string;
  name: string;
  work: number;
  unit: string;
  seconds: number[];
}

const entries = new Map<string, Entry>();

/** Records one timed iteration of `name` in `group` that did `work` units (e.g. GFLOP). */
export function record(group: string, name: string, work: number, unit: string, seconds: number) {
  const key = `${group}\u0000${name}`;
  let entry = entries.get(key);
  if (entry === undefined) {
    entry = { group, name, work, unit, seconds: [] };
    entries.set(key, entry);
  }
  entry.seconds.push(seconds);
}

/** Times `fn` (which does `work` units) and records it; returns fn's result. */
export async function timed<T>(
  group: string,
  name: string,
  work: number,
  unit: string,
  fn: () => Promise<T>,
): Promise<T> {
  const start = performance.now();
  const result = await fn();
  record(group, name, work, unit, (performance.now() - start) / 1000);
  return result;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The table of median rates, one block per group. */
export function summary(): string {
  const lines: string[] = [
    "",
    "Per unit of work (the unit on each row), from the timed part of each iteration; the table",
    "above gives the time of whole iterations, which hold the work their names say.",
  ];
  let group = "";
  for (const e of entries.values()) {
    if (e.group !== group) {
      group = e.group;
      lines.push("", `## ${group}`);
    }
    const s = median(e.seconds);
    // "ms/<thing>" units report time per unit of work; others report work per second.
    const value = e.unit.startsWith("ms/") ? (s * 1000) / e.work : e.work / s;
    lines.push(
      `${e.name.padEnd(28)} ${value.toFixed(2).padStart(9)} ${e.unit}   ` +
        `(median of ${e.seconds.length}: ${(s * 1000).toFixed(2)} ms)`,
    );
  }
  return lines.join("\n");
}

globalThis.addEventListener("unload", () => {
  if (entries.size > 0) console.log(summary());
});
