/**
 * Training on folders of image files: colour carries the class (a model that sees three channels
 * separates shapes that differ only in colour; one that sees grey cannot), a saved model keeps
 * its images' settings and normalisation, and a run that augments its batches resumes exactly on
 * the CPU, from a checkpoint file or after an interruption.
 */
import assert from "node:assert/strict";
import { Trainer } from "../../src/train/trainer.ts";
import type { TrainerState, TrainSetup } from "../../src/train/types.ts";
import { stateFromJson, stateToJson } from "../../src/train/checkpoint.ts";
import { createBackend } from "../../src/backend/create.ts";
import { classify } from "../../src/train/saved_model.ts";
import { loadModel, saveModel } from "../../src/train/model_file.ts";
import { embed } from "../../src/nn/embed.ts";
import { type ImageFolderSource, loadData } from "../../src/data/source.ts";
import type { ImageRows } from "../../src/data/images/image_rows.ts";
import { SAME_GREY_COLOURS, writeColourShapes } from "../helpers/images.ts";

const SETTINGS = {
  model: "cnn" as const,
  conv: [6],
  hidden: [16],
  embeddingDim: 8,
  iterations: 150,
  m: 3,
  d: 6,
  k: 2,
  refreshEvery: 50,
  evalEvery: 0,
  logEvery: 10,
  seed: 4,
};

Deno.test("training on image folders", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "magnet-image-training-" });
  const cpu = await createBackend({ kind: "cpu" });
  try {
    await writeColourShapes(`${dir}/train`, 24, 1);
    await writeColourShapes(`${dir}/test`, 12, 2);
    const source = (channels: 1 | 3 | null): ImageFolderSource => ({
      kind: "images",
      train: `${dir}/train`,
      test: `${dir}/test`,
      testFraction: 0.2,
      splitSeed: 0,
      size: null,
      resize: "crop",
      channels,
      cache: `${dir}/cache`,
      skipBadImages: false,
    });

    await t.step("colour carries the class: three channels separate it, grey cannot", async () => {
      const colour = await loadData(source(null));
      assert.equal(colour.images?.channels, 3);
      assert.deepEqual(colour.train.imageShape, [12, 12, 3]);
      assert.deepEqual(colour.train.classNames, ["blue", "green", "red"]);
      // Channels in order: a lossless red square's pixels are its colour.
      const rows = colour.train.features as ImageRows;
      const red = colour.train.ids!.indexOf("red/0.png");
      const image = rows.image(red);
      const found = new Set<string>();
      for (let p = 0; p < image.length; p += 3) {
        found.add(Array.from(image.subarray(p, p + 3)).join());
      }
      assert.deepEqual([...found].sort(), ["158,40,40", "255,255,255"]);
      const seen = await (await Trainer.create({ backend: cpu, ...colour }, SETTINGS)).run();
      // Chance is 2/3; the shapes' sizes and places say nothing of the class.
      assert.ok(seen.test!.magnetError! <= 0.2, `3 channels: error ${seen.test!.magnetError}`);
      const grey = await loadData(source(1));
      assert.deepEqual(grey.train.imageShape, [12, 12, 1]);
      const blind = await (await Trainer.create({ backend: cpu, ...grey }, SETTINGS)).run();
      assert.ok(blind.test!.magnetError! >= 0.5, `grey: error ${blind.test!.magnetError}`);
      assert.equal(Object.keys(SAME_GREY_COLOURS).length, 3);
    });

    await t.step("a saved model keeps its images' settings; a damaged field is named", async () => {
      const data = await loadData(source(null));
      const trainer = await Trainer.create({ backend: cpu, ...data }, {
        ...SETTINGS,
        iterations: 20,
      });
      const result = await trainer.run();
      const path = `${dir}/model.json`;
      await saveModel(path, cpu, {
        model: trainer.model,
        loss: "magnet",
        classNames: data.train.classNames,
        featureNames: null,
        standardization: null,
        images: data.images,
        classifier: result.classifier!,
      });
      const loaded = await loadModel(path);
      assert.deepEqual(loaded.images, data.images);
      // The test rows, normalised by the training statistics, embed as the trained model does.
      const { embeddings } = await classify(cpu, loaded, data.test.features);
      assert.deepEqual(embeddings, await embed(cpu, trainer.model, data.test.features));
      const file = JSON.parse(await Deno.readTextFile(path));
      const damaged: [Record<string, unknown>, RegExp][] = [
        [{ channels: 2 }, /images\.channels should be 1 or 3, found 2/],
        [{ std: [1, 0, 1] }, /images\.std should be 3 positive numbers/],
        [{ mean: [0, 0] }, /images\.mean should be 3 finite numbers/],
        [{ width: 13 }, /images\.width should be a size whose pixels are the model's 432 inputs/],
        [{ resize: "zoom" }, /images\.resize should be "crop" or "pad" or "stretch"/],
      ];
      for (const [change, message] of damaged) {
        await Deno.writeTextFile(
          path,
          JSON.stringify({ ...file, images: { ...file.images, ...change } }),
        );
        await assert.rejects(loadModel(path), message);
      }
      // Files of models that never saw images have no field: null.
      delete file.images;
      await Deno.writeTextFile(path, JSON.stringify(file));
      assert.equal((await loadModel(path)).images, null);
    });

    await t.step(
      "an augmented run resumes exactly, from a checkpoint or an interruption",
      async () => {
        const data = await loadData(source(null));
        const setup = (): TrainSetup => ({ backend: cpu, train: data.train, test: data.test });
        const settings = {
          ...SETTINGS,
          model: "cnn" as const,
          conv: [4],
          hidden: [16],
          iterations: 60,
          refreshEvery: 20,
          augment: "crop-flip" as const,
        };
        const whole = await Trainer.create(setup(), settings);
        const wholeResult = await whole.run();
        const plain = await (await Trainer.create(setup(), { ...settings, augment: "none" })).run();
        assert.notDeepEqual(
          plain.history.map((p) => p.loss),
          wholeResult.history.map((p) => p.loss),
        );

        let saved: string | undefined;
        const first = await Trainer.create({
          ...setup(),
          checkpointEvery: 30,
          onCheckpoint: (s: TrainerState) => {
            if (s.iteration === 30) saved = stateToJson(s);
          },
        }, settings);
        await first.run();
        assert.ok(saved !== undefined && JSON.parse(saved).augmentRng.length === 4);
        const resumed =
          await (await Trainer.resume(setup(), stateFromJson(saved, "checkpoint").state))
            .run();
        assert.deepEqual(resumed.test, wholeResult.test);
        const [a, b] = [
          await whole.state(),
          await (await Trainer.resume(setup(), stateFromJson(saved, "c").state)).state(),
        ];
        assert.notDeepEqual(a.augmentRng, b.augmentRng); // the checkpoint is mid-run

        const controller = new AbortController();
        const interrupted = await Trainer.create({
          ...setup(),
          signal: controller.signal,
          onProgress: (e) => {
            if (e.kind === "step" && e.iteration === 41) controller.abort();
          },
        }, settings);
        assert.equal((await interrupted.run()).iterations, 41);
        const state = structuredClone(await interrupted.state());
        const after = await Trainer.resume(setup(), state);
        const afterResult = await after.run();
        assert.deepEqual(afterResult.test, wholeResult.test);
        const end = await after.state();
        for (const name of Object.keys(a.variables)) {
          assert.deepEqual(end.variables[name], a.variables[name], name);
        }
        assert.deepEqual(end.augmentRng, a.augmentRng);
      },
    );
  } finally {
    cpu.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
