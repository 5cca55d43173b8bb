/**
 * The MNIST proof runs: the default configuration (MLP 784-256-128-64, M = 12, D = 4, K = 8,
 * alpha = 1, Adam 1e-3, 6,000 steps, index refresh each epoch) for several seeds, on one backend and
 * loss, evaluating every --eval-every steps. Writes one JSON file per run and prints a markdown row
 * per seed: final errors, the first evaluated step at which the test error reached 6 % and 5 %, wall
 * time per 1,000 steps and per index refresh.
 *
 *   deno run -A scripts/mnist_experiment.ts --backend cpu --loss magnet --seeds 1,2,3 --out results
 *
 * The test error of a magnet run is the magnet rule's; of a baseline run, k-NN's (k = 5).
 */
import { parseArgs } from "node:util";
import { createBackend } from "../src/backend/create.ts";
import { loadMnist } from "../src/data/mnist.ts";
import { subset } from "../src/data/dataset.ts";
import { stratifiedSplit } from "../src/data/split.ts";
import { train } from "../src/train/trainer.ts";
import type { LossKind } from "../src/train/config.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    backend: { type: "string", default: "cpu" },
    loss: { type: "string", default: "magnet" },
    seeds: { type: "string", default: "1,2,3" },
    iterations: { type: "string", default: "6000" },
    "eval-every": { type: "string", default: "250" },
    out: { type: "string", default: "results" },
  },
});
const backendKind = values.backend as "cpu" | "webgpu";
const loss = values.loss as LossKind;
const iterations = Number(values.iterations);
const evalEvery = Number(values["eval-every"]);
await Deno.mkdir(values.out!, { recursive: true });

const mnist = await loadMnist();
const split = stratifiedSplit(mnist.labels, 0.2, 0);
const trainSet = subset(mnist, split.train), testSet = subset(mnist, split.test);

console.log(
  "| backend | loss | seed | final error | k-NN error | steps to 6 % | steps to 5 % | s / 1000 steps | s / refresh |",
);
console.log("|---|---|---|---|---|---|---|---|---|");
for (const seed of values.seeds!.split(",").map(Number)) {
  const backend = await createBackend({ kind: backendKind });
  const result = await train({ backend, train: trainSet, test: testSet }, {
    loss,
    iterations,
    evalEvery,
    seed,
  });
  backend.dispose();
  const errorOf = (m: { magnetError: number | null; knnError: number }) =>
    loss === "magnet" ? m.magnetError! : m.knnError;
  const reach = (threshold: number) =>
    result.history.find((p) => p.test !== undefined && errorOf(p.test) <= threshold)?.iteration ??
      null;
  const t = result.timings;
  const row = {
    backend: backendKind,
    loss,
    seed,
    finalError: errorOf(result.test!),
    knnError: result.test!.knnError,
    reach6: reach(0.06),
    reach5: reach(0.05),
    secondsPer1000Steps: (1000 * t.steps) / t.stepCount,
    secondsPerRefresh: t.refreshCount > 0 ? t.refresh / t.refreshCount : null,
    test: result.test,
    timings: t,
    history: result.history,
  };
  await Deno.writeTextFile(
    `${values.out}/${backendKind}-${loss}-seed${seed}.json`,
    JSON.stringify(row, null, 2),
  );
  const pct = (v: number) => `${(v * 100).toFixed(2)} %`;
  console.log(
    `| ${backendKind} | ${loss} | ${seed} | ${pct(row.finalError)} | ${pct(row.knnError)} | ${
      row.reach6 ?? "-"
    } | ${row.reach5 ?? "-"} | ${row.secondsPer1000Steps.toFixed(1)} | ${
      row.secondsPerRefresh?.toFixed(2) ?? "-"
    } |`,
  );
}
Deno.exit(0);
