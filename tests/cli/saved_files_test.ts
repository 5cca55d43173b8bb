/**
 * Every saved file of ours is read field by field, values included: a damaged checkpoint.json,
 * model.json or results.json is one line with exit code 2 naming the file and the field, for any
 * field: non-finite weights, running statistics, optimizer moments or classifier centres; shapes
 * that disagree with the architecture; unknown or missing variables; dates that are not dates;
 * curves empty or holding non-numbers; settings out of range; a data hash of the wrong type (never
 * a switch that turns the data check off); an experiment file of another experiment.
 *
 * One small run is trained; every damaged copy is refused in this process before any training.
 */
import assert from "node:assert/strict";
import { main as train } from "../../src/cli/train.ts";
import { main as embed } from "../../src/cli/embed.ts";
import { main as experiment } from "../../src/cli/experiment.ts";
import { encodeArray } from "../../src/io/arrays.ts";
import { createBackend } from "../../src/backend/create.ts";
import { createCnn } from "../../src/nn/cnn.ts";
import { loadModel, saveModel } from "../../src/train/model_file.ts";
import { MagnetInputError } from "../../src/errors.ts";
import { assertUsageError, csv, inProcess, SMALL } from "../helpers/cli.ts";

type Json = Record<string, unknown>;

/** A copy of `value` with `change` applied to it. */
function changed(value: Json, change: (copy: Json) => void): Json {
  const copy = structuredClone(value);
  change(copy);
  return copy;
}

/** A checkpoint's source of a folder of images, sound in every field (the cases change one). */
const IMAGE_SOURCE = {
  kind: "images",
  train: "/data/train",
  test: null,
  testFraction: 0.2,
  splitSeed: 0,
  size: null,
  resize: "crop",
  channels: null,
  cache: null,
  skipBadImages: false,
};

/** A model file's images of 2 x 3 grey pixels: the 6 inputs of the MLP trained below. */
const IMAGES = {
  width: 2,
  height: 3,
  channels: 1,
  resize: "crop",
  mean: [0.5],
  std: [0.25],
  channelsFromImages: true,
};

/** An encoded float32 array of `values`. */
const floats = (...values: number[]) => encodeArray(Float32Array.from(values));

Deno.test("saved files read field by field", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "magnet-saved-" });
  const data = `${dir}/data.csv`;
  Deno.writeTextFileSync(data, csv(30, 1));
  const run = `${dir}/run`;
  try {
    const trained = await inProcess(train, [
      ...SMALL,
      "--data",
      data,
      "--iterations",
      "12",
      "--checkpoint-every",
      "0",
      "--quiet",
      "--out",
      run,
    ]);
    assert.equal(trained.code, 0, trained.stderr);
    const checkpoint = JSON.parse(Deno.readTextFileSync(`${run}/checkpoint.json`)) as Json;
    const model = JSON.parse(Deno.readTextFileSync(`${run}/model.json`)) as Json;
    let n = 0;

    await t.step(
      "checkpoint.json: every field, the values in it, the variables it holds",
      async () => {
        const variables = checkpoint.variables as Record<string, { dtype: string; base64: string }>;
        const weight = Object.keys(variables).find((k) => k.endsWith(".weight"))!;
        const moment = Object.keys(variables).find((k) => k.includes("adam.m"))!;
        const size = (name: string) => atob(variables[name].base64).length / 4;
        // A sound best model: the run's model variables (not the optimizer's) as they are.
        const bestOf = (c: Json): Json => ({
          iteration: 12,
          value: 0.5,
          variables: Object.fromEntries(
            Object.entries(c.variables as Json).filter(([name]) => !name.includes("adam")),
          ),
          varianceSum: 1,
          varianceCount: 1,
        });
        const cases: [(c: Json) => void, RegExp][] = [
          [
            (c) => (c.variables as Json)[weight] = floats(...Array(size(weight)).fill(Number.NaN)),
            new RegExp(
              `variables\\.${
                weight.replaceAll(".", "\\.")
              }\\[0\\] should be a finite number, found NaN`,
            ),
          ],
          [
            (c) => (c.variables as Json)[moment] = floats(...Array(size(moment)).fill(Infinity)),
            /adam\.m\[0\] should be a finite number, found Infinity/,
          ],
          [
            (c) => (c.variables as Json)[weight] = floats(1, 2, 3),
            new RegExp(
              `variables\\.${weight.replaceAll(".", "\\.")} should hold \\d+ values, found 3`,
            ),
          ],
          [
            (c) => (c.variables as Json)["mlp.7.weight"] = floats(1),
            /variables\.mlp\.7\.weight is not a variable of this run/,
          ],
          [
            (c) => delete (c.variables as Json)[moment],
            new RegExp(`variables\\.${moment.replaceAll(".", "\\.")} is missing`),
          ],
          [
            (c) => (c.index as Json).centres = floats(Number.NaN),
            /index\.centres\[0\] should be a finite number, found NaN/,
          ],
          [
            (c) => (c.history as Json[])[0].loss = "low",
            /history\[0\]\.loss should be a finite number >= 0, found "low"/,
          ],
          [
            (c) => (c.history as Json[]).push({ iteration: 3, loss: 1, seconds: 1 }),
            /history\[\d+\]\.iteration should be an integer in \[12, 12\]/,
          ],
          [
            (c) => (c.config as Json).m = -4,
            /its config is invalid: M \(clusters per batch, --m\)/,
          ],
          [(c) => c.seconds = -1, /seconds should be a finite number >= 0, found -1/],
          [
            (c) => ((c.extra as Json).settings as Json).checkpointEvery = -5,
            /extra\.settings\.checkpointEvery should be an integer in \[0, /,
          ],
          [
            (c) => ((c.extra as Json).settings as Json).backend = "tpu",
            /extra\.settings\.backend should be "auto" or "webgpu" or "cpu", found "tpu"/,
          ],
          [
            (c) => (c.extra as Json).data = 5,
            /extra\.data should be a SHA-256 in hex \(64 digits\), found 5/,
          ],
          [
            (c) => delete (c.extra as Json).data,
            /extra\.data should be a SHA-256 in hex \(64 digits\), found nothing/,
          ],
          [
            (c) => c.format = "magnet-model",
            /is not a magnet checkpoint \(its format is "magnet-model"/,
          ],
          // The model kept: the best validation model so far, and the early stop's state.
          [
            (c) => c.best = { ...bestOf(c), iteration: 99 },
            /best\.iteration should be an integer in \[0, 12\]/,
          ],
          [
            (c) => c.best = { ...bestOf(c), value: 1.5 },
            /best\.value should be a finite number in \[0, 1\], found 1\.5/,
          ],
          [
            (c) => {
              const best = bestOf(c);
              (best.variables as Json)[weight] = floats(...Array(size(weight)).fill(Number.NaN));
              c.best = best;
            },
            /best\.variables\.mlp\.\d\.weight\[0\] should be a finite number, found NaN/,
          ],
          [
            (c) => {
              const best = bestOf(c);
              (best.variables as Json)["mlp.9.weight"] = floats(1);
              c.best = best;
            },
            /best\.variables\.mlp\.9\.weight is not a variable of this run's model/,
          ],
          [
            (c) => c.best = { ...bestOf(c), varianceSum: -2 },
            /best\.varianceSum should be a finite number >= 0, found -2/,
          ],
          [(c) => c.stopped = "no", /stopped should be true or false, found "no"/],
          [(c) => c.zeroLoss = { steps: 1, noted: 1 }, /zeroLoss\.noted should be true or false/],
          [
            (c) => (c.extra as Json).backbone = { file: "n.onnx", sha256: "0".repeat(64) },
            /extra\.backbone should be nothing/,
          ],
          // Image folders' saved state: the augmenting generator, the source's image settings.
          [(c) => c.augmentRng = [1, 2, 3], /augmentRng should be four 32-bit integers/],
          [(c) => c.augmentRng = [1, 2, 3, -4], /augmentRng should be four 32-bit integers/],
          [
            (c) => {
              (c.config as Json).augment = "flip";
              c.augmentRng = null;
            },
            /a run with --augment flip without its augmentRng/,
          ],
          [
            (c) => ((c.extra as Json).source = { ...IMAGE_SOURCE, resize: "zoom" }),
            /extra\.source\.resize should be "crop" or "pad" or "stretch", found "zoom"/,
          ],
          [
            (c) => ((c.extra as Json).source = { ...IMAGE_SOURCE, channels: 2 }),
            /extra\.source\.channels should be 1, 3 or null, found 2/,
          ],
          [
            (c) => ((c.extra as Json).source = { ...IMAGE_SOURCE, size: { width: 0, height: 8 } }),
            /extra\.source\.size\.width should be an integer in \[1, /,
          ],
          [
            (c) => ((c.extra as Json).source = { ...IMAGE_SOURCE, skipBadImages: "yes" }),
            /extra\.source\.skipBadImages should be true or false, found "yes"/,
          ],
          [
            (c) => ((c.extra as Json).source = { ...IMAGE_SOURCE, testFraction: Infinity }),
            /extra\.source\.testFraction should be/,
          ],
        ];
        for (const [change, message] of cases) {
          const folder = `${dir}/damaged-${n++}`;
          Deno.mkdirSync(folder);
          Deno.writeTextFileSync(
            `${folder}/checkpoint.json`,
            JSON.stringify(changed(checkpoint, change)),
          );
          const r = await inProcess(train, ["--resume", folder]);
          assertUsageError(r, message, String(change));
          assert.match(
            r.stderr,
            new RegExp(`damaged-${n - 1}/checkpoint\\.json`),
            "names the file",
          );
        }
      },
    );

    await t.step("model.json: classifier, standardisation, variables, shapes", async () => {
      const rows = `${dir}/rows.csv`;
      Deno.writeTextFileSync(rows, csv(2, 9));
      const classifier = model.classifier as Json;
      const cases: [(m: Json) => void, RegExp][] = [
        [
          (m) =>
            (m.classifier as Json).centres = floats(
              ...Array(atob((classifier.centres as Json).base64 as string).length / 4).fill(
                Number.NaN,
              ),
            ),
          /classifier\.centres\[0\] should be a finite number, found NaN/,
        ],
        [
          (m) => (m.classifier as Json).variance = -1,
          /classifier\.variance should be a finite number >= /,
        ],
        [
          (m) => (m.standardization as Json).scale = floats(1, 1, 1, 1, 1, 0),
          /standardization\.scale\[5\] should be a positive number, found 0/,
        ],
        [
          (m) => (m.variables as Json)["mlp.0.bias"] = floats(...Array(16).fill(Number.NaN)),
          /variables\.mlp\.0\.bias\[0\] should be a finite number/,
        ],
        [
          (m) => (m.variables as Json)["extra.weight"] = floats(1),
          /"extra\.weight" is not a variable of this MLP/,
        ],
        [
          (m) => delete (m.variables as Json)["mlp.1.bias"],
          /"mlp\.1\.bias" should hold 4 values, found nothing/,
        ],
        [
          (m) => m.classNames = ["ant", "ant", "bee"],
          /classNames should be two or more distinct class names/,
        ],
        // The images a model was trained on: size, resize mode, channels, per-channel statistics.
        [
          (m) => m.images = { ...IMAGES, mean: [Number.NaN] },
          /images\.mean should be 1 finite numbers, found \[null\]/,
        ],
        [(m) => m.images = { ...IMAGES, mean: [0, 0] }, /images\.mean should be 1 finite numbers/],
        [
          (m) => m.images = { ...IMAGES, std: [0] },
          /images\.std should be 1 positive numbers, found \[0\]/,
        ],
        [
          (m) => m.images = { ...IMAGES, resize: "zoom" },
          /images\.resize should be "crop" or "pad" or "stretch", found "zoom"/,
        ],
        [(m) => m.images = { ...IMAGES, channels: 2 }, /images\.channels should be 1 or 3/],
        [
          (m) => m.images = { ...IMAGES, width: 4 },
          /images\.width should be a size whose pixels are the model's 6 inputs/,
        ],
        [
          (m) => m.images = { ...IMAGES, channelsFromImages: "yes" },
          /images\.channelsFromImages should be true or false/,
        ],
        // The model kept, the training inputs' range, the columns set apart.
        [
          (m) => m.kept = { rule: "best", iteration: 12, metric: "magnetError", value: 2 },
          /kept\.value should be a finite number in \[0, 1\], found 2/,
        ],
        [
          (m) => m.inputRange = { min: floats(1, 1, 1, 1, 1, 1), max: floats(0, 2, 2, 2, 2, 2) },
          /inputRange\.max\[0\] should be at least min\[0\] = 1, found 0/,
        ],
        [
          (m) => m.columns = { label: "label", id: null, ignored: [3] },
          /columns\.ignored should be a list of column names, found \[3\]/,
        ],
        [
          (m) => (m.model as Json).kind = "resnet",
          /model\.kind should be "mlp" or "cnn" or "backbone", found "resnet"/,
        ],
        [
          (m) => (m.model as Json).sizes = [6, 1e9, 4],
          /is damaged: hidden layer 1 \(6 -> 1000000000 wide, --hidden\).* would hold 6\.00e\+9 values/,
        ],
      ];
      for (const [change, message] of cases) {
        const file = `${dir}/model-${n++}.json`;
        Deno.writeTextFileSync(file, JSON.stringify(changed(model, change)));
        assertUsageError(
          await inProcess(embed, ["--model", file, "--data", rows, "--out", `${dir}/e.csv`]),
          message,
          String(change),
        );
      }
    });

    await t.step(
      "a CNN's batch-normalisation statistics are checked like every value",
      async () => {
        const backend = await createBackend({ kind: "cpu", threads: 1 });
        try {
          const cnn = createCnn({ input: [4, 4, 1], conv: [2], dense: [3], embeddingDim: 2 });
          const path = `${dir}/cnn.json`;
          await saveModel(path, backend, {
            model: cnn,
            loss: "triplet",
            classNames: ["a", "b"],
            featureNames: null,
            standardization: null,
            classifier: {
              kind: "knn",
              references: new Float32Array(4),
              referenceLabels: Int32Array.of(0, 1),
              k: 1,
            },
          });
          assert.equal((await loadModel(path)).model.inputDim, 16);
          const saved = JSON.parse(Deno.readTextFileSync(path)) as Json;
          (saved.variables as Json)["cnn.conv0.runningVariance"] = floats(1, Number.NaN);
          Deno.writeTextFileSync(path, JSON.stringify(saved));
          await assert.rejects(
            loadModel(path),
            (e: Error) =>
              e instanceof MagnetInputError &&
              /cnn\.json is damaged: variables\.cnn\.conv0\.runningVariance\[1\] should be a finite number, found NaN/
                .test(e.message),
          );
        } finally {
          backend.dispose();
        }
      },
    );

    await t.step(
      "results.json: dates, curves, settings, and runs of the experiment resumed",
      async () => {
        const curve = [{ iteration: 12, seconds: 1, error: 0.5, knnError: 0.5 }];
        const results: Json = {
          format: "magnet-experiment",
          version: 1,
          experiment: "speed",
          title: "Speed",
          claim: "a claim",
          command: "deno task experiment speed --dataset mnist",
          complete: false,
          startedAt: "2026-12-05T10:00:00.000Z",
          updatedAt: "2026-12-05T10:05:00.000Z",
          seconds: 300,
          backend: "CPU",
          data: { name: "MNIST", train: 8000, test: 2000 },
          source: { kind: "mnist", testFraction: 0.2, splitSeed: 0 },
          options: { seeds: [1], quick: true, iterations: 12, model: "mlp" },
          runs: [{
            key: "magnet",
            seed: 1,
            settings: { loss: "magnet" },
            iterations: 12,
            seconds: 2,
            trainSecondsPer1000: 100,
            curve,
            metrics: { magnetError: 0.5, knnError: 0.5, nmi: 0.1 },
          }],
          tables: [],
          figures: [],
        };
        const run = (r: Json) => ((r.runs as Json[])[0]);
        const cases: [(r: Json) => void, RegExp][] = [
          [
            (r) => r.startedAt = "yesterday",
            /startedAt should be an ISO 8601 date and time, found "yesterday"/,
          ],
          [
            (r) => r.updatedAt = "2026-13-45T99:00:00Z",
            /updatedAt should be an ISO 8601 date and time/,
          ],
          [(r) => run(r).curve = [], /runs\[0\]\.curve should be a non-empty list, found \[\]/],
          [
            (r) => run(r).curve = [{ ...curve[0], error: "most" }],
            /runs\[0\]\.curve\[0\]\.error should be a finite number in \[0, 1\], found "most"/,
          ],
          [
            (r) => run(r).metrics = { nmi: "high" },
            /runs\[0\]\.metrics\.nmi should be a finite number, found "high"/,
          ],
          [
            (r) => run(r).settings = { refreshEvery: -3 },
            /runs\[0\]\.settings are invalid: --refresh-every must be an integer >= 0, got -3/,
          ],
          [
            (r) => r.options = { seeds: [], quick: true, iterations: 12, model: "mlp" },
            /options\.seeds should be distinct seeds, at least one/,
          ],
          [(r) => r.complete = "no", /complete should be true or false, found "no"/],
          [
            (r) => r.experiment = "speedy",
            /experiment should be "speed" or "hierarchy" or "ablation", found "speedy"/,
          ],
          // Runs of another experiment under this one's name.
          [(r) => run(r).key = "K = 4", /runs\[0\]: "K = 4" is not a run of the speed experiment/],
          [(r) => run(r).seed = 7, /runs\[0\]: seed 7 is not one of the experiment's seeds/],
        ];
        for (const [change, message] of cases) {
          const folder = `${dir}/experiment-${n++}`;
          Deno.mkdirSync(folder);
          Deno.writeTextFileSync(
            `${folder}/results.json`,
            JSON.stringify(changed(results, change)),
          );
          const r = await inProcess(experiment, ["--resume", folder, "--backend", "cpu"]);
          assertUsageError(r, message, String(change));
          assert.match(r.stderr, /results\.json/);
        }
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
