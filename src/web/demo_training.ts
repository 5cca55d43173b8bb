/**
 * The demo's training run itself: the demo's settings on its digits, on a backend it is given,
 * reporting {@link DemoMessage}s (progress at most every 100 ms, each evaluation's map, the end).
 * The page's worker runs it in the browser; the browser tests and the speed script run the same
 * function in Deno, to hold the two to each other.
 */
import type { Backend } from "../backend/backend.ts";
import { Trainer } from "../train/trainer.ts";
import { runTimes } from "../train/times.ts";
import type { TrainEvent } from "../train/types.ts";
import type { Digits } from "./digits.ts";
import { demoEvalAt, type DemoMessage, demoSettings } from "./demo_run.ts";

/** Sends progress at most this often. */
const PROGRESS_MS = 100;

/** Receives each message, with the buffers it may transfer. */
export type DemoPost = (message: DemoMessage, transfer?: Transferable[]) => void;

/** Trains the demo's run of `iterations` steps on `digits` with `backend`, posting its progress. */
export async function trainDemo(
  backend: Backend,
  { train, test }: Digits,
  iterations: number,
  post: DemoPost,
): Promise<void> {
  const started = performance.now();
  post({
    kind: "started",
    description: backend.description,
    trainRows: train.labels.length,
    testLabels: test.labels.slice(),
    classNames: test.classNames,
    iterations,
  });
  let lastPost = 0;
  const seconds = () => (performance.now() - started) / 1000;
  const onProgress = (event: TrainEvent) => {
    if (event.kind === "step") {
      const now = performance.now();
      if (now - lastPost < PROGRESS_MS && event.iteration < event.iterations) return;
      lastPost = now;
      post({
        kind: "step",
        iteration: event.iteration,
        loss: event.loss,
        stepsPerSecond: event.stepsPerSecond,
        seconds: seconds(),
      });
    } else if (event.kind === "eval") {
      const { evaluation } = event;
      const points = evaluation.testEmbeddings.slice();
      const centres = evaluation.index?.centres.slice() ?? null;
      const centreClasses = evaluation.index?.clusterClass.slice() ?? null;
      const transfer: Transferable[] = [points.buffer];
      if (centres) transfer.push(centres.buffer);
      if (centreClasses) transfer.push(centreClasses.buffer);
      post({
        kind: "eval",
        iteration: event.iteration,
        metrics: event.metrics,
        seconds: seconds(),
        map: {
          iteration: event.iteration,
          dim: points.length / test.labels.length,
          points,
          centres,
          centreClasses,
        },
      }, transfer);
    }
  };
  const trainer = await Trainer.create(
    { backend, train, test, onProgress, evalAt: demoEvalAt(iterations) },
    demoSettings(iterations),
  );
  const result = await trainer.run();
  post({
    kind: "done",
    iterations: result.iterations,
    history: result.history.map(({ iteration, loss, seconds }) => ({ iteration, loss, seconds })),
    metrics: result.test,
    times: runTimes(result),
    stepsPerSecond: result.timings.stepCount / Math.max(result.timings.steps, 1e-9),
  });
  await trainer.dispose();
}
