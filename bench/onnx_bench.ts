/**
 * ResNet-18 imported from ONNX (full size, 11.7 M parameters, written by bench/helpers/resnet18.ts):
 * inference of a batch of 32 images at 224x224 and at 64x64 on our CPU device, beside
 * onnxruntime-web's WebAssembly backend (npm, in this process, on as many threads) and
 * onnxruntime-node (native) on the same file and batch; and one fine-tuning step (magnet, batch 48
 * = M 12 x D 4, Adam, batch normalisation on batch statistics, the 64x64 images resized from the
 * data's 28x28 grey inside the graph) on the CPU and on WebGPU.
 *
 *   deno bench -A --config bench/deno.json bench/onnx_bench.ts
 */
import * as ortWeb from "onnxruntime-web";
import * as ortNode from "onnxruntime-node";
import { createBackend } from "../src/backend/create.ts";
import type { Dataset } from "../src/data/dataset.ts";
import { Graph } from "../src/graph/tensor.ts";
import { OnnxNetwork } from "../src/nn/onnx/network.ts";
import { readOnnx } from "../src/nn/onnx/source.ts";
import { Trainer } from "../src/train/trainer.ts";
import { Random } from "../src/util/random.ts";
import { record, timed } from "./helpers/throughput.ts";
import { resnet18Onnx } from "./helpers/resnet18.ts";

const bytes = resnet18Onnx();
const source = await readOnnx(bytes, { label: "resnet18.onnx" });
const BATCH = 32;
const cpu = await createBackend({ kind: "cpu" });
const threads = navigator.hardwareConcurrency;

for (const size of [224, 64]) {
  const group = `ResNet-18 inference, batch ${BATCH} at ${size}x${size} (images/s)`;
  const random = new Random(size);
  const nchw = Float32Array.from({ length: BATCH * 3 * size * size }, () => random.next());
  const nhwc = new Float32Array(nchw.length);
  for (let n = 0; n < BATCH; n++) {
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < size * size; p++) {
        nhwc[(n * size * size + p) * 3 + c] = nchw[(n * 3 + c) * size * size + p];
      }
    }
  }
  const g = new Graph();
  const { output } = new OnnxNetwork(source, { output: "logits" })
    .build(g.input("x", [BATCH, size, size, 3]), false);
  const ours = await cpu.compile({ outputs: [output] });
  // onnxruntime-web reads its thread count once, when its WebAssembly starts: all cores, as ours.
  ortWeb.env.wasm.numThreads = threads;
  // That start replaces globalThis.Worker (with Node's), which our CPU device needs: put back.
  const worker = globalThis.Worker;
  const web = await ortWeb.InferenceSession.create(bytes, { executionProviders: ["wasm"] })
    .finally(() => (globalThis.Worker = worker));
  const native = await ortNode.InferenceSession.create(bytes);
  // Each iteration runs every contender once, in turn, so that load on the machine falls on all.
  Deno.bench(`ResNet-18 at ${size}`, { group, n: 3, warmup: 1 }, async () => {
    const start = performance.now();
    await ours.run({ x: nhwc });
    record(
      group,
      `magnet cpu (${threads} threads)`,
      BATCH,
      "images/s",
      (performance.now() - start) / 1000,
    );
    const feed = { images: new ortWeb.Tensor("float32", nchw, [BATCH, 3, size, size]) };
    await timed(
      group,
      `onnxruntime-web wasm (${threads} threads)`,
      BATCH,
      "images/s",
      () => web.run(feed),
    );
    const input = { images: new ortNode.Tensor("float32", nchw, [BATCH, 3, size, size]) };
    await timed(group, "onnxruntime-node (native)", BATCH, "images/s", () => native.run(input));
  });
}

/** Grey 28x28 images in [0, 1], ten classes: the fine-tuning data (the graph resizes to 64x64). */
function images(count: number): Dataset {
  const random = new Random(7);
  return {
    features: Float32Array.from({ length: count * 784 }, () => random.next()),
    dim: 784,
    labels: Int32Array.from({ length: count }, (_, i) => i % 10),
    classNames: Array.from({ length: 10 }, (_, c) => `c${c}`),
    imageShape: [28, 28, 1],
  };
}

const train = images(480);
const STEPS = { cpu: 10, webgpu: 5 } as const;
for (const kind of ["cpu", "webgpu"] as const) {
  const backend = kind === "cpu" ? cpu : await createBackend({ kind });
  const group = `ResNet-18 fine-tuning at 64x64 (${kind})`;
  const settings = {
    model: "backbone" as const,
    backboneSize: [64, 64] as [number, number],
    evalEvery: 0,
    refreshEvery: 100_000,
  };
  Deno.bench(`ResNet-18 fine-tuning step (${kind})`, { group, n: 3, warmup: 1 }, async () => {
    const setup = { backend, train, backbone: source };
    const trainer = await Trainer.create(setup, { ...settings, iterations: 1 });
    await trainer.run(); // the first step and the initial index refresh, untimed
    const more = await Trainer.resume(setup, {
      ...(await trainer.state()),
      config: { ...trainer.config, iterations: 1 + STEPS[kind] },
    });
    await timed(group, "training step (48 images)", STEPS[kind], "ms/step", () => more.run());
    await trainer.dispose();
    await more.dispose();
  });
}
