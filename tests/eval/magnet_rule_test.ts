/** The magnet rule: soft votes of the nearest centres, by hand and end to end. */
import assert from "node:assert/strict";
import { magnetClassify, magnetVote, magnetVotes } from "../../src/eval/magnet_rule.ts";
import { classifyWithVotes } from "../../src/eval/classifier.ts";
import { createBackend } from "../../src/backend/create.ts";
import { ClusterIndex } from "../../src/index/cluster_index.ts";
import { gpuTestOptions, openBackends } from "../helpers/backends.ts";

Deno.test("magnet vote by hand", () => {
  // One query; centres at squared distances 1 (class 0), 2 and 2.2 (class 1); s2 = 0.5 so each vote
  // is exp(-d). Class 0: e^-1 = 0.368; class 1: e^-2 + e^-2.2 = 0.135 + 0.111 = 0.246: class 0 wins.
  const neighbours = {
    k: 3,
    indices: new Int32Array([0, 1, 2]),
    distances: new Float32Array([1, 2, 2.2]),
  };
  const classes = new Int32Array([0, 1, 1]);
  assert.deepEqual([...magnetVote(neighbours, classes, 0.5)], [0]);
  // With a large variance the votes flatten and the two class-1 centres outvote the nearer one.
  assert.deepEqual([...magnetVote(neighbours, classes, 100)], [1]);
  // Only the L nearest vote: with L = 1 the nearest centre decides.
  assert.deepEqual([
    ...magnetVote(
      { ...neighbours, k: 1, indices: Int32Array.of(0), distances: Float32Array.of(1) },
      classes,
      100,
    ),
  ], [0]);
  assert.throws(() => magnetVote(neighbours, classes, 0), /positive finite variance/);
});

Deno.test("the winner's share of the vote, by hand", async () => {
  const neighbours = {
    k: 3,
    indices: new Int32Array([0, 1, 2, 2, 1, 0]),
    distances: new Float32Array([1, 2, 2.2, 0, 0.5, 4]),
  };
  const classes = new Int32Array([0, 1, 1]);
  const { predicted, share } = magnetVotes(neighbours, classes, 0.5);
  assert.deepEqual([...predicted], [0, 1]);
  const [a, b, c] = [1, 2, 2.2].map((d) => Math.exp(-d));
  assert.ok(Math.abs(share[0] - a / (a + b + c)) < 1e-6);
  // Second query: class 1 holds the two nearer centres (d = 0, 0.5), class 0 the far one (d = 4).
  const [d, e, f] = [0, 0.5, 4].map((x) => Math.exp(-x));
  assert.ok(Math.abs(share[1] - (d + e) / (d + e + f)) < 1e-6);
  // The same classes as magnetVote; one class only: a share of 1.
  assert.deepEqual([...magnetVote(neighbours, classes, 0.5)], [...predicted]);
  assert.deepEqual([...magnetVotes(neighbours, new Int32Array(3), 0.5).share], [1, 1]);
  // k-NN classifiers share their k votes.
  const backend = await createBackend({ kind: "cpu" });
  try {
    const knn = await classifyWithVotes(
      backend,
      {
        kind: "knn",
        references: Float32Array.of(0, 1, 2, 10),
        referenceLabels: Int32Array.of(3, 3, 4, 4),
        k: 3,
      },
      Float32Array.of(0.4, 9),
      1,
    );
    assert.deepEqual([...knn.predicted], [3, 4]);
    assert.deepEqual([...knn.share].map((x) => x.toFixed(3)), ["0.667", "0.667"]);
  } finally {
    backend.dispose();
  }
});

Deno.test("magnetClassify on every backend", gpuTestOptions, async (t) => {
  const backends = await openBackends();
  try {
    // Centres on a line: class 0 at 0 and 1, class 1 at 10 and 11, class 2 at 20.
    const index = new ClusterIndex(
      1,
      Float32Array.of(0, 1, 10, 11, 20),
      Int32Array.of(0, 0, 1, 1, 2),
      new Int32Array(0),
      [],
    );
    for (const backend of backends) {
      await t.step(backend.kind, async () => {
        const predicted = await magnetClassify(
          backend,
          Float32Array.of(-3, 0.6, 9, 10.8, 16, 30),
          index,
          1,
          2,
        );
        assert.deepEqual([...predicted], [0, 0, 1, 1, 2, 2]);
      });
    }
  } finally {
    for (const b of backends) b.dispose();
  }
});
