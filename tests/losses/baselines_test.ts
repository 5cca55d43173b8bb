/**
 * The triplet (batch all, semi-hard) and softmax baselines: against plain-loop float64 references,
 * finite differences, and across backends.
 */
import assert from "node:assert/strict";
import { tripletLoss, type TripletMining } from "../../src/losses/triplet.ts";
import { softmaxLoss } from "../../src/losses/softmax.ts";
import {
  assertGradcheck,
  type CheckInput,
  crossCheck,
  type GraphBuilder,
} from "../../src/check/gradcheck.ts";
import { Graph } from "../../src/graph/tensor.ts";
import { Random } from "../../src/util/random.ts";
import { assertClose, gpuTestOptions, openBackends } from "../helpers/backends.ts";

function distance(x: number[], dim: number, i: number, j: number): number {
  let s = 0;
  for (let d = 0; d < dim; d++) s += (x[i * dim + d] - x[j * dim + d]) ** 2;
  return Math.sqrt(s);
}

/** Batch-all and semi-hard triplet losses with plain loops, in float64. */
function referenceTriplet(
  x: number[],
  dim: number,
  cls: number[],
  margin: number,
  mining: TripletMining,
) {
  const n = cls.length;
  let total = 0, count = 0;
  for (let a = 0; a < n; a++) {
    for (let p = 0; p < n; p++) {
      if (p === a || cls[p] !== cls[a]) continue;
      const dap = distance(x, dim, a, p);
      const negatives = [...Array(n).keys()].filter((k) => cls[k] !== cls[a]).map((k) =>
        distance(x, dim, a, k)
      );
      if (negatives.length === 0) continue; // no negative: no triplet
      if (mining === "all") {
        for (const dan of negatives) {
          const l = Math.max(0, dap - dan + margin);
          if (l > 0) {
            total += l;
            count++;
          }
        }
      } else {
        const farther = negatives.filter((d) => d > dap);
        const dan = farther.length > 0 ? Math.min(...farther) : Math.max(...negatives);
        total += Math.max(0, dap - dan + margin);
        count++;
      }
    }
  }
  return count === 0 ? 0 : total / count;
}

function referenceSoftmax(x: number[], dim: number, cls: number[], w: number[], b: number[]) {
  const n = cls.length, c = b.length;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const logits = Array.from({ length: c }, (_, k) => {
      let s = b[k];
      for (let d = 0; d < dim; d++) s += x[i * dim + d] * w[d * c + k];
      return s;
    });
    const top = Math.max(...logits);
    const lse = top + Math.log(logits.reduce((s, v) => s + Math.exp(v - top), 0));
    total += lse - logits[cls[i]];
  }
  return total / n;
}

function tripletCase(seed: number, n: number, dim: number, classes: number) {
  const rng = new Random(seed);
  const x = Array.from({ length: n * dim }, () => rng.normal() * 0.6);
  const cls = Array.from({ length: n }, (_, i) => i % classes);
  const inputs: CheckInput[] = [
    { name: "x", shape: [n, dim], data: x },
    { name: "cls", shape: [n], data: cls, differentiable: false },
  ];
  return { x, cls, inputs };
}

Deno.test("baseline losses", gpuTestOptions, async (t) => {
  const backends = await openBackends();
  try {
    for (const mining of ["all", "semihard"] as const) {
      const build: GraphBuilder = (i) => tripletLoss(i.x, i.cls, { margin: 0.5, mining }).loss;
      for (const backend of backends) {
        await t.step(`triplet (${mining}) on ${backend.kind} against the reference`, async () => {
          for (const [seed, n, dim, classes] of [[1, 6, 2, 2], [2, 12, 7, 3], [3, 24, 16, 4]]) {
            const c = tripletCase(seed, n, dim, classes);
            const g = new Graph();
            const loss = build({ x: g.input("x", [n, dim]), cls: g.input("cls", [n]) });
            const [value] = await backend.run([loss], { x: c.x, cls: c.cls });
            assertClose(value, [referenceTriplet(c.x, dim, c.cls, 0.5, mining)], 1e-4, `n=${n}`);
          }
        });
        await t.step(`triplet (${mining}) on ${backend.kind} matches float64 CPU`, async () => {
          const report = await crossCheck(backend, build, tripletCase(4, 16, 8, 4).inputs);
          assert.ok(report.ok, JSON.stringify(report.comparisons));
        });
      }
      await t.step(`triplet (${mining}) gradient against finite differences`, async () => {
        for (const seed of [5, 6]) {
          await assertGradcheck(build, tripletCase(seed, 10, 4, 3).inputs, { rtol: 1e-5 });
        }
      });
    }

    await t.step(
      "batch-all triplet loss is 0 when every margin holds",
      async () => {
        const g = new Graph();
        const x = g.input("x", [4, 1]);
        const cls = g.input("cls", [4]);
        const { loss, activeFraction } = tripletLoss(x, cls, { margin: 0.5 });
        const [l, f] = await backends[0].run([loss, activeFraction], {
          x: [0, 0.1, 10, 10.1],
          cls: [0, 0, 1, 1],
        });
        assert.equal(l[0], 0);
        assert.equal(f[0], 0);
      },
    );

    for (const backend of backends) {
      await t.step(`a batch of one class has no triplet on ${backend.kind}`, async () => {
        for (const mining of ["all", "semihard"] as const) {
          const g = new Graph();
          const x = g.input("x", [4, 2]);
          const cls = g.input("cls", [4]);
          const { loss, activeFraction, count } = tripletLoss(x, cls, { margin: 0.2, mining });
          const [l, f, c] = await backend.run([loss, activeFraction, count], {
            x: [0, 0, 1, 0, 0, 3, 2, 2],
            cls: [5, 5, 5, 5],
          });
          assert.deepEqual([l[0], f[0], c[0]], [0, 0, 0], `${mining}: ${l[0]}, ${f[0]}, ${c[0]}`);
          // One anchor class with negatives, one without: only the former counts.
          const [l2, , c2] = await backend.run([loss, activeFraction, count], {
            x: [0, 0, 1, 0, 0, 3, 2, 2],
            cls: [5, 5, 5, 6],
          });
          const expected = referenceTriplet([0, 0, 1, 0, 0, 3, 2, 2], 2, [5, 5, 5, 6], 0.2, mining);
          assertClose(l2, [expected], 1e-5, mining);
          // 6 anchor-positive pairs in class 5, each with the one negative: 6 pairs, 6 triplets.
          assert.equal(c2[0], 6);
        }
      });
    }

    const softmaxBuild: GraphBuilder = (i) => softmaxLoss(i.x, i.cls, i.w, i.b).loss;
    const softmaxCase = (seed: number, n: number, dim: number, c: number) => {
      const rng = new Random(seed);
      const x = Array.from({ length: n * dim }, () => rng.normal());
      const cls = Array.from({ length: n }, () => rng.int(c));
      const w = Array.from({ length: dim * c }, () => rng.normal() * 0.5);
      const b = Array.from({ length: c }, () => rng.normal() * 0.1);
      const inputs: CheckInput[] = [
        { name: "x", shape: [n, dim], data: x },
        { name: "cls", shape: [n], data: cls, differentiable: false },
        { name: "w", shape: [dim, c], data: w },
        { name: "b", shape: [c], data: b },
      ];
      return { x, cls, w, b, inputs };
    };
    for (const backend of backends) {
      await t.step(`softmax on ${backend.kind} against the reference and float64 CPU`, async () => {
        const c = softmaxCase(1, 12, 7, 5);
        const g = new Graph();
        const loss = softmaxBuild({
          x: g.input("x", [12, 7]),
          cls: g.input("cls", [12]),
          w: g.input("w", [7, 5]),
          b: g.input("b", [5]),
        });
        const [value] = await backend.run([loss], { x: c.x, cls: c.cls, w: c.w, b: c.b });
        assertClose(value, [referenceSoftmax(c.x, 7, c.cls, c.w, c.b)], 1e-5);
        const report = await crossCheck(backend, softmaxBuild, softmaxCase(2, 33, 16, 10).inputs);
        assert.ok(report.ok, JSON.stringify(report.comparisons));
      });
    }
    await t.step("softmax gradient against finite differences", async () => {
      await assertGradcheck(softmaxBuild, softmaxCase(3, 9, 5, 4).inputs);
    });
  } finally {
    for (const b of backends) b.dispose();
  }
});
