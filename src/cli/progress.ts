/**
 * Progress output of `deno task train`: a live bar on a terminal, plain periodic lines otherwise,
 * evaluation lines, and the final summary table.
 */
import type { EvalMetrics } from "../eval/evaluate.ts";
import type { TrainEvent } from "../train/types.ts";
import type { DecodeProgress } from "../data/images/decode.ts";

const encoder = new TextEncoder();

/** Formats seconds as m:ss or h:mm:ss. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--:--";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = String(m).padStart(h > 0 ? 2 : 1, "0"), ss = String(r).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** A percentage with two decimals, or "-". */
export function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? "-" : `${(value * 100).toFixed(2)} %`;
}

/** One line describing an evaluation. */
export function evalLine(iteration: number, m: EvalMetrics, seconds: number): string {
  const magnet = m.magnetError === null ? "" : `magnet error ${percent(m.magnetError)}, `;
  return `eval @ ${iteration}: ${magnet}k-NN error ${percent(m.knnError)}, P@1 ${
    percent(m.precisionAt1)
  }, R-precision ${percent(m.rPrecision)}, MAP@R ${percent(m.mapAtR)}, NMI ${m.nmi.toFixed(3)} (${
    seconds.toFixed(1)
  } s)`;
}

/** Prints training progress; `tty` chooses the live bar over plain lines. */
export class ProgressPrinter {
  #lastDraw = 0;
  #lastLine = 0;
  #lastDone = -1;
  #barShown = false;
  #refreshes = 0;

  constructor(readonly tty: boolean, readonly quiet: boolean) {}

  #closed = false;

  /**
   * Writes progress to stdout. When the reader has gone (a closed pipe: `| head`, a log collector
   * that stopped), progress stops and the run goes on: it is never worth losing the work for.
   */
  #write(text: string): void {
    if (this.#closed) return;
    try {
      const bytes = encoder.encode(text);
      for (let done = 0; done < bytes.length;) done += Deno.stdout.writeSync(bytes.subarray(done));
    } catch (error) {
      if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
      this.#closed = true;
    }
  }

  /** Ends the live bar's line so other output starts on a fresh one. */
  #clearBar(): void {
    if (this.#barShown) {
      this.#write("\r\x1b[2K");
      this.#barShown = false;
    }
  }

  /** Prints a line (above the bar on a terminal). */
  line(text: string): void {
    if (this.quiet) return;
    this.#clearBar();
    this.#write(`${text}\n`);
  }

  /** Handles one trainer event. */
  event(e: TrainEvent): void {
    if (this.quiet) return;
    if (e.kind === "refresh") {
      this.#refreshes++;
      return;
    }
    if (e.kind === "eval") {
      this.line(evalLine(e.iteration, e.metrics, e.seconds));
      return;
    }
    const stats = `loss ${e.loss.toFixed(4)}  ${e.stepsPerSecond.toFixed(1)} steps/s  ETA ${
      formatDuration(e.etaSeconds)
    }`;
    this.#progress(e.iteration, e.iterations, "step", stats, `  refreshes ${this.#refreshes}`);
  }

  /**
   * Progress through `total` units of work (`unit` names them in plain lines: "rows"), with `stats`
   * after the count.
   */
  count(done: number, total: number, unit: string, stats: string): void {
    if (this.quiet) return;
    this.#progress(done, total, unit, stats, "");
  }

  /**
   * A live bar on a terminal (at most ten redraws a second), else a line at each twentieth of the
   * work and at least every 30 seconds; always at the end.
   */
  #progress(done: number, total: number, unit: string, stats: string, barExtra: string): void {
    const now = performance.now();
    const finished = done === total;
    if (this.tty) {
      if (now - this.#lastDraw < 100 && !finished) return;
      this.#lastDraw = now;
      const width = 30;
      const filled = total > 0 ? Math.round((done / total) * width) : width;
      const bar = "#".repeat(filled) + "-".repeat(width - filled);
      this.#write(`\r\x1b[2K[${bar}] ${done}/${total}  ${stats}${barExtra}`);
      this.#barShown = true;
      if (finished) this.#clearBar();
    } else {
      const every = Math.max(1, Math.round(total / 20));
      const crossed = this.#lastDone >= 0
        ? Math.floor(done / every) !== Math.floor(this.#lastDone / every)
        : done % every === 0;
      this.#lastDone = done;
      if (!crossed && !finished && now - this.#lastLine < 30_000) return;
      this.#lastLine = now;
      this.#write(`${unit} ${done}/${total}  ${stats}\n`);
    }
  }

  #decodeStart = 0;
  #decodeStage = "";

  /**
   * Shows the progress of decoding a folder of images: a bar with files per second and an ETA on a
   * terminal, a line every tenth (or 30 s) otherwise.
   */
  decoding(p: DecodeProgress & { folder: string }): void {
    if (this.quiet || p.total === 0) return;
    const now = performance.now();
    const stage = `${p.folder} ${p.stage}`;
    if (stage !== this.#decodeStage) {
      this.#decodeStage = stage;
      this.#decodeStart = now;
      this.#lastLine = now;
    }
    const done = p.done === p.total;
    const seconds = Math.max((now - this.#decodeStart) / 1000, 1e-3);
    const rate = p.done / seconds;
    const what = p.stage === "headers" ? "headers read" : "images";
    const stats = `${p.done.toLocaleString("en-US")}/${p.total.toLocaleString("en-US")} ${what}` +
      `  ${Math.round(rate).toLocaleString("en-US")} files/s  ETA ${
        formatDuration((p.total - p.done) / Math.max(rate, 1e-9))
      }`;
    if (this.tty) {
      if (now - this.#lastDraw < 100 && !done) return;
      this.#lastDraw = now;
      const width = 30;
      const filled = Math.round((p.done / p.total) * width);
      const bar = "#".repeat(filled) + "-".repeat(width - filled);
      this.#write(`\r\x1b[2K[${bar}] ${stats}  ${p.folder}`);
      this.#barShown = true;
      if (done) this.#clearBar();
    } else {
      const every = Math.max(1, Math.round(p.total / 10));
      if (p.done % every !== 0 && !done && now - this.#lastLine < 30_000) return;
      this.#lastLine = now;
      this.#write(`decoding ${p.folder}: ${stats}\n`);
    }
  }

  /** Clears the bar before the program prints something else. */
  finish(): void {
    this.#clearBar();
  }
}

/** A two-column table. */
export function table(rows: readonly [string, string][]): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  const line = `+${"-".repeat(width + 2)}+${
    "-".repeat(Math.max(...rows.map(([, v]) => v.length)) + 2)
  }+`;
  return [
    line,
    ...rows.map(([k, v]) => `| ${k.padEnd(width)} | ${v.padEnd(line.length - width - 7)} |`),
    line,
  ].join("\n");
}
