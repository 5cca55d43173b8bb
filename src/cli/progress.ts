/**
 * Progress output of `deno task train`: a live bar on a terminal, plain periodic lines otherwise,
 * evaluation lines, notes, and the final summary table. Index builds and evaluations show their
 * own progress (rows embedded, k-means iterations, queries searched), so no phase of a run is
 * silent for more than a moment on a terminal, and for more than a few seconds in a log.
 */
import type { EvalMetrics } from "../eval/evaluate.ts";
import type { TrainEvent } from "../train/types.ts";
import type { WorkProgress } from "../util/work.ts";
import { formatCount, formatNmi } from "../report/format.ts";
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
export function evalLine(
  iteration: number,
  m: EvalMetrics,
  seconds: number,
  split: "validation" | "test" = "test",
  best = false,
): string {
  const magnet = m.magnetError === null ? "" : `magnet error ${percent(m.magnetError)}, `;
  return `eval @ ${iteration} (${split}): ${magnet}k-NN error ${percent(m.knnError)}, P@1 ${
    percent(m.precisionAt1)
  }, R-precision ${percent(m.rPrecision)}, MAP@R ${percent(m.mapAtR)}, NMI ${formatNmi(m.nmi)} (${
    seconds.toFixed(1)
  } s)${best ? " best so far" : ""}`;
}

/** What a refresh or evaluation is doing, in words: "embedding 12,000/60,000 rows". */
export function stageText(p: WorkProgress): string {
  switch (p.stage) {
    case "embedding":
      return `embedding ${formatCount(p.done)}/${formatCount(p.total)} rows`;
    case "clustering":
      return `k-means iteration ${p.done} (at most ${p.total})`;
    case "searching":
      return `nearest neighbours of ${formatCount(p.done)}/${formatCount(p.total)} queries`;
    case "scoring":
      return "NMI (k-means of the embeddings)";
  }
}

/** Where progress goes and what time it is (the terminal and the clock, unless a test says). */
export interface ProgressIo {
  write(text: string): void;
  now(): number;
}

/** A phase under way: what it is, since when, and how far. */
interface PhaseShown {
  text: string;
  started: number;
  lastLine: number;
}

/** On a log (not a terminal): a phase gets its first line after this long, then one this often. */
const LOG_PHASE_AFTER_MS = 2000;
const LOG_PHASE_EVERY_MS = 10_000;
/** On a terminal, the live line is redrawn at most this often. */
const REDRAW_MS = 100;

/** Prints training progress; `tty` chooses the live bar over plain lines. */
export class ProgressPrinter {
  #lastDraw = -Infinity;
  #lastLine = 0;
  #lastDone = -1;
  #barShown = false;
  #refreshes = 0;
  #closed = false;
  #bar = "";
  #phase: PhaseShown | null = null;
  readonly #io: ProgressIo;

  constructor(readonly tty: boolean, readonly quiet: boolean, io?: ProgressIo) {
    this.#io = io ?? { write: (text) => this.#stdout(text), now: () => performance.now() };
  }

  /**
   * Writes progress to stdout. When the reader has gone (a closed pipe: `| head`, a log collector
   * that stopped), progress stops and the run goes on: it is never worth losing the work for.
   */
  #stdout(text: string): void {
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
      this.#io.write("\r\x1b[2K");
      this.#barShown = false;
    }
  }

  /** Draws the live line: the bar, then the phase under way if any. */
  #draw(): void {
    const phase = this.#phase === null ? "" : `  | ${this.#phase.text}`;
    this.#io.write(`\r\x1b[2K${this.#bar}${phase}`);
    this.#barShown = true;
    this.#lastDraw = this.#io.now();
  }

  /** Prints a line (above the bar on a terminal). */
  line(text: string): void {
    if (this.quiet) return;
    this.#clearBar();
    this.#io.write(`${text}\n`);
    if (this.tty && (this.#bar !== "" || this.#phase !== null)) this.#draw();
  }

  /** Handles one trainer event. */
  event(e: TrainEvent): void {
    if (this.quiet) return;
    switch (e.kind) {
      case "refresh":
        this.#refreshes++;
        this.#endPhase();
        return;
      case "eval":
        this.#endPhase();
        this.line(evalLine(e.iteration, e.metrics, e.seconds, e.split, e.best));
        return;
      case "note":
        this.line(`note (step ${e.iteration}): ${e.message}`);
        return;
      case "early-stop":
        this.line(
          `stopping early at step ${e.iteration}: ${e.evaluations} validation evaluations ` +
            `without a lower error than at step ${e.bestIteration}`,
        );
        return;
      case "phase":
        this.#showPhase(e);
        return;
      case "step":
        this.#step(e);
    }
  }

  #showPhase(e: Extract<TrainEvent, { kind: "phase" }>): void {
    const now = this.#io.now();
    const what = e.phase === "index"
      ? `${this.#refreshes === 0 ? "building" : "refreshing"} the index @ ${e.iteration}`
      : `evaluating on the ${e.split ?? "test"} rows @ ${e.iteration}`;
    const text = `${what}: ${stageText(e.progress)}`;
    const started = this.#phase?.text.startsWith(what) ? this.#phase.started : now;
    const lastLine = this.#phase?.text.startsWith(what) ? this.#phase.lastLine : -Infinity;
    this.#phase = { text, started, lastLine };
    if (this.tty) {
      if (now - this.#lastDraw >= REDRAW_MS) this.#draw();
      return;
    }
    const running = now - started;
    if (running >= LOG_PHASE_AFTER_MS && now - lastLine >= LOG_PHASE_EVERY_MS) {
      this.#phase.lastLine = now;
      this.#io.write(`${text} (${formatDuration(running / 1000)})\n`);
    }
  }

  #endPhase(): void {
    if (this.#phase === null) return;
    this.#phase = null;
    if (this.tty && this.#barShown) this.#draw();
  }

  #step(e: Extract<TrainEvent, { kind: "step" }>): void {
    this.#phase = null;
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
    const now = this.#io.now();
    const finished = done === total;
    if (this.tty) {
      const width = 30;
      const filled = total > 0 ? Math.round((done / total) * width) : width;
      this.#bar = `[${"#".repeat(filled)}${
        "-".repeat(width - filled)
      }] ${done}/${total}  ${stats}${barExtra}`;
      if (now - this.#lastDraw < REDRAW_MS && !finished) return;
      this.#draw();
      if (finished) {
        this.#clearBar();
        this.#bar = "";
      }
    } else {
      const every = Math.max(1, Math.round(total / 20));
      const crossed = this.#lastDone >= 0
        ? Math.floor(done / every) !== Math.floor(this.#lastDone / every)
        : done % every === 0;
      this.#lastDone = done;
      if (!crossed && !finished && now - this.#lastLine < 30_000) return;
      this.#lastLine = now;
      this.#io.write(`${unit} ${done}/${total}  ${stats}\n`);
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
    const now = this.#io.now();
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
      const width = 30;
      const filled = Math.round((p.done / p.total) * width);
      this.#bar = `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${stats}  ${p.folder}`;
      if (now - this.#lastDraw < REDRAW_MS && !done) return;
      this.#draw();
      if (done) {
        this.#clearBar();
        this.#bar = "";
      }
    } else {
      const every = Math.max(1, Math.round(p.total / 10));
      if (p.done % every !== 0 && !done && now - this.#lastLine < 30_000) return;
      this.#lastLine = now;
      this.#io.write(`decoding ${p.folder}: ${stats}\n`);
    }
  }

  /** Clears the bar before the program prints something else. */
  finish(): void {
    this.#clearBar();
    this.#bar = "";
    this.#phase = null;
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
