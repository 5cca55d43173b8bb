/**
 * Divergence named as such, where it happens: a learning rate so large that the embeddings'
 * scale explodes while the loss (which does not depend on that scale) stays finite stops the run
 * at the step that did it, says so and what to change, and keeps exactly the state of the last good
 * step on every backend (on WebGPU, the steps already queued behind the failing one apply nothing
 * either).
 */
import assert from "node:assert/strict";
import { Trainer } from "../../src/train/trainer.ts";
import type { Dataset } from "../../src/data/dataset.ts";
import { DivergenceError } from "../../src/errors.ts";
import { Random } from "../../src/util/random.ts";
import { gpuTestOptions, openBackends } from "../helpers/backends.ts";

/** Four classes of two Gaussian blobs each, in 8 dimensions. */
function blobs(n: number): Dataset {
  const rng = new Random(1);
  const centres = Array.from(
    { length: 8 },
    () => Array.from({ length: 8 }, () => rng.normal() * 2),
  );
  const features = new Float32Array(n * 8);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 4;
    for (let d = 0; d < 8; d++) features[i * 8 + d] = centres[i % 8][d] + rng.normal();
  }
  return { features, dim: 8, labels, classNames: ["a", "b", "c", "d"] };
}

const TRAIN = blobs(400);
const SETTINGS = {
  hidden: [16],
  embeddingDim: 8,
  m: 4,
  d: 4,
  k: 2,
  refreshEvery: 1000,
  evalEvery: 0,
  seed: 3,
  lr: 1e10,
  iterations: 50,
};

Deno.test("divergence", gpuTestOptions, async (t) => {
  const backends = await openBackends();
  try {
    for (const backend of backends) {
      await t.step(`${backend.kind}: exploding embeddings stop the run, named`, async () => {
        const trainer = await Trainer.create({ backend, train: TRAIN }, SETTINGS);
        await assert.rejects(trainer.run(), (e: Error) => {
          assert.ok(e instanceof DivergenceError, `${e.name}: ${e.message}`);
          assert.equal(e.reason, "embeddings");
          assert.equal(e.iteration, 1);
          assert.match(
            e.message,
            /^training diverged: the embeddings grew to \d\.\de\+\d+ at step 2, beyond the 1e\+14 float32 can carry on with; that step was not applied, so the parameters are those of the last good step \(1\)\. Lower the learning rate \(--lr, now 1e\+10; try 0\.001\)\.$/,
          );
          return true;
        });
        assert.equal(trainer.iteration, 1);
        const state = await trainer.state();
        for (const [name, values] of Object.entries(state.variables)) {
          assert.ok(values.every(Number.isFinite), `${name} is finite`);
        }
        // Exactly the state of the same run stopped after its one good step.
        const one = await Trainer.create({ backend, train: TRAIN }, { ...SETTINGS, iterations: 1 });
        await one.run();
        const good = await one.state();
        assert.equal(state.iteration, good.iteration);
        assert.deepEqual(state.rng, good.rng);
        assert.deepEqual(state.variables, good.variables);
        assert.deepEqual(state.sampler, good.sampler);
        await one.dispose();
        await trainer.dispose();
      });
    }
  } finally {
    for (const b of backends) b.dispose();
  }
});
