/// <reference lib="dom" />
/**
 * The demo page's script (bundled as demo.js): fills the backend chooser with what this browser
 * offers, starts a training worker (demo_worker.js) on "Train", and draws what it reports with the
 * report's chart code: the training loss as it falls, a map of the test digits' embeddings with the
 * cluster centres at each evaluation, the test metrics, and a summary at the end. Drawing is at
 * most a few times a second, and the training runs in the worker, so the page stays responsive.
 *
 * `document.body.dataset.state` says where a run is ("idle", "running", "done", "error"); the
 * browser tests read it.
 */
import type { EvalMetrics } from "../eval/evaluate.ts";
import { embeddingFigure } from "../report/map.ts";
import { lossFigure, metricsFigure } from "../report/figures.ts";
import { summaryTable } from "../report/tables.ts";
import { esc, formatSeconds } from "../report/format.ts";
import type { HistoryPoint } from "../train/types.ts";
import {
  DEMO_BACKEND_NAMES,
  DEMO_BACKENDS,
  type DemoBackend,
  type DemoMap,
  type DemoMessage,
  type DemoRequest,
} from "./demo_run.ts";

/** Redraws at most this often. */
const DRAW_MS = 250;
/** Test digits drawn on the map (all of them). */
const MAP_POINTS = 1000;

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`the demo page has no #${id}`);
  return found as T;
}

/** Why a backend cannot run in this page, or null when it can. */
function unavailable(choice: DemoBackend): string | null {
  if (choice === "webgpu") {
    return "gpu" in navigator ? null : "this browser has no WebGPU";
  }
  if (choice === "cpu" && !crossOriginIsolated) {
    return "threads need a cross-origin isolated page";
  }
  return null;
}

/** One run as the page sees it. */
interface Run {
  worker: Worker;
  iterations: number;
  description: string;
  testLabels: Int32Array | null;
  classNames: string[];
  losses: HistoryPoint[];
  evaluations: HistoryPoint[];
  map: DemoMap | null;
  stepsPerSecond: number;
  iteration: number;
}

const state: { run: Run | null; drawQueued: boolean; lastDraw: number } = {
  run: null,
  drawQueued: false,
  lastDraw: 0,
};

function setState(value: "idle" | "running" | "done" | "error"): void {
  document.body.dataset.state = value;
  element<HTMLButtonElement>("start").disabled = value === "running";
  element<HTMLButtonElement>("stop").disabled = value !== "running";
  element<HTMLSelectElement>("backend").disabled = value === "running";
}

function status(text: string, error = false): void {
  const line = element<HTMLParagraphElement>("status");
  line.textContent = text;
  line.className = error ? "error" : "";
}

function draw(): void {
  state.drawQueued = false;
  state.lastDraw = performance.now();
  const run = state.run;
  if (run === null) return;
  element("loss").innerHTML = unnumbered(lossFigure(run.losses, run.iterations));
  if (run.map !== null && run.testLabels !== null) {
    const m = run.map;
    element("map").innerHTML = embeddingFigure(
      {
        points: m.points,
        dim: m.dim,
        labels: run.testLabels,
        classNames: run.classNames,
        centres: m.centres ?? undefined,
        centreClasses: m.centreClasses ?? undefined,
      },
      MAP_POINTS,
      "pca",
      1,
    ).replace(
      "3. Test embeddings",
      `Test embeddings after ${m.iteration.toLocaleString("en")} steps`,
    );
  }
  if (run.evaluations.length > 0) {
    element("metrics").innerHTML = unnumbered(metricsFigure(run.evaluations, run.iterations, 5));
  }
}

/** A report figure without its number (the page shows them in its own order). */
function unnumbered(figure: string): string {
  return figure.replace(/<h2>\d+\. /, "<h2>");
}

/** Draws soon, at most every {@link DRAW_MS}. */
function schedule(): void {
  if (state.drawQueued) return;
  state.drawQueued = true;
  const wait = Math.max(0, DRAW_MS - (performance.now() - state.lastDraw));
  setTimeout(() => requestAnimationFrame(draw), wait);
}

function progress(run: Run): string {
  const rate = run.stepsPerSecond > 0 ? `, ${run.stepsPerSecond.toFixed(0)} steps/s` : "";
  return `Training on ${run.description}: step ${run.iteration.toLocaleString("en")} of ` +
    `${run.iterations.toLocaleString("en")}${rate}`;
}

function receive(run: Run, message: DemoMessage): void {
  if (state.run !== run) return;
  switch (message.kind) {
    case "started":
      run.description = message.description;
      run.testLabels = message.testLabels;
      run.classNames = message.classNames;
      status(progress(run));
      break;
    case "step":
      run.iteration = message.iteration;
      run.stepsPerSecond = message.stepsPerSecond;
      run.losses.push({
        iteration: message.iteration,
        loss: message.loss,
        seconds: message.seconds,
      });
      status(progress(run));
      break;
    case "eval":
      run.map = message.map;
      run.evaluations.push({
        iteration: message.iteration,
        loss: null,
        seconds: message.seconds,
        test: message.metrics,
      });
      break;
    case "done": {
      run.losses = message.history;
      run.worker.terminate();
      status(
        `Done: ${message.iterations.toLocaleString("en")} steps on ${run.description} in ` +
          `${formatSeconds(message.times.seconds)} (${message.stepsPerSecond.toFixed(0)} ` +
          `training steps/s). ${finalLine(message.metrics)}`,
      );
      element("summary").innerHTML = `<div class="tables"><div><h2>Summary</h2>${
        summaryTable({
          metrics: message.metrics,
          iterations: message.iterations,
          time: message.times,
          knnK: 5,
        })
      }</div></div>`;
      draw();
      setState("done");
      return;
    }
    case "error":
      run.worker.terminate();
      status(`The run failed: ${message.message}`, true);
      setState("error");
      return;
  }
  schedule();
}

function finalLine(metrics: EvalMetrics | null): string {
  if (metrics === null || metrics.magnetError === null) return "";
  return `Test error of the magnet rule: ${(100 * metrics.magnetError).toFixed(2)} %.`;
}

function start(): void {
  const choice = element<HTMLSelectElement>("backend").value as DemoBackend;
  const steps = Math.round(Number(element<HTMLInputElement>("steps").value));
  if (!(steps >= 10 && steps <= 100_000)) {
    status("Steps must be a number from 10 to 100,000.", true);
    return;
  }
  stop();
  const worker = new Worker(new URL("demo_worker.js", import.meta.url), { type: "module" });
  const run: Run = {
    worker,
    iterations: steps,
    description: DEMO_BACKEND_NAMES[choice],
    testLabels: null,
    classNames: [],
    losses: [],
    evaluations: [],
    map: null,
    stepsPerSecond: 0,
    iteration: 0,
  };
  state.run = run;
  for (const id of ["loss", "map", "metrics", "summary"]) element(id).innerHTML = "";
  worker.onmessage = (event: MessageEvent<DemoMessage>) => receive(run, event.data);
  worker.onerror = (event) => {
    event.preventDefault();
    receive(run, { kind: "error", message: event.message || "the training worker failed" });
  };
  const request: DemoRequest = { backend: choice, iterations: steps };
  worker.postMessage(request);
  status(`Starting ${DEMO_BACKEND_NAMES[choice]}…`);
  setState("running");
}

function stop(): void {
  const run = state.run;
  if (run === null || document.body.dataset.state !== "running") return;
  run.worker.terminate();
  status(`Stopped after ${run.iteration.toLocaleString("en")} steps.`);
  setState("idle");
}

function setUp(): void {
  const select = element<HTMLSelectElement>("backend");
  const notes: string[] = [];
  for (const choice of DEMO_BACKENDS) {
    const option = document.createElement("option");
    option.value = choice;
    const why = unavailable(choice);
    option.textContent = DEMO_BACKEND_NAMES[choice] +
      (choice === "cpu" ? ` (${navigator.hardwareConcurrency} threads)` : "");
    option.disabled = why !== null;
    if (why !== null) notes.push(`${DEMO_BACKEND_NAMES[choice]}: ${why}.`);
    select.append(option);
  }
  select.value = DEMO_BACKENDS.find((choice) => unavailable(choice) === null) ?? "cpu-single";
  element("note").innerHTML = esc(notes.join(" "));
  element<HTMLButtonElement>("start").onclick = start;
  element<HTMLButtonElement>("stop").onclick = stop;
  status('Choose a backend and press "Train".');
  setState("idle");
}

setUp();
