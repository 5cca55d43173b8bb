/**
 * How good the progress bar's ETA is: trains a default run (the bundled MNIST, or Fashion-MNIST
 * with `--model cnn`), reads the ETA the trainer reports when half the steps are done, and prints
 * it beside the time the rest of the run really took (the final evaluation included).
 *
 *   deno run -A scripts/eta_check.ts                                   # MNIST, the MLP
 *   deno run -A scripts/eta_check.ts --dataset fashion-mnist --model cnn
 *
 * Everything else is as `deno task train` has it by default (backend "auto").
 */
import { parseArgs } from "node:util";
import { createBackend } from "../src/backend/create.ts";
import { FASHION_MNIST_DIR } from "../src/data/fashion_mnist.ts";
import { type DataSource, loadData } from "../src/data/source.ts";
import { Trainer } from "../src/train/trainer.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    dataset: { type: "string", default: "mnist" },
    model: { type: "string", default: "mlp" },
    "data-dir": { type: "string", default: FASHION_MNIST_DIR },
  },
});
const source: DataSource = values.dataset === "fashion-mnist"
  ? { kind: "fashion-mnist", dir: values["data-dir"]!, valFraction: 0 }
  : { kind: "mnist", testFraction: 0.2, splitSeed: 0, valFraction: 0 };
const data = await loadData(source);
const backend = await createBackend();
let half: { at: number; eta: number } | null = null;
let iterations = 0;
const trainer = await Trainer.create({
  backend,
  train: data.train,
  test: data.test,
  onProgress: (e) => {
    if (e.kind === "step" && half === null && e.iteration * 2 >= e.iterations) {
      iterations = e.iterations;
      half = { at: performance.now(), eta: e.etaSeconds };
    }
  },
}, { model: values.model as "mlp" | "cnn" });
const start = performance.now();
const result = await trainer.run();
const end = performance.now();
const truth = (end - half!.at) / 1000;
console.log(
  `${data.name}, ${values.model}, ${backend.description}: ${iterations} steps in ${
    ((end - start) / 1000).toFixed(1)
  } s (${result.timings.refreshCount} index builds, ${result.timings.evalCount} evaluations)`,
);
console.log(
  `at step ${iterations / 2}: ETA ${half!.eta.toFixed(1)} s, the rest took ${truth.toFixed(1)} s: ${
    (100 * (half!.eta / truth - 1)).toFixed(0)
  } %`,
);
backend.dispose();
