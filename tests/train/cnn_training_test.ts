/**
 * Training a CNN end to end on small images: it learns on every backend, its batch-normalisation
 * statistics move and travel in checkpoints (a resumed run ends exactly as one run on the CPU), and
 * a saved CNN embeds and classifies as the trained one does.
 */
import assert from "node:assert/strict";
import { Trainer } from "../../src/train/trainer.ts";
import type { TrainerState, TrainSetup } from "../../src/train/types.ts";
import { stateFromJson, stateToJson } from "../../src/train/checkpoint.ts";
import { loadModel, saveModel } from "../../src/train/model_file.ts";
import { classify } from "../../src/train/saved_model.ts";
import { embed } from "../../src/nn/embed.ts";
import type { Dataset } from "../../src/data/dataset.ts";
import { syntheticImages } from "../helpers/idx.ts";
import { gpuTestOptions, openBackends } from "../helpers/backends.ts";

function imageSet(count: number, seed: number): Dataset {
  const { pixels, labels } = syntheticImages(count, 8, 4, seed);
  return {
    features: Float32Array.from(pixels, (p) => p / 255),
    dim: 64,
    labels: Int32Array.from(labels),
    classNames: ["a", "b", "c", "d"],
    imageShape: [8, 8, 1],
  };
}

const TRAIN = imageSet(120, 1);
const TEST = imageSet(40, 2);
const SETTINGS = {
  model: "cnn" as const,
  conv: [4, 6],
  hidden: [8],
  embeddingDim: 4,
  iterations: 60,
  m: 4,
  d: 4,
  k: 2,
  refreshEvery: 20,
  evalEvery: 0,
  logEvery: 10,
  seed: 2,
};

Deno.test("CNN training", gpuTestOptions, async (t) => {
  const backends = await openBackends();
  try {
    for (const backend of backends) {
      await t.step(`${backend.kind}: learns, and its running statistics move`, async () => {
        const trainer = await Trainer.create({ backend, train: TRAIN, test: TEST }, SETTINGS);
        const result = await trainer.run();
        assert.equal(result.status, "completed");
        const losses = result.history.filter((p) => p.loss !== null).map((p) => p.loss!);
        assert.ok(losses.at(-1)! < losses[0], `loss ${losses[0]} -> ${losses.at(-1)}`);
        assert.ok(result.test!.magnetError! <= 0.25, `magnet error ${result.test!.magnetError}`);
        const state = await trainer.state();
        const mean = state.variables["cnn.conv0.runningMean"];
        const variance = state.variables["cnn.conv1.runningVariance"];
        assert.ok(mean.some((m) => m !== 0), "running mean left 0");
        assert.ok(variance.some((v) => v !== 1) && variance.every((v) => v > 0), `${variance}`);
      });
    }

    const cpu = backends[0];
    const setup = (): TrainSetup => ({ backend: cpu, train: TRAIN, test: TEST });
    await t.step("cpu: a run resumed from a checkpoint file ends exactly as one run", async () => {
      const whole = await Trainer.create(setup(), SETTINGS);
      const wholeResult = await whole.run();
      let saved: string | undefined;
      const first = await Trainer.create({
        ...setup(),
        checkpointEvery: 30,
        onCheckpoint: (s: TrainerState) => {
          if (s.iteration === 30) saved = stateToJson(s);
        },
      }, SETTINGS);
      await first.run();
      assert.ok(saved !== undefined);
      const resumed = await Trainer.resume(setup(), stateFromJson(saved, "checkpoint").state);
      const resumedResult = await resumed.run();
      assert.deepEqual(resumedResult.test, wholeResult.test);
      const [a, b] = [await whole.state(), await resumed.state()];
      for (const name of Object.keys(a.variables)) {
        assert.deepEqual(b.variables[name], a.variables[name], name);
      }
    });

    await t.step("cpu: a saved CNN embeds and classifies as the trained one", async () => {
      const trainer = await Trainer.create(setup(), SETTINGS);
      const result = await trainer.run();
      const dir = await Deno.makeTempDir({ prefix: "magnet-cnn-" });
      try {
        await saveModel(`${dir}/model.json`, cpu, {
          model: trainer.model,
          loss: "magnet",
          classNames: TRAIN.classNames,
          featureNames: null,
          standardization: null,
          classifier: result.classifier!,
        });
        const loaded = await loadModel(`${dir}/model.json`);
        assert.deepEqual(loaded.model.spec, trainer.model.spec);
        const { embeddings, predicted } = await classify(cpu, loaded, TEST.features);
        assert.deepEqual(embeddings, await embed(cpu, trainer.model, TEST.features));
        const correct = predicted.filter((p, i) => p === TEST.labels[i]).length;
        assert.equal(1 - correct / TEST.labels.length, result.test!.magnetError);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  } finally {
    for (const b of backends) b.dispose();
  }
});
