/**
 * The work of a Fashion-MNIST CNN run, piece by piece, on the CPU (WebAssembly) and on WebGPU: one
 * magnet training step of the default CNN (3x3 conv 32, batch norm, ReLU, 2x2 max pool; conv 64,
 * the same; dense 256, 128; embedding 64; M = 12, D = 4, Adam), embedding rows in inference mode
 * (what an index refresh and an evaluation spend most of their time on), and the evaluation's
 * nearest-neighbour search of 10,000 queries among 60,000 references with k = 6,000 (the largest
 * class, which R-precision and MAP@R need). Images are random pixels of Fashion-MNIST's shape:
 * speed does not depend on them, and the benchmark needs no data set installed.
 *
 *   deno bench -A bench/cnn_bench.ts
 */
import { createBackend } from "../src/backend/create.ts";
import type { Dataset } from "../src/data/dataset.ts";
import { embed } from "../src/nn/embed.ts";
import { nearestNeighbours } from "../src/eval/neighbours.ts";
import { Trainer } from "../src/train/trainer.ts";
import { Random } from "../src/util/random.ts";
import { timed } from "./helpers/throughput.ts";

function images(count: number, seed: number): Dataset {
  const random = new Random(seed);
  return {
    features: Float32Array.from({ length: count * 784 }, () => random.next()),
    dim: 784,
    labels: Int32Array.from({ length: count }, (_, i) => i % 10),
    classNames: Array.from({ length: 10 }, (_, c) => `c${c}`),
    imageShape: [28, 28, 1],
  };
}

const train = images(6000, 1);
const STEPS = { cpu: 100, webgpu: 20 } as const;
const EMBED_ROWS = { cpu: 6000, webgpu: 1000 } as const;

for (const kind of ["cpu", "webgpu"] as const) {
  const backend = await createBackend({ kind });
  const group = `Fashion-MNIST CNN (${kind})`;
  const settings = { model: "cnn" as const, evalEvery: 0, refreshEvery: 100_000 };

  // Ungrouped: deno bench compares the benchmarks of a group, and these do unlike work.
  Deno.bench(`CNN: ${STEPS[kind]} training steps, after setup (${kind})`, {
    n: 3,
    warmup: 1,
  }, async () => {
    // One step and the initial refresh outside the timed part; then steps only.
    const trainer = await Trainer.create({ backend, train }, { ...settings, iterations: 1 });
    await trainer.run();
    const more = await Trainer.resume({ backend, train }, {
      ...(await trainer.state()),
      config: { ...trainer.config, iterations: 1 + STEPS[kind] },
    });
    await timed(group, "training step (48 images)", STEPS[kind], "ms/step", () => more.run());
    await trainer.dispose();
    await more.dispose();
  });

  Deno.bench(
    `CNN: embedding ${EMBED_ROWS[kind]} images (${kind})`,
    { n: 3, warmup: 1 },
    async () => {
      const trainer = await Trainer.create({ backend, train }, { ...settings, iterations: 1 });
      const rows = train.features.subarray(0, EMBED_ROWS[kind] * 784);
      await timed(
        group,
        "embedding, per 1,000 images",
        EMBED_ROWS[kind] / 1000,
        "ms/1000 rows",
        () => embed(backend, trainer.model, rows),
      );
      await trainer.dispose();
    },
  );
}

const cpu = await createBackend({ kind: "cpu" });
const random = new Random(3);
const references = Float32Array.from({ length: 60_000 * 64 }, () => random.normal());
const queries = Float32Array.from({ length: 10_000 * 64 }, () => random.normal());
Deno.bench("nearest 6,000 of 60,000 for 10,000 queries (cpu)", {
  group: "evaluation search (cpu)",
  n: 3,
  warmup: 1,
}, async () => {
  await timed(
    "evaluation search (cpu)",
    "10,000 x 60,000, k = 6,000",
    1,
    "ms/search",
    () => nearestNeighbours(cpu, queries, references, 64, 6000),
  );
});
