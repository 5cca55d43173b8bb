/**
 * Defaults that fit the data (MNIST's and Fashion-MNIST's as they were, a 150-row table's sized to
 * it) and the time still to go: estimated for work not timed yet, and within 25 % of the truth at
 * the halfway point of a run whose evaluations and refreshes take much of its time.
 */
import assert from "node:assert/strict";
import process from "node:process";
import { fitToData, stepsPerEpoch } from "../../src/train/schedule.ts";
import { remainingSeconds } from "../../src/train/times.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { createBackend } from "../../src/backend/create.ts";
import { MagnetInputError } from "../../src/errors.ts";
import { blobs } from "../helpers/blobs.ts";

Deno.test("defaults fitted to the data", async (t) => {
  await t.step(
    "MNIST and Fashion-MNIST: evaluations on the first refresh after 1,000 steps",
    () => {
      // The bundled MNIST: 8,000 training rows, an epoch of 167 steps of 48 rows.
      assert.deepEqual(fitToData({}, { trainRows: 8000, hasValidation: false }), {
        iterations: 6000,
        refreshEvery: 167,
        evalEvery: 1002,
        keep: "last",
      });
      // Fashion-MNIST: 60,000 rows, 1,250 steps an epoch.
      assert.deepEqual(fitToData({}, { trainRows: 60000, hasValidation: false }), {
        iterations: 6000,
        refreshEvery: 1250,
        evalEvery: 1250,
        keep: "last",
      });
      // The losses without an index keep 1,000, and so does a run that sets either interval.
      const fmnist = { trainRows: 60000, hasValidation: false };
      assert.equal(fitToData({ loss: "triplet" }, fmnist).evalEvery, 1000);
      assert.equal(fitToData({ refreshEvery: 300 }, fmnist).evalEvery, 1000);
      assert.equal(fitToData({ evalEvery: 700 }, fmnist).evalEvery, 700);
      assert.equal(fitToData({ refreshEvery: 0 }, fmnist).evalEvery, 1250);
    },
  );

  await t.step("a 150-row table: 1,000 steps, 40 refreshes, 20 evaluations, the best kept", () => {
    // 150 rows less 20 % test and 20 % validation: 96 training rows, two steps an epoch.
    const fitted = fitToData({}, { trainRows: 96, hasValidation: true });
    assert.deepEqual(fitted, { iterations: 1000, refreshEvery: 25, evalEvery: 50, keep: "best" });
    assert.equal(fitted.iterations! / fitted.refreshEvery!, 40);
  });

  await t.step("what is given wins; epochs are passes over the training rows", () => {
    const data = { trainRows: 96, hasValidation: true };
    assert.deepEqual(fitToData({ iterations: 300, evalEvery: 7, keep: "last" }, data), {
      iterations: 300,
      refreshEvery: 8,
      evalEvery: 7,
      keep: "last",
    });
    assert.equal(stepsPerEpoch(96, { m: 12, d: 4 }), 2);
    assert.equal(fitToData({ epochs: 30 }, data).iterations, 60);
    assert.equal(fitToData({ epochs: 3, m: 3, d: 3 }, data).iterations, 33);
    // An explicit 0 refreshes once per epoch, as it always did.
    assert.equal(fitToData({ refreshEvery: 0 }, data).refreshEvery, 2);
    assert.throws(
      () => fitToData({ epochs: 3, iterations: 10 }, data),
      (e: Error) =>
        e instanceof MagnetInputError && /--iterations.*or as epochs.*not both/.test(e.message),
    );
    assert.throws(
      () => fitToData({ epochs: 0 }, data),
      /epochs \(--epochs\) must be an integer >= 1, got 0/,
    );
  });
});

Deno.test("time still to go", async (t) => {
  const timings = {
    steps: 0.1,
    stepCount: 100,
    refresh: 0.2,
    refreshCount: 1,
    eval: 0,
    evalCount: 0,
  };
  const schedule = {
    from: 100,
    iterations: 1000,
    secondsPerStep: 0.001,
    refreshEvery: 250,
    evaluations: 300,
    finalEvaluations: 1,
    timings,
    rows: { train: 8000, evaluated: 10000, batch: 48 },
  };

  await t.step("counts the refreshes and evaluations to come, timed or not yet", () => {
    // 900 steps, refreshes at 250, 500 and 750 (0.2 s each as timed), evaluations at 300, 600,
    // 900 and the end (none at a refresh): none timed yet, so each is the refresh's time per row
    // over the 10,000 rows an evaluation embeds (0.25 s).
    const expected = 900 * 0.001 + 3 * 0.2 + 4 * 0.25;
    assert.ok(Math.abs(remainingSeconds(schedule) - expected) < 1e-12);
    // Once an evaluation is timed, its time is used: the latest one's when known (the first
    // also paid for compiling the graphs), else the mean.
    const timed = { ...schedule, timings: { ...timings, eval: 3, evalCount: 2 } };
    assert.ok(Math.abs(remainingSeconds(timed) - (900 * 0.001 + 3 * 0.2 + 4 * 1.5)) < 1e-12);
    const latest = { ...timed, latest: { refresh: 0.1, eval: 1 } };
    assert.ok(Math.abs(remainingSeconds(latest) - (900 * 0.001 + 3 * 0.1 + 4 * 1)) < 1e-12);
    // Before any refresh is timed, rows are priced at a third of a step per row.
    const early = { ...schedule, timings: { ...timings, refresh: 0, refreshCount: 0 } };
    const perRow = 0.001 / 3 / 48;
    const expectedEarly = 900 * 0.001 + 3 * perRow * 8000 + 4 * perRow * 10000;
    assert.ok(Math.abs(remainingSeconds(early) - expectedEarly) < 1e-12);
    // Listed evaluation steps count only those still ahead; two evaluations end a validated run.
    const listed = { ...schedule, evaluations: [50, 300, 999], finalEvaluations: 2 };
    assert.ok(Math.abs(remainingSeconds(listed) - (expected - 4 * 0.25 + 4 * 0.25)) < 1e-12);
  });

  await t.step("an evaluation at a refresh costs a refresh less than one elsewhere", () => {
    // Evaluations at 250, 500 and 750 take the refresh's embeddings and index; the final one
    // embeds the training rows itself. Untimed, those at refreshes embed the 2,000 query rows
    // alone (0.05 s) and the final one costs a refresh more (0.25 s).
    const aligned = { ...schedule, evaluations: 250 };
    const steps = 900 * 0.001, refreshes = 3 * 0.2;
    const near = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
    near(remainingSeconds(aligned), steps + refreshes + 3 * 0.05 + 0.25);
    // Timed at a refresh (0.08 s): the final one is priced at 0.08 + 0.2.
    const timedThere = { ...aligned, latest: { refresh: 0.2, eval: 0.08, evalAtRefresh: true } };
    near(remainingSeconds(timedThere), steps + refreshes + 3 * 0.08 + 0.28);
    // Timed elsewhere (0.5 s): those at refreshes are priced a refresh less.
    const timedElsewhere = { ...aligned, latest: { refresh: 0.2, eval: 0.5 } };
    near(remainingSeconds(timedElsewhere), steps + refreshes + 3 * 0.3 + 0.5);
    // Listed steps: 500 falls on a refresh, 300 does not.
    const listed = { ...timedThere, evaluations: [300, 500] };
    near(remainingSeconds(listed), steps + refreshes + 0.08 + 2 * 0.28);
  });

  await t.step("at the halfway point it is within 25 % of the truth", async () => {
    // Evaluations (2,000 references, 600 queries, R = 500) and refreshes take a large share of
    // the run, so leaving them out would miss by far more than 25 %. The run is timed by the
    // process's CPU time on one thread: on an idle machine that is its wall time, and on a loaded
    // one (other processes slowing one half of a run and not the other) it still measures the
    // work alone. The median of five short runs is held to the bound.
    const cpuMs = () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1000;
    };
    const backend = await createBackend({ kind: "cpu", threads: 1 });
    try {
      const ratios: number[] = [];
      for (let run = 0; run < 5; run++) {
        let half: { eta: number; at: number } | null = null;
        const trainer = await Trainer.create({
          backend,
          clock: cpuMs,
          train: blobs(2000, 16, 4, 1),
          validation: blobs(600, 16, 4, 2),
          test: blobs(600, 16, 4, 3),
          onProgress: (e) => {
            if (e.kind === "step" && e.iteration === 100) {
              half = { eta: e.etaSeconds, at: cpuMs() };
            }
          },
        }, {
          hidden: [32],
          embeddingDim: 16,
          iterations: 200,
          refreshEvery: 25,
          evalEvery: 25,
          seed: run + 1,
        });
        const result = await trainer.run();
        const truth = (cpuMs() - half!.at) / 1000;
        ratios.push(half!.eta / truth);
        const t = result.timings;
        assert.ok(t.eval + t.refresh > 0.3 * result.seconds, "the phases are a large share");
      }
      ratios.sort((a, b) => a - b);
      assert.ok(Math.abs(ratios[2] - 1) <= 0.25, `ETA / truth at halfway: ${ratios.join(", ")}`);
    } finally {
      backend.dispose();
    }
  });
});
