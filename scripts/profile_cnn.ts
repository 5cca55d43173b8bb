/**
 * Where the CPU device spends the Fashion-MNIST CNN's time: the kernels of the default CNN's
 * training step and of its embedding in inference mode, timed one by one (WasmDevice.profile) and
 * listed by total time, with their share of the kernels' time and the wall time around them.
 * Random images of Fashion-MNIST's shape (speed does not depend on them).
 *
 *   deno run -A scripts/profile_cnn.ts [--steps 100] [--images 3000] [--threads N]
 */
import { parseArgs } from "node:util";
import { Executor } from "../src/backend/executor.ts";
import { type KernelTime, WasmDevice } from "../src/backend/wasm/device.ts";
import type { Dataset } from "../src/data/dataset.ts";
import { embed } from "../src/nn/embed.ts";
import { Trainer } from "../src/train/trainer.ts";
import { Random } from "../src/util/random.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    steps: { type: "string", default: "100" },
    images: { type: "string", default: "3000" },
    threads: { type: "string" },
  },
});
const steps = Number(values.steps), count = Number(values.images);
const threads = values.threads === undefined ? undefined : Number(values.threads);

function images(n: number, seed: number): Dataset {
  const random = new Random(seed);
  return {
    features: Float32Array.from({ length: n * 784 }, () => random.next()),
    dim: 784,
    labels: Int32Array.from({ length: n }, (_, i) => i % 10),
    classNames: Array.from({ length: 10 }, (_, c) => `c${c}`),
    imageShape: [28, 28, 1],
  };
}

function report(title: string, profile: Map<string, KernelTime>, wallMs: number, per: number) {
  const total = [...profile.values()].reduce((s, e) => s + e.ms, 0);
  console.log(
    `\n## ${title}: wall ${(wallMs / per).toFixed(2)} ms, kernels ${(total / per).toFixed(2)} ms` +
      ` (per ${per === steps ? "step" : "1,000 images"})`,
  );
  const rows = [...profile.entries()].sort((a, b) => b[1].ms - a[1].ms);
  for (const [label, e] of rows) {
    const share = (100 * e.ms / total).toFixed(1).padStart(5);
    console.log(
      `${(e.ms / per).toFixed(3).padStart(9)} ms ${share} %  ${
        String(e.calls).padStart(6)
      } x  ${label}`,
    );
  }
}

const device = await WasmDevice.create({ threads });
const backend = new Executor(device);
console.log(`device: ${device.description}`);
const train = images(6000, 1);
const settings = { model: "cnn" as const, evalEvery: 0, refreshEvery: 100_000 };

const first = await Trainer.create({ backend, train }, { ...settings, iterations: 1 });
await first.run();
const more = await Trainer.resume({ backend, train }, {
  ...(await first.state()),
  config: { ...first.config, iterations: 1 + steps },
});
device.profile = new Map();
let start = performance.now();
await more.run();
report("CNN training step", device.profile, performance.now() - start, steps);

const rows = train.features.subarray(0, count * 784);
await embed(backend, first.model, rows.subarray(0, 784 * 300));
device.profile = new Map();
start = performance.now();
await embed(backend, first.model, rows);
report("CNN embedding", device.profile, performance.now() - start, count / 1000);
device.profile = null;
await first.dispose();
await more.dispose();
backend.dispose();
