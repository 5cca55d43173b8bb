/** The magnet rule: soft votes of the nearest centres, by hand and end to end. */
import assert from "node:assert/strict";
import { magnetClassify, magnetVote } from "../../src/eval/magnet_rule.ts";
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
