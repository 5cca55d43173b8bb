/** The MLP: forward by hand, gradients, initialisation statistics and seeding. */
import assert from "node:assert/strict";
import { createMlp, Mlp } from "../../src/nn/mlp.ts";
import { Graph, Variable } from "../../src/graph/tensor.ts";
import { assertGradcheck } from "../../src/check/gradcheck.ts";
import { sumAll } from "../../src/graph/functions.ts";
import { square } from "../../src/graph/ops.ts";
import { assertClose, gpuTestOptions, openBackends } from "../helpers/backends.ts";

Deno.test("mlp", gpuTestOptions, async (t) => {
  const backends = await openBackends();
  try {
    // 2 -> 2 -> 1 with ReLU between: h = relu(x W0 + b0), y = h W1 + b1.
    const model = new Mlp(
      [2, 2, 1],
      [new Variable("w0", [2, 2], [1, -1, 2, 1]), new Variable("w1", [2, 1], [3, -2])],
      [new Variable("b0", [2], [0.5, 0]), new Variable("b1", [1], [1])],
    );
    for (const backend of backends) {
      await t.step(`${backend.kind}: forward by hand`, async () => {
        const g = new Graph();
        const x = g.input("x", [2, 2]);
        const [y] = await backend.run([model.forward(x)], { x: [1, 1, -1, 0] });
        // Row [1, 1]: pre = [1 + 2 + 0.5, -1 + 1] = [3.5, 0] -> y = 3 * 3.5 + 1 = 11.5
        // Row [-1, 0]: pre = [-1 + 0.5, 1] = [-0.5, 1] -> relu [0, 1] -> y = -2 + 1 = -1
        assertClose(y, [11.5, -1]);
      });
    }

    await t.step("gradients of every parameter against finite differences", async () => {
      const net = createMlp({ sizes: [5, 7, 3], seed: 3 });
      const inputs = [
        { name: "x", shape: [4, 5], data: Array.from({ length: 20 }, (_, i) => Math.sin(i + 1)) },
        ...net.parameters.map((p, i) => ({ name: `p${i}`, shape: p.shape, data: p.initial })),
      ];
      // Biases start at 0, where ReLU kinks could sit: shift them off zero.
      inputs[2].data = Float32Array.from({ length: 7 }, (_, i) => 0.1 * (i - 3) + 0.05);
      await assertGradcheck(
        (v) => sumAll(square(net.apply(v.x, [v.p0, v.p1, v.p2, v.p3]))),
        inputs,
      );
    });

    await t.step(
      "He initialisation has variance 2 / fan-in, zero biases, and is seeded",
      () => {
        const a = createMlp({ sizes: [400, 300, 10], seed: 7 });
        const b = createMlp({ sizes: [400, 300, 10], seed: 7 });
        const c = createMlp({ sizes: [400, 300, 10], seed: 8 });
        const w = a.weights[0].initial;
        const variance = w.reduce((s, v) => s + v * v, 0) / w.length;
        assert.ok(Math.abs(variance / (2 / 400) - 1) < 0.02, `variance ${variance}`);
        assert.deepEqual(a.weights[1].initial, b.weights[1].initial);
        assert.notDeepEqual(a.weights[1].initial, c.weights[1].initial);
        assert.ok(a.biases.every((bias) => bias.initial.every((v) => v === 0)));
        assert.throws(() => createMlp({ sizes: [3] }), /at least two positive integers/);
      },
    );
  } finally {
    for (const b of backends) b.dispose();
  }
});
