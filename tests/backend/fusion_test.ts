/**
 * Elementwise fusion: random chains of elementwise ops (with broadcasting, scalars and transposes)
 * give the same values fused on WebGPU as unfused on the float64 CPU, and fusion really merges steps.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import * as ops from "../../src/graph/ops.ts";
import { sumAll } from "../../src/graph/functions.ts";
import { Graph, type Tensor } from "../../src/graph/tensor.ts";
import { makePlan } from "../../src/backend/plan.ts";
import { MAX_FUSED_INPUTS } from "../../src/backend/fusion.ts";
import { crossCheck, type GraphBuilder } from "../../src/check/gradcheck.ts";
import { Random } from "../../src/util/random.ts";
import { gpuTestOptions, openAllBackends } from "../helpers/backends.ts";

const UNARY = [ops.neg, ops.exp, ops.tanh, ops.sigmoid, ops.square, ops.abs, ops.relu];
const BINARY = [ops.add, ops.sub, ops.mul, ops.maximum, ops.minimum];

/** A random DAG of elementwise ops over inputs a [7,33], b [33], c [1] and t [33,7] (transposed). */
function randomChain(seed: number): GraphBuilder {
  return (x) => {
    const rng = new Random(seed);
    const pool: Tensor[] = [x.a, x.b, x.c, ops.transpose(x.t)];
    for (let i = 0; i < 12; i++) {
      const pick = () => pool[rng.int(pool.length)];
      const r = rng.next();
      let next: Tensor;
      if (r < 0.4) next = UNARY[rng.int(UNARY.length)](pick());
      else if (r < 0.9) next = BINARY[rng.int(BINARY.length)](pick(), pick());
      else next = ops.where(ops.greater(pick(), 0), pick(), pick());
      // Keep values tame so exp does not overflow after a few levels.
      pool.push(ops.tanh(next));
    }
    return ops.add(pool[pool.length - 1], ops.mul(pool[pool.length - 2], 0.5));
  };
}

Deno.test("elementwise fusion", gpuTestOptions, async (t) => {
  await t.step("a chain of elementwise ops becomes one step, within the binding limit", () => {
    const g = new Graph();
    const a = g.input("a", [64, 64]);
    const b = g.input("b", [64]);
    let y = a;
    for (let i = 0; i < 10; i++) y = ops.exp(ops.mul(ops.add(y, b), 0.1));
    const fused = makePlan({ outputs: [sumAll(y)] }, { fuse: true });
    const plain = makePlan({ outputs: [sumAll(y)] });
    assert.equal(plain.steps.length, 31);
    assert.equal(fused.steps.length, 2, "one fused elementwise step, one reduction");
    // Many distinct inputs: no group reads more than the limit.
    const wide = g.input("wide", [64, 64]);
    let z = wide;
    for (let i = 0; i < 12; i++) z = ops.add(z, g.input(`w${i}`, [64, 64]));
    const plan = makePlan({ outputs: [z] }, { fuse: true });
    for (const group of plan.groups!.values()) {
      const outside = new Set(group.flatMap((n) => n.inputs).filter((x) => !group.includes(x)));
      assert.ok(outside.size <= MAX_FUSED_INPUTS, `a group reads ${outside.size} tensors`);
    }
  });

  await t.step("values shared by two readers are stored, not fused", () => {
    const g = new Graph();
    const a = g.input("a", [8]);
    const shared = ops.exp(a);
    const plan = makePlan({ outputs: [ops.add(shared, 1), ops.mul(shared, 2)] }, { fuse: true });
    assert.equal(plan.steps.length, 3);
  });

  await t.step("reshapes read by one reader do not stop a chain from fusing", () => {
    const g = new Graph();
    const a = g.input("a", [6, 4]);
    const b = g.input("b", [4]);
    const chain = (shape: number[]) =>
      ops.relu(ops.reshape(ops.mul(ops.reshape(ops.tanh(a), [2, 3, 4]), b), shape));
    const y = chain([6, 4]);
    const plan = makePlan({ outputs: [y] }, { fuse: true });
    assert.equal(plan.steps.length, 1);
    assert.equal(plan.groups!.get(y.id)!.length, 3, "tanh, mul and relu in one kernel");
    // Flat, the output has no coordinate along which b repeats: mul keeps a kernel of its own.
    assert.equal(makePlan({ outputs: [chain([24])] }, { fuse: true }).steps.length, 2);
    // A reshape read twice is stored: both readers need its value.
    const shared = ops.reshape(ops.exp(a), [24]);
    const two = makePlan({ outputs: [ops.add(shared, 1), ops.mul(shared, 2)] }, { fuse: true });
    assert.equal(two.steps.length, 3);
  });

  const backends = await openAllBackends();
  try {
    for (const backend of backends) {
      await t.step(`a chain through reshapes on ${backend.description}`, async () => {
        const report = await crossCheck(
          backend,
          (x) =>
            ops.add(
              ops.reshape(
                ops.relu(ops.reshape(ops.mul(ops.reshape(ops.tanh(x.a), [2, 3, 4]), x.b), [6, 4])),
                [24],
              ),
              ops.relu(ops.reshape(ops.mul(ops.reshape(ops.exp(x.a), [2, 3, 4]), x.b), [24])),
            ),
          [
            { name: "a", shape: [6, 4], data: Array.from({ length: 24 }, (_, i) => i / 5 - 2) },
            { name: "b", shape: [4], data: [1, -2, 0.5, 3] },
          ],
          { rtol: 2e-5 },
        );
        assert.ok(report.ok, JSON.stringify(report.comparisons));
      });
    }
    for (const backend of backends) {
      await t.step(
        `random fused chains on ${backend.description} match float64 CPU, values and gradients`,
        async () => {
          await fc.assert(
            fc.asyncProperty(fc.integer({ min: 1, max: 1 << 30 }), async (seed) => {
              const rng = new Random(seed + 1);
              const data = (n: number) => Array.from({ length: n }, () => rng.normal());
              const report = await crossCheck(backend, randomChain(seed), [
                { name: "a", shape: [7, 33], data: data(231) },
                { name: "b", shape: [33], data: data(33) },
                { name: "c", shape: [1], data: data(1) },
                { name: "t", shape: [33, 7], data: data(231) },
              ], { rtol: 1e-4 });
              assert.ok(report.ok, JSON.stringify(report.comparisons));
            }),
            { numRuns: 25, seed: 3 },
          );
        },
      );
    }
  } finally {
    for (const b of backends) b.dispose();
  }
});
