/**
 * ResNet-18 (full size, from bench/helpers/resnet18.ts) fine-tuned for a few magnet steps at
 * 64x64, batch 48 (M 12 x D 4, Adam), on 480 grey 28x28 images resized inside the graph: the
 * process alone, so that its peak memory is the fine-tuning's.
 *
 *   /usr/bin/time -v deno run -A scripts/finetune_steps.ts [cpu|webgpu] [steps]
 *
 * Prints the time per step and the index refresh (embedding the 480 images); /usr/bin/time
 * reports the "Maximum resident set size".
 */
import { resnet18Onnx } from "../bench/helpers/resnet18.ts";
import { readOnnx } from "../src/nn/onnx/source.ts";
import { createBackend } from "../src/backend/create.ts";
import { Trainer } from "../src/train/trainer.ts";
import { Random } from "../src/util/random.ts";

const kind = (Deno.args[0] ?? "cpu") as "cpu" | "webgpu";
const steps = Number(Deno.args[1] ?? 6);
const source = await readOnnx(resnet18Onnx(), { label: "resnet18.onnx" });
const random = new Random(7);
const count = 480;
const train = {
  features: Float32Array.from({ length: count * 784 }, () => random.next()),
  dim: 784,
  labels: Int32Array.from({ length: count }, (_, i) => i % 10),
  classNames: Array.from({ length: 10 }, (_, c) => `c${c}`),
  imageShape: [28, 28, 1] as [number, number, number],
};
const backend = await createBackend({ kind });
const trainer = await Trainer.create({ backend, train, backbone: source }, {
  model: "backbone",
  backboneSize: [64, 64],
  evalEvery: 0,
  iterations: steps,
  refreshEvery: 100_000,
});
const result = await trainer.run();
const t = result.timings;
console.log(
  `${backend.description}: ${t.stepCount} steps of ${
    (1000 * t.steps / t.stepCount).toFixed(0)
  } ms ` +
    `(the first included), index refresh of ${count} images ${t.refresh.toFixed(1)} s`,
);
backend.dispose();
