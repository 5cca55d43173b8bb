/**
 * Choosing the model: validation rows judge every evaluation, the best model is kept (and is the
 * model of the run stopped at its step), early stopping ends a run that stopped improving, all of
 * it resumes exactly; the test rows are measured only at the end. Also what the trainer says while
 * it works: progress inside refreshes and evaluations, an abort inside them, and the note about a
 * loss that stays exactly 0.
 */
import assert from "node:assert/strict";
import { Trainer } from "../../src/train/trainer.ts";
import type { TrainerState, TrainEvent, TrainSetup } from "../../src/train/types.ts";
import type { Dataset } from "../../src/data/dataset.ts";
import { createBackend } from "../../src/backend/create.ts";
import { MagnetInputError } from "../../src/errors.ts";
import { blobs } from "../helpers/blobs.ts";

const TRAIN = blobs(400, 8, 4, 1);
const TEST = blobs(120, 8, 4, 2);
/**
 * Validation rows labelled with the next class: the better a model learns the real classes, the
 * worse it does on them, so the last evaluation is worse than the best.
 */
const held = blobs(120, 8, 4, 3);
const ROTATED: Dataset = { ...held, labels: held.labels.map((c) => (c + 1) % 4) };
const SETTINGS = {
  hidden: [16],
  embeddingDim: 8,
  iterations: 120,
  m: 4,
  d: 4,
  k: 2,
  refreshEvery: 40,
  evalEvery: 20,
  logEvery: 10,
  seed: 3,
};

Deno.test("choosing the model", async (t) => {
  const cpu = await createBackend({ kind: "cpu" });
  const setup = (extra: Partial<TrainSetup> = {}): TrainSetup => ({
    backend: cpu,
    train: TRAIN,
    test: TEST,
    validation: ROTATED,
    ...extra,
  });
  const validationErrors = (
    history: { iteration: number; validation?: { magnetError: number | null } }[],
  ) =>
    history.filter((p) => p.validation !== undefined).map((p) => ({
      iteration: p.iteration,
      error: p.validation!.magnetError!,
    }));
  try {
    await t.step(
      "the best validation model is kept: it is the run stopped at its step",
      async () => {
        const events: TrainEvent[] = [];
        const long = await (await Trainer.create(
          setup({ onProgress: (e) => events.push(e) }),
          SETTINGS,
        ))
          .run();
        const evaluations = validationErrors(long.history);
        assert.deepEqual(evaluations.map((e) => e.iteration), [20, 40, 60, 80, 100, 120]);
        const lowest = Math.min(...evaluations.map((e) => e.error));
        const best = evaluations.find((e) => e.error === lowest)!; // ties keep the earlier
        assert.ok(evaluations.at(-1)!.error > lowest, "the last evaluation is worse than the best");
        assert.deepEqual(long.kept, {
          rule: "best",
          iteration: best.iteration,
          metric: "magnetError",
          value: lowest,
        });
        assert.equal(long.validation!.magnetError, lowest);
        // The test rows are measured once, at the end, and only the validation rows judge.
        assert.deepEqual(long.history.filter((p) => p.test).map((p) => p.iteration), [120]);
        assert.deepEqual(
          events.filter((e) => e.kind === "eval").map((e) => e.kind === "eval" && e.split),
          [
            "validation",
            "validation",
            "validation",
            "validation",
            "validation",
            "validation",
            "test",
          ],
        );
        // The same run stopped at the best step, keeping its last model, has the same model: the
        // same test metrics (embedding, index, magnet rule with its variance) to the last bit.
        const short = await (await Trainer.create(setup(), {
          ...SETTINGS,
          iterations: best.iteration,
          keep: "last",
        })).run();
        assert.deepEqual(long.test, short.test);
        assert.equal(long.variance, short.variance);
        // Keeping the last model keeps the last step's, which the best is not.
        const last = await (await Trainer.create(setup(), { ...SETTINGS, keep: "last" })).run();
        assert.deepEqual(last.kept, {
          rule: "last",
          iteration: 120,
          metric: "magnetError",
          value: evaluations.at(-1)!.error,
        });
        assert.notDeepEqual(last.test, long.test);
      },
    );

    await t.step(
      "early stopping ends the run after N evaluations without improvement",
      async () => {
        const stops: TrainEvent[] = [];
        const trainer = await Trainer.create(
          setup({ onProgress: (e) => e.kind === "early-stop" && stops.push(e) }),
          { ...SETTINGS, iterations: 400, earlyStop: 2 },
        );
        const result = await trainer.run();
        assert.ok(result.stoppedEarly);
        const evaluations = validationErrors(result.history);
        const best = result.kept!.iteration;
        assert.equal(result.iterations, best + 2 * SETTINGS.evalEvery);
        assert.equal(evaluations.at(-1)!.iteration, result.iterations);
        for (const e of evaluations) {
          if (e.iteration > best) assert.ok(e.error >= result.kept!.value!, `${e.iteration}`);
        }
        assert.deepEqual(stops, [{
          kind: "early-stop",
          iteration: result.iterations,
          evaluations: 2,
          bestIteration: best,
        }]);
        // A stopped run stays stopped when resumed, even with more steps allowed.
        const state = structuredClone(await trainer.state());
        const again = await (await Trainer.resume(setup(), {
          ...state,
          config: { ...state.config, iterations: 1000 },
        })).run();
        assert.equal(again.iterations, result.iterations);
        assert.deepEqual(again.test, result.test);
        assert.deepEqual(again.kept, result.kept);
      },
    );

    await t.step("the best model and the early-stop count resume exactly", async () => {
      const options = { ...SETTINGS, iterations: 200, earlyStop: 4 };
      const whole = await (await Trainer.create(setup(), options)).run();
      let saved: TrainerState | undefined;
      await (await Trainer.create(
        setup({
          checkpointEvery: 70,
          onCheckpoint: (s) => {
            if (s.iteration === 70) saved = structuredClone(s);
          },
        }),
        options,
      )).run();
      assert.ok(saved !== undefined && saved.best !== null, "the checkpoint holds a best model");
      const resumed = await (await Trainer.resume(setup(), saved)).run();
      assert.deepEqual(resumed.kept, whole.kept);
      assert.deepEqual(resumed.test, whole.test);
      assert.equal(resumed.iterations, whole.iterations);
      assert.equal(resumed.stoppedEarly, whole.stoppedEarly);
      assert.deepEqual(
        resumed.history.map((p) => [p.iteration, p.loss, p.validation, p.test]),
        whole.history.map((p) => [p.iteration, p.loss, p.validation, p.test]),
      );
    });

    await t.step("choosing needs validation rows: the test rows never choose", async () => {
      for (const options of [{ keep: "best" as const }, { earlyStop: 3 }]) {
        await assert.rejects(
          Trainer.create(setup({ validation: undefined }), { ...SETTINGS, ...options }),
          (e: Error) =>
            e instanceof MagnetInputError && /needs validation rows.*test rows are only/.test(
              e.message,
            ),
        );
      }
      // Without validation rows the last model is kept, and the evaluations are the test rows'.
      const result = await (await Trainer.create(setup({ validation: undefined }), SETTINGS)).run();
      assert.deepEqual(result.kept, { rule: "last", iteration: 120, metric: null, value: null });
      assert.equal(result.history.filter((p) => p.test).length, 6);
      assert.equal(result.validation, null);
    });

    await t.step(
      "an evaluation right after a refresh takes the refresh's embeddings and index",
      async () => {
        const events: TrainEvent[] = [];
        await (await Trainer.create(setup({ onProgress: (e) => events.push(e) }), SETTINGS)).run();
        const embedded = (iteration: number) =>
          events.flatMap((e) =>
            e.kind === "phase" && e.phase === "evaluation" && e.iteration === iteration &&
              e.progress.stage === "embedding"
              ? [e.progress.done]
              : []
          );
        const n = TRAIN.labels.length;
        // Refreshed after step 40 (every 40): only the validation rows are embedded for it.
        assert.ok(embedded(40).length > 0 && embedded(40).every((done) => done > n));
        // No refresh after step 60: the training rows are embedded again.
        assert.ok(embedded(60).some((done) => done <= n));
        // The magnet rule votes over the refresh's index at step 40, over a new one at 60.
        const clustered = (iteration: number) =>
          events.some((e) =>
            e.kind === "phase" && e.phase === "evaluation" && e.iteration === iteration &&
            e.progress.stage === "clustering"
          );
        assert.equal(clustered(40), false);
        assert.equal(clustered(60), true);
      },
    );

    await t.step(
      "refreshes and evaluations report their progress, and stop when aborted",
      async () => {
        const events: TrainEvent[] = [];
        const whole = await (await Trainer.create(
          setup({ onProgress: (e) => events.push(e) }),
          SETTINGS,
        ))
          .run();
        const phases = events.filter((e) => e.kind === "phase");
        const stagesOf = (phase: string, iteration: number) => [
          ...new Set(
            phases.filter((e) => e.phase === phase && e.iteration === iteration)
              .map((e) => e.progress.stage),
          ),
        ];
        assert.deepEqual(stagesOf("index", 0), ["embedding", "clustering"]);
        assert.deepEqual(stagesOf("evaluation", 60), [
          "embedding",
          "clustering",
          "searching",
          "scoring",
        ]);
        for (const e of phases) {
          assert.ok(
            e.progress.done <= e.progress.total && e.progress.done >= 0,
          );
        }
        const embedding = phases.find((e) =>
          e.phase === "evaluation" && e.progress.stage === "embedding" && e.iteration === 60
        )!;
        assert.equal(embedding.progress.total, TRAIN.labels.length + ROTATED.labels.length);
        assert.equal(embedding.split, "validation");

        // Stopped inside the evaluation after step 60: nothing of it is kept, and the run resumed
        // from there ends exactly as the uninterrupted one.
        const controller = new AbortController();
        const trainer = await Trainer.create(
          setup({
            signal: controller.signal,
            onProgress: (e) => {
              if (e.kind === "phase" && e.phase === "evaluation" && e.iteration === 60) {
                controller.abort();
              }
            },
          }),
          SETTINGS,
        );
        const cut = await trainer.run();
        assert.equal(cut.status, "interrupted");
        assert.equal(cut.iterations, 60);
        assert.ok(!cut.history.some((p) => p.iteration === 60 && p.validation !== undefined));
        const resumed =
          await (await Trainer.resume(setup(), structuredClone(await trainer.state())))
            .run();
        assert.deepEqual(resumed.test, whole.test);
        assert.deepEqual(resumed.kept, whole.kept);
      },
    );

    await t.step("a loss exactly 0 for a long stretch is said once", async () => {
      const notes: TrainEvent[] = [];
      // A margin of -50 puts every example of these blobs beyond it from the first step.
      await (await Trainer.create(
        { backend: cpu, train: TRAIN, onProgress: (e) => e.kind === "note" && notes.push(e) },
        { ...SETTINGS, alpha: -50, iterations: 250, evalEvery: 0 },
      )).run();
      assert.equal(notes.length, 1);
      const note = notes[0] as Extract<TrainEvent, { kind: "note" }>;
      assert.equal(note.iteration, 100);
      assert.match(
        note.message,
        /exactly 0 for the last 100 steps: every batch satisfies the margin: consider fewer iterations or a larger alpha/,
      );
    });
  } finally {
    cpu.dispose();
  }
});
