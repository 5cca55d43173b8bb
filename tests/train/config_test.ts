/** Training settings: defaults, and one named sentence for each bad value. */
import assert from "node:assert/strict";
import {
  applicableSettings,
  DEFAULT_CONFIG,
  resolveConfig,
  type TrainConfig,
} from "../../src/train/config.ts";
import { MagnetInputError } from "../../src/errors.ts";

Deno.test("resolveConfig", async (t) => {
  await t.step("fills the defaults and copies lists", () => {
    const c = resolveConfig({ k: 3 });
    assert.equal(c.k, 3);
    assert.equal(c.sampler, "neighbourhood");
    assert.equal(c.varianceForm, "paper");
    assert.equal(c.model, "mlp");
    c.conv.push(9);
    assert.deepEqual(DEFAULT_CONFIG.conv, [32, 64]);
  });

  await t.step("each bad value is one MagnetInputError naming the setting", () => {
    const bad = (options: Record<string, unknown>, message: RegExp) =>
      assert.throws(
        () => resolveConfig(options as Partial<TrainConfig>),
        (e: Error) => e instanceof MagnetInputError && message.test(e.message),
        JSON.stringify(options),
      );
    bad(
      { sampler: "greedy" },
      /sampler must be neighbourhood, uniform-seed or random, got "greedy"/,
    );
    bad({ varianceForm: "cubed" }, /variance form must be paper or squared, got "cubed"/);
    bad({ model: "rnn" }, /model \(--model\) must be mlp, cnn or backbone, got "rnn"/);
    bad({ backboneLrScale: -1 }, /--backbone-lr-scale must be a number >= 0, got -1/);
    bad({ backboneSize: [64, 0] }, /--backbone-size must be an integer in \[1, 4096\], got 0/);
    bad({ backboneStd: [0.2, 0] }, /--backbone-std must be positive, got 0.2,0/);
    bad({ backboneMean: [] }, /--backbone-mean must be finite numbers/);
    bad(
      { conv: [8, 0] },
      /convolution channels \(--conv\) must be an integer in \[1, 4096\], got 0/,
    );
    bad({ norm: "group" }, /norm \(--norm\) must be batch or none, got "group"/);
    bad({ loss: "arcface" }, /loss must be one of magnet, triplet, softmax, got "arcface"/);
  });
});

Deno.test("applicableSettings keeps what the run's model and loss read", () => {
  const keys = (options: Parameters<typeof resolveConfig>[0]) =>
    Object.keys(applicableSettings(resolveConfig(options)));
  const magnetMlp = keys({});
  for (const key of ["alpha", "k", "refreshEvery", "sampler", "varianceForm", "votingClusters"]) {
    assert.ok(magnetMlp.includes(key), key);
  }
  for (const key of ["conv", "norm", "tripletMargin", "tripletMining"]) {
    assert.ok(!magnetMlp.includes(key), key);
  }
  const tripletCnn = keys({ loss: "triplet", model: "cnn" });
  for (const key of ["conv", "norm", "tripletMargin", "tripletMining", "lr", "keep"]) {
    assert.ok(tripletCnn.includes(key), key);
  }
  for (const key of ["alpha", "k", "refreshEvery", "votingClusters"]) {
    assert.ok(!tripletCnn.includes(key), key);
  }
  assert.ok(!keys({ loss: "softmax" }).includes("tripletMargin"));
});
