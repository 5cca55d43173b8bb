/**
 * The work of the default `deno task train` on the CPU backend, piece by piece: one magnet training
 * step (MLP 784-256-128-64, M = 12, D = 4, Adam; sampling, feeding, the compiled step and reading
 * its losses back) and one index refresh (embedding the 8,000 training digits and k-means with
 * K = 8 per class), as the trainer does them. Prints ms per step and seconds per refresh.
 *
 *   deno bench -A bench/training_bench.ts
 */
import { createBackend } from "../src/backend/create.ts";
import { loadMnist } from "../src/data/mnist.ts";
import { subset } from "../src/data/dataset.ts";
import { stratifiedSplit } from "../src/data/split.ts";
import { embed } from "../src/nn/embed.ts";
import { buildClusterIndex } from "../src/index/cluster_index.ts";
import { Trainer } from "../src/train/trainer.ts";
import { timed } from "./helpers/throughput.ts";

const backend = await createBackend({ kind: "cpu" });
const mnist = await loadMnist();
const split = stratifiedSplit(mnist.labels, 0.2, 0);
const train = subset(mnist, split.train);

const STEPS = 500;
const group = "default training on MNIST (CPU)";

// Ungrouped: deno bench compares the benchmarks of a group, and these do unlike work.
Deno.bench(`magnet: ${STEPS} training steps, after setup`, { n: 5, warmup: 1 }, async () => {
  // Steps only: no evaluation, and one refresh at the start, outside the timed part.
  const trainer = await Trainer.create({ backend, train }, {
    iterations: 1,
    evalEvery: 0,
    refreshEvery: 100_000,
  });
  await trainer.run();
  const more = await Trainer.resume({ backend, train }, {
    ...(await trainer.state()),
    config: { ...trainer.config, iterations: 1 + STEPS },
  });
  await timed(group, "training step", STEPS, "ms/step", () => more.run());
  await trainer.dispose();
  await more.dispose();
});

Deno.bench("index refresh of 8,000 rows, after setup", { n: 5, warmup: 1 }, async () => {
  const trainer = await Trainer.create({ backend, train }, { iterations: 1, evalEvery: 0 });
  await timed(group, "index refresh (8,000 rows)", 1, "ms/refresh", async () => {
    const embeddings = await embed(backend, trainer.model, train.features);
    await buildClusterIndex(backend, embeddings, trainer.model.outputDim, train.labels, {
      clustersPerClass: 8,
      seed: 1,
    });
  });
  await trainer.dispose();
});
