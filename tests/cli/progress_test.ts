/**
 * What a person watching a run sees: on a terminal, the phase under way (rows embedded, k-means
 * iterations, queries searched) redrawn as it goes, so no phase is silent; in a log, a line for a
 * phase once it has run 2 seconds and every 10 seconds after; evaluations, notes and early stops
 * as lines.
 */
import assert from "node:assert/strict";
import { ProgressPrinter } from "../../src/cli/progress.ts";
import type { TrainEvent } from "../../src/train/types.ts";
import type { WorkProgress } from "../../src/util/work.ts";
import type { Evaluation } from "../../src/eval/evaluate.ts";

/** A printer writing into a string, on a clock the test moves. */
function printer(tty: boolean) {
  const clock: { now: number; text: string } = { now: 0, text: "" };
  const p = new ProgressPrinter(tty, false, {
    write: (text) => (clock.text += text),
    now: () => clock.now,
  });
  return { p, clock };
}

const phase = (
  phase: "index" | "evaluation",
  progress: WorkProgress,
  iteration = 0,
): TrainEvent => ({
  kind: "phase",
  phase,
  iteration,
  split: phase === "evaluation" ? "validation" : undefined,
  progress,
});

const step = (iteration: number): TrainEvent => ({
  kind: "step",
  iteration,
  iterations: 100,
  loss: 0.5,
  stepsPerSecond: 10,
  etaSeconds: 12,
});

Deno.test("progress on a terminal shows every phase as it goes", () => {
  const { p, clock } = printer(true);
  p.event(phase("index", { stage: "embedding", done: 2048, total: 60000 }));
  assert.match(clock.text, /building the index @ 0: embedding 2,048\/60,000 rows$/);
  clock.now += 50; // redrawn at most every 100 ms
  p.event(phase("index", { stage: "embedding", done: 4096, total: 60000 }));
  assert.doesNotMatch(clock.text, /4,096/);
  clock.now += 100;
  p.event(phase("index", { stage: "clustering", done: 3, total: 25 }));
  assert.match(clock.text, /building the index @ 0: k-means iteration 3 \(at most 25\)$/);
  p.event({ kind: "refresh", iteration: 0, seconds: 2, clusters: 80 });
  clock.now += 200;
  p.event(step(50));
  assert.match(
    clock.text,
    /\[#+-+\] 50\/100 {2}loss 0\.5000 {2}10\.0 steps\/s {2}ETA 0:12 {2}refreshes 1$/,
  );
  clock.now += 200;
  p.event(phase("evaluation", { stage: "searching", done: 300, total: 10000 }, 50));
  // The bar stays, the phase beside it.
  assert.match(
    clock.text,
    /50\/100 .* refreshes 1 {2}\| evaluating on the validation rows @ 50: nearest neighbours of 300\/10,000 queries$/,
  );
  const metrics = {
    magnetError: 0.05,
    knnError: 0.04,
    precisionAt1: 0.96,
    rPrecision: 0.8,
    mapAtR: 0.7,
    nmi: 0.8512,
  };
  p.event({
    kind: "eval",
    iteration: 50,
    seconds: 3.2,
    split: "validation",
    best: true,
    metrics,
    // The printer reads the metrics alone, not the embeddings behind them.
    evaluation: { metrics } as Evaluation,
  });
  assert.match(
    clock.text,
    /eval @ 50 \(validation\): magnet error 5\.00 %, .* NMI 0\.851 \(3\.2 s\) best so far\n/,
  );
});

Deno.test("progress in a log gives a long phase a line after 2 s, then every 10 s", () => {
  const { p, clock } = printer(false);
  const searching = (done: number) =>
    phase("evaluation", { stage: "searching", done, total: 10000 }, 3000);
  p.event(searching(100));
  clock.now += 1500;
  p.event(searching(1000));
  assert.equal(clock.text.length, 0, "a short phase prints nothing");
  clock.now += 600;
  p.event(searching(1500));
  assert.ok(
    clock.text ===
      "evaluating on the validation rows @ 3000: nearest neighbours of 1,500/10,000 queries (0:02)\n",
    clock.text,
  );
  clock.now += 5000;
  p.event(searching(5000));
  clock.now += 5000;
  p.event(searching(8000));
  assert.equal(clock.text.split("\n").length - 1, 2);
  assert.match(clock.text, /8,000\/10,000 queries \(0:12\)\n$/);
  p.event({ kind: "note", iteration: 300, message: "the loss has been exactly 0" });
  p.event({ kind: "early-stop", iteration: 900, evaluations: 3, bestIteration: 600 });
  assert.match(clock.text, /note \(step 300\): the loss has been exactly 0\n/);
  assert.match(
    clock.text,
    /stopping early at step 900: 3 validation evaluations without a lower error than at step 600\n$/,
  );
});
