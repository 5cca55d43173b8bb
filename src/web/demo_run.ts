/**
 * The demo's training run, shared by its page (demo_page.ts), its worker (demo_worker.ts), the
 * browser tests and the speed script: which backends a visitor can choose, the settings, and the
 * messages the worker sends the page while it trains. Types and constants only, so the page's
 * bundle holds none of the library's backends.
 */
import type { BackendOptions } from "../backend/create.ts";
import type { EvalMetrics } from "../eval/evaluate.ts";
import type { RunTimes } from "../train/times.ts";
import type { TrainOptions } from "../train/types.ts";

/** The backends of the demo's chooser. */
export const DEMO_BACKENDS = ["webgpu", "cpu", "cpu-single"] as const;

/** WebGPU, the WebAssembly CPU on every core, or on one thread. */
export type DemoBackend = typeof DEMO_BACKENDS[number];

/** The chooser's words for each backend. */
export const DEMO_BACKEND_NAMES: Record<DemoBackend, string> = {
  webgpu: "WebGPU",
  cpu: "CPU, WebAssembly on every core",
  "cpu-single": "CPU, WebAssembly on one thread",
};

/** The `createBackend` options of the backend `choice` names. */
export function demoBackendOptions(choice: DemoBackend): BackendOptions {
  switch (choice) {
    case "webgpu":
      return { kind: "webgpu" };
    case "cpu":
      return { kind: "cpu" };
    case "cpu-single":
      return { kind: "cpu", threads: 1 };
  }
}

/** Steps a demo run takes unless the visitor asks for other. */
export const DEMO_ITERATIONS = 1000;
/** Maps (test evaluations) drawn during a run, the last at its end. */
export const DEMO_MAPS = 5;

/**
 * The demo's settings: the library's defaults (the magnet loss, an MLP 784-256-128-64, M = 12
 * clusters of D = 4 digits per batch, K = 8 clusters per class) for `iterations` steps, the loss
 * logged every 10 steps.
 */
export function demoSettings(iterations: number): TrainOptions {
  return { loss: "magnet", iterations, logEvery: 10, evalEvery: 0, seed: 1 };
}

/** The steps after which a run of `iterations` steps evaluates (and the page draws a map). */
export function demoEvalAt(iterations: number): number[] {
  const at: number[] = [];
  for (let i = 1; i < DEMO_MAPS; i++) at.push(Math.round((i * iterations) / DEMO_MAPS));
  return at.filter((step) => step > 0 && step < iterations);
}

/** What the page asks its worker to do. */
export interface DemoRequest {
  backend: DemoBackend;
  iterations: number;
}

/** A test map: the test digits' embeddings and the index's cluster centres. */
export interface DemoMap {
  iteration: number;
  dim: number;
  points: Float32Array;
  centres: Float32Array | null;
  centreClasses: Int32Array | null;
}

/** What the worker tells the page. */
export type DemoMessage =
  | {
    kind: "started";
    /** The backend's own description (threads, adapter). */
    description: string;
    trainRows: number;
    testLabels: Int32Array;
    classNames: string[];
    iterations: number;
  }
  | { kind: "step"; iteration: number; loss: number; stepsPerSecond: number; seconds: number }
  | { kind: "eval"; iteration: number; metrics: EvalMetrics; map: DemoMap; seconds: number }
  | {
    kind: "done";
    iterations: number;
    history: { iteration: number; loss: number | null; seconds: number }[];
    metrics: EvalMetrics | null;
    times: RunTimes;
    /** Steps per second of the training steps alone (no refreshes or evaluations). */
    stepsPerSecond: number;
  }
  | { kind: "error"; message: string };
