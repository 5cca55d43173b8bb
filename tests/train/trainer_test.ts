/**
 * The trainer: it learns, resumes exactly on the CPU (from a checkpoint and after an interruption),
 * keeps the last good parameters when the loss stops being finite, and runs the baselines.
 */
import assert from "node:assert/strict";
import { Trainer } from "../../src/train/trainer.ts";
import type { TrainerState, TrainSetup } from "../../src/train/types.ts";
import type { Dataset } from "../../src/data/dataset.ts";
import { createBackend } from "../../src/backend/create.ts";
import { NonFiniteLossError } from "../../src/errors.ts";
import { gpuTestOptions, openBackends } from "../helpers/backends.ts";
import { blobs } from "../helpers/blobs.ts";

const TRAIN = blobs(400, 8, 4, 1);
const TEST = blobs(120, 8, 4, 2);
const SMALL = {
  hidden: [16],
  embeddingDim: 8,
  iterations: 120,
  m: 4,
  d: 4,
  k: 2,
  refreshEvery: 40,
  evalEvery: 60,
  logEvery: 10,
  seed: 3,
};

Deno.test("trainer", gpuTestOptions, async (t) => {
  const cpu = await createBackend({ kind: "cpu" });
  try {
    const base = (): TrainSetup => ({ backend: cpu, train: TRAIN, test: TRAIN });

    await t.step("magnet training lowers the loss and reports progress", async () => {
      const events: string[] = [];
      const trainer = await Trainer.create(
        { ...base(), onProgress: (e) => events.push(e.kind) },
        SMALL,
      );
      const result = await trainer.run();
      assert.equal(result.status, "completed");
      assert.equal(result.iterations, 120);
      const losses = result.history.filter((p) => p.loss !== null).map((p) => p.loss!);
      assert.ok(
        losses[losses.length - 1] < losses[0] * 0.7,
        `loss ${losses[0]} -> ${losses.at(-1)}`,
      );
      assert.ok(result.variance !== null && result.variance > 0);
      assert.ok(result.test !== null && result.test.magnetError !== null);
      assert.ok(result.test.magnetError < 0.3, `magnet error ${result.test.magnetError}`);
      assert.equal(events.filter((e) => e === "refresh").length, 3); // 0, 40, 80
      assert.equal(events.filter((e) => e === "eval").length, 2); // 60 and the end
      assert.equal(events.filter((e) => e === "step").length, 120);
    });

    await t.step("evalAt evaluates after exactly the steps it lists, and at the end", async () => {
      const evaluated: number[] = [];
      const trainer = await Trainer.create({
        ...base(),
        evalAt: [5, 30, 31, 200],
        onProgress: (e) => {
          if (e.kind === "eval") evaluated.push(e.iteration);
        },
      }, { ...SMALL, iterations: 40, evalEvery: 7 });
      const result = await trainer.run();
      assert.deepEqual(evaluated, [5, 30, 31, 40]);
      assert.deepEqual(
        result.history.filter((p) => p.test !== undefined).map((p) => p.iteration),
        [5, 30, 31, 40],
      );
    });

    await t.step(
      "a run resumed from a checkpoint or an interruption ends exactly as one run",
      async () => {
        const whole = await (await Trainer.create(base(), SMALL)).run();

        let saved: TrainerState | undefined;
        const first = await Trainer.create({
          ...base(),
          checkpointEvery: 50,
          onCheckpoint: (s) => {
            if (s.iteration === 50) saved = s;
          },
        }, SMALL);
        await first.run();
        assert.ok(saved !== undefined);
        const fromCheckpoint = await (await Trainer.resume(base(), saved)).run();
        assert.deepEqual(fromCheckpoint.test, whole.test);
        assert.deepEqual(
          fromCheckpoint.history.map((p) => [p.iteration, p.loss, p.test]),
          whole.history.map((p) => [p.iteration, p.loss, p.test]),
        );

        const controller = new AbortController();
        const interrupted = await Trainer.create({
          ...base(),
          signal: controller.signal,
          onProgress: (e) => {
            if (e.kind === "step" && e.iteration === 77) controller.abort();
          },
        }, SMALL);
        const partial = await interrupted.run();
        assert.equal(partial.status, "interrupted");
        assert.equal(partial.iterations, 77);
        const state = await interrupted.state();
        // Through a structured clone, as a checkpoint file would carry it.
        const resumed = await (await Trainer.resume(base(), structuredClone(state))).run();
        assert.equal(resumed.iterations, 120);
        assert.deepEqual(resumed.test, whole.test);
      },
    );
  } finally {
    cpu.dispose();
  }

  await t.step("on the CPU, the number of threads changes no result", async () => {
    const { WasmDevice } = await import("../../src/backend/wasm/device.ts");
    const { Executor } = await import("../../src/backend/executor.ts");
    const results = [];
    for (const options of [{ threads: 1 }, { threads: 2, splitAbove: 0 }]) {
      const backend = new Executor(await WasmDevice.create(options));
      try {
        const trainer = await Trainer.create({ backend, train: TRAIN, test: TEST }, SMALL);
        const result = await trainer.run();
        results.push({
          test: result.test,
          losses: result.history.map((p) => p.loss),
          variables: await Promise.all(trainer.variables.map((v) => backend.readVariable(v))),
        });
      } finally {
        backend.dispose();
      }
    }
    assert.deepEqual(results[1], results[0]);
  });

  const backends = await openBackends();
  try {
    for (const backend of backends) {
      await t.step(`a non-finite step on ${backend.kind} is not applied`, async () => {
        // Poisoned rows overflow the forward pass at once: the loss is NaN at step 1.
        const poisoned: Dataset = {
          ...TRAIN,
          features: TRAIN.features.map((v, i) => (i % 8 === 0 ? 3e38 : v)),
        };
        const trainer = await Trainer.create({ backend, train: poisoned }, {
          ...SMALL,
          refreshEvery: 1000,
        });
        const before = await Promise.all(trainer.variables.map((v) => backend.readVariable(v)));
        await assert.rejects(
          trainer.run(),
          (e: Error) => e instanceof NonFiniteLossError && /step 1;/.test(e.message),
        );
        const after = await Promise.all(trainer.variables.map((v) => backend.readVariable(v)));
        assert.deepEqual(after, before);

        // A learning rate of 1e30 diverges within a few steps. On WebGPU a NaN hid behind ReLU
        // (the loss read 0 while the weights went NaN): every variable must stay finite.
        const diverging = await Trainer.create({ backend, train: TRAIN }, {
          ...SMALL,
          lr: 1e30,
          iterations: 400,
          refreshEvery: 1000,
        });
        await assert.rejects(diverging.run(), (e: Error) => e instanceof NonFiniteLossError);
        for (const v of diverging.variables) {
          const values = await backend.readVariable(v);
          assert.ok(values.every(Number.isFinite), `${v.name} is finite on ${backend.kind}`);
        }
        await diverging.state(); // and can be captured for a checkpoint
      });

      for (const loss of ["triplet", "softmax", "magnet"] as const) {
        await t.step(`${loss} on ${backend.kind}: trains and evaluates`, async () => {
          const result = await (await Trainer.create({ backend, train: TRAIN, test: TEST }, {
            ...SMALL,
            loss,
            iterations: 60,
          })).run();
          assert.ok(result.test !== null);
          assert.equal(result.test.magnetError === null, loss !== "magnet");
          assert.ok(result.test.knnError < 0.5, `${loss} k-NN error ${result.test.knnError}`);
          for (const value of Object.values(result.test)) {
            assert.ok(value === null || (value >= 0 && value <= 1));
          }
        });
      }
    }
  } finally {
    for (const b of backends) b.dispose();
  }
});
