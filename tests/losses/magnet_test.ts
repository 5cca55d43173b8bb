/**
 * The magnet loss against a case worked by hand, an independent float64 reference written with plain
 * loops, float64 finite differences, and across backends; scale invariance; single-row clusters;
 * hinge-inactive batches; and every bad batch.
 */
import assert from "node:assert/strict";
import { computeMagnetLoss, type MagnetBatch } from "../../src/losses/magnet_batch.ts";
import { magnetLoss } from "../../src/losses/magnet.ts";
import {
  assertGradcheck,
  type CheckInput,
  crossCheck,
  type GraphBuilder,
} from "../../src/check/gradcheck.ts";
import { MagnetInputError } from "../../src/errors.ts";
import type { Backend } from "../../src/backend/backend.ts";
import { Graph } from "../../src/graph/tensor.ts";
import { Random } from "../../src/util/random.ts";
import { assertClose, gpuTestOptions, openAllBackends } from "../helpers/backends.ts";

/** Paper eq. 5 in float64 with plain loops: the independent reference. */
function referenceMagnet(
  b: MagnetBatch,
  squaredForm = false,
): { loss: number; losses: number[]; variance: number } {
  const n = b.clusters.length, dim = b.dim, alpha = b.alpha ?? 1;
  const ids = [...new Set(b.clusters)];
  const means = ids.map((id) => {
    const rows = [...b.clusters.keys()].filter((i) => b.clusters[i] === id);
    return Array.from(
      { length: dim },
      (_, d) => rows.reduce((s, i) => s + b.embeddings[i * dim + d], 0) / rows.length,
    );
  });
  const classOf = ids.map((id) => b.classes[b.clusters.indexOf(id)]);
  const dist = (i: number, m: number) =>
    means[m].reduce((s, v, d) => s + (b.embeddings[i * dim + d] - v) ** 2, 0);
  const own = (i: number) => dist(i, ids.indexOf(b.clusters[i]));
  let total = 0;
  for (let i = 0; i < n; i++) total += own(i);
  const variance = total / (n - 1);
  // The paper divides by 2 s2; the widely copied ports by 2 s2^2.
  const denominator = squaredForm ? 2 * variance ** 2 : 2 * variance;
  const losses = Array.from({ length: n }, (_, i) => {
    const terms = ids.map((_, m) => m).filter((m) => classOf[m] !== b.classes[i])
      .map((m) => -dist(i, m) / denominator);
    const top = Math.max(...terms);
    const lse = top + Math.log(terms.reduce((s, t) => s + Math.exp(t - top), 0));
    return Math.max(0, own(i) / denominator + alpha + lse);
  });
  return { loss: losses.reduce((s, l) => s + l, 0) / n, losses, variance };
}

/** A random batch: clusters of random sizes (some single-row), shuffled rows, arbitrary ids. */
function randomBatch(rng: Random, dim: number, clusters: number, spread = 1): MagnetBatch {
  const rows: { cluster: number; cls: number; values: number[] }[] = [];
  for (let c = 0; c < clusters; c++) {
    const id = 1000 - 37 * c; // arbitrary, unsorted, negative ones too
    const cls = c % 3;
    const size = c === 0 ? 1 : 1 + rng.int(4);
    const centre = Array.from({ length: dim }, () => rng.normal() * spread);
    for (let k = 0; k < size; k++) {
      rows.push({ cluster: id, cls, values: centre.map((v) => v + rng.normal()) });
    }
  }
  rng.shuffle(rows);
  return {
    embeddings: Float32Array.from(rows.flatMap((r) => r.values)),
    dim,
    clusters: Int32Array.from(rows.map((r) => r.cluster)),
    classes: Int32Array.from(rows.map((r) => r.cls)),
    alpha: 1,
  };
}

/** The graph-level loss as a gradcheck builder over one batch's layout. */
function graphChecked(
  b: MagnetBatch,
  varianceForm: "paper" | "squared" = "paper",
): { build: GraphBuilder; inputs: CheckInput[] } {
  const ids = [...new Set(b.clusters)];
  const n = b.clusters.length;
  const inputs: CheckInput[] = [
    { name: "embeddings", shape: [n, b.dim], data: Float64Array.from(b.embeddings) },
    { name: "clusterOf", shape: [n], dtype: "int32", data: b.clusters.map((c) => ids.indexOf(c)) },
    {
      name: "clusterClasses",
      shape: [ids.length],
      data: ids.map((id) => b.classes[b.clusters.indexOf(id)]),
      differentiable: false,
    },
  ];
  const build: GraphBuilder = (x) =>
    magnetLoss({
      embeddings: x.embeddings,
      clusterOf: x.clusterOf,
      clusterClasses: x.clusterClasses,
      numClusters: ids.length,
      alpha: b.alpha ?? 1,
      varianceForm,
    }).losses;
  return { build, inputs };
}

/** Runs a gradcheck builder's graph on `backend` with the inputs' values. */
function runBuilt(backend: Backend, build: GraphBuilder, inputs: CheckInput[]) {
  const g = new Graph();
  const tensors = Object.fromEntries(
    inputs.map((i) => [i.name, g.input(i.name, i.shape, i.dtype ?? "float")]),
  );
  return backend.run([build(tensors)], Object.fromEntries(inputs.map((i) => [i.name, i.data])));
}

Deno.test("magnet loss", gpuTestOptions, async (t) => {
  const backends = await openAllBackends();
  try {
    // Worked by hand (dim 1): A = {0, 2} (class 0, mean 1), B = {1, 5} (class 1, mean 3).
    // Own distances 1, 1, 4, 4, so s2 = 10/3 and 2 s2 = 20/3. Per row:
    //   r=0: 0.15 + 1 - 9(0.15) = -0.2 -> 0;   r=2: 0.15 + 1 - 0.15 = 1
    //   r=1: 0.6 + 1 - 0 = 1.6;                r=5: 0.6 + 1 - 16(0.15) = -0.8 -> 0
    const hand: MagnetBatch = {
      embeddings: new Float32Array([0, 2, 1, 5]),
      dim: 1,
      clusters: new Int32Array([7, 7, 3, 3]),
      classes: new Int32Array([0, 0, 1, 1]),
    };
    for (const backend of backends) {
      await t.step(`${backend.description}: the case worked by hand`, async () => {
        const r = await computeMagnetLoss(backend, hand);
        assertClose([r.loss], [0.65]);
        assertClose(r.losses, [0, 1, 1.6, 0]);
        assertClose([r.variance], [10 / 3]);
        assert.equal(r.gradient.length, 4);
      });

      await t.step(
        `${backend.description}: random batches against the float64 reference`,
        async () => {
          const rng = new Random(5);
          for (const [dim, clusters] of [[1, 3], [7, 5], [33, 12], [64, 8]]) {
            const b = randomBatch(rng, dim, clusters);
            const expected = referenceMagnet(b);
            const r = await computeMagnetLoss(backend, b);
            assertClose([r.loss], [expected.loss], 1e-4, `loss dim ${dim}`);
            assertClose(r.losses, expected.losses, 1e-4, `losses dim ${dim}`);
            assertClose([r.variance], [expected.variance], 1e-5, `variance dim ${dim}`);
          }
        },
      );

      await t.step(
        `${backend.description}: the same batch scaled by 1e-3 or 1e3 has the same loss`,
        async () => {
          const b = randomBatch(new Random(9), 16, 6, 0.5);
          const base = await computeMagnetLoss(backend, b);
          assert.ok(base.loss > 0.1, `a batch with an active hinge (loss ${base.loss})`);
          for (const scale of [1e-3, 1e3]) {
            const scaled = await computeMagnetLoss(backend, {
              ...b,
              embeddings: b.embeddings.map((v) => v * scale),
            });
            assertClose([scaled.loss], [base.loss], 1e-4, `loss at scale ${scale}`);
            assertClose(scaled.losses, base.losses, 1e-4, `losses at scale ${scale}`);
            // The gradient scales by 1 / scale.
            assertClose(
              scaled.gradient.map((g) => g * scale),
              base.gradient,
              1e-3,
              `gradient at scale ${scale}`,
            );
          }
        },
      );

      await t.step(
        `${backend.description}: an offset of 1e3, 1e4 or -1e5 changes nothing beyond float32 rounding`,
        async () => {
          // The shifted rows are rounded to float32 first; the float64 reference sees the same rows,
          // so any difference is the loss's own error (it was 8 % at 1e3 through |a|^2 + |b|^2 -
          // 2ab).
          const b = randomBatch(new Random(9), 16, 6, 0.5);
          const base = await computeMagnetLoss(backend, b);
          for (const offset of [1e3, 1e4, -1e5]) {
            // The same vector added to every row: a different offset in each column.
            const shift = (i: number) => offset * (1 + ((i % b.dim) % 3));
            const shifted = { ...b, embeddings: b.embeddings.map((v, i) => v + shift(i)) };
            const expected = referenceMagnet(shifted);
            const r = await computeMagnetLoss(backend, shifted);
            assertClose([r.loss], [expected.loss], 1e-4, `loss at offset ${offset}`);
            assertClose(r.losses, expected.losses, 1e-4, `losses at offset ${offset}`);
            assertClose([r.variance], [expected.variance], 1e-4, `variance at offset ${offset}`);
            if (Math.abs(offset) <= 1e3) {
              // Small enough that float32 keeps the rows: then the loss itself is unchanged.
              assertClose([r.loss], [base.loss], 1e-3, `loss at offset ${offset} against none`);
            }
          }
        },
      );

      await t.step(
        `${backend.description}: embeddings near 1e20 or 1e-20 give the loss of the unscaled batch`,
        async () => {
          const b = randomBatch(new Random(9), 16, 6, 0.5);
          const base = await computeMagnetLoss(backend, b);
          for (const scale of [1e20, 1e-20]) {
            const r = await computeMagnetLoss(backend, {
              ...b,
              embeddings: b.embeddings.map((v) => v * scale),
            });
            assertClose([r.loss], [base.loss], 1e-4, `loss at scale ${scale}`);
            assertClose(r.losses, base.losses, 1e-4, `losses at scale ${scale}`);
            assertClose([r.variance / (scale * scale)], [base.variance], 1e-4, `variance ${scale}`);
            assert.ok(r.gradient.every(Number.isFinite), `finite gradient at scale ${scale}`);
          }
        },
      );

      await t.step(`${backend.description}: class ids above 2^24 stay apart`, async () => {
        // As float32, 2^24 and 2^24 + 1 are the same number: the two classes must not merge.
        const big = 2 ** 24;
        const r = await computeMagnetLoss(backend, {
          ...hand,
          classes: new Int32Array([big, big, big + 1, big + 1]),
        });
        assertClose(r.losses, [0, 1, 1.6, 0]);
      });

      await t.step(
        `${backend.description}: far-apart clusters give exactly zero loss and gradient`,
        async () => {
          const b = randomBatch(new Random(3), 8, 6, 1000);
          const r = await computeMagnetLoss(backend, b);
          assert.equal(r.loss, 0);
          assert.ok(r.losses.every((l) => l === 0));
          assert.ok(r.gradient.every((g) => g === 0), "every gradient entry is exactly 0");
        },
      );

      await t.step(`${backend.description}: the graph matches float64 CPU`, async () => {
        for (const seed of [1, 2, 3]) {
          const { build, inputs } = graphChecked(randomBatch(new Random(seed), 12, 9));
          const report = await crossCheck(backend, build, inputs, { rtol: 1e-4 });
          assert.ok(report.ok, JSON.stringify(report.comparisons));
        }
      });
    }

    await t.step("gradient (through the means and s2) against finite differences", async () => {
      for (const seed of [1, 2, 3, 4]) {
        const { build, inputs } = graphChecked(randomBatch(new Random(seed), 5, 7, 0.7));
        await assertGradcheck(build, inputs, { rtol: 1e-5 });
      }
    });

    await t.step("the squared form (ablation only): 2 s2^2, its gradient, its scale", async () => {
      for (const seed of [1, 2]) {
        const b = randomBatch(new Random(seed), 5, 7, 0.7);
        const { build, inputs } = graphChecked(b, "squared");
        await assertGradcheck(build, inputs, { rtol: 1e-5 });
        const [losses] = await runBuilt(backends[0], build, inputs);
        assertClose(losses, referenceMagnet(b, true).losses, 1e-4);
      }
      // Unlike the paper's form, it changes when the embeddings are scaled.
      const b = randomBatch(new Random(5), 4, 6);
      const doubled = { ...b, embeddings: b.embeddings.map((v) => v * 2) };
      assert.notEqual(referenceMagnet(doubled, true).loss, referenceMagnet(b, true).loss);
      const { build, inputs } = graphChecked(doubled, "squared");
      const [losses] = await runBuilt(backends[0], build, inputs);
      assertClose(losses, referenceMagnet(doubled, true).losses, 1e-4);
    });

    await t.step("computeMagnetLoss's gradient is d mean(l) / d embeddings", async () => {
      // Central differences of the typed entry point itself, on the float64-free path (float32).
      const b = randomBatch(new Random(12), 3, 5, 0.5);
      const r = await computeMagnetLoss(backends[0], b);
      const eps = 1e-2;
      for (const i of [0, 4, 7]) {
        const plus = b.embeddings.slice(), minus = b.embeddings.slice();
        plus[i] += eps;
        minus[i] -= eps;
        const lp = referenceMagnet({ ...b, embeddings: plus }).loss;
        const lm = referenceMagnet({ ...b, embeddings: minus }).loss;
        assertClose([r.gradient[i]], [(lp - lm) / (2 * eps)], 2e-3, `gradient[${i}]`);
      }
    });

    await t.step("bad batches are named errors, not NaN", async () => {
      const cpu = backends[0];
      const ok = hand;
      const cases: [Partial<MagnetBatch>, RegExp][] = [
        [{ classes: new Int32Array([0, 0, 0, 0]) }, /at least two classes/],
        [
          { classes: new Int32Array([0, 1, 1, 1]) },
          /cluster 7 mixes classes: row 0 has class 0, row 1 has class 1/,
        ],
        [{ embeddings: new Float32Array([0, 2, 1]) }, /clusters has 4 entries for 3 rows/],
        [{ dim: 3 }, /4 values, not a multiple of dim = 3/],
        [{ dim: 0 }, /dim must be a positive integer, got 0/],
        [{
          embeddings: new Float32Array([1]),
          clusters: new Int32Array([0]),
          classes: new Int32Array([0]),
        }, /at least 2 rows, got 1/],
        [{ embeddings: new Float32Array([0, NaN, 1, 5]) }, /row 1, column 0 is NaN/],
        [{ embeddings: new Float32Array([0, 2, Infinity, 5]) }, /row 2, column 0 is Infinity/],
        [{ clusters: new Int32Array([0, 1, 2, 3]) }, /no within-cluster variance/],
        [{ alpha: 1e39 }, /alpha = 1e\+39 is too large/],
        [{ alpha: NaN }, /alpha must be a finite number, got NaN/],
        [
          { embeddings: new Float64Array([0, 1e300, 1, 5]) as unknown as Float32Array },
          /row 1, column 0 is 1e\+300, beyond the float32 range/,
        ],
      ];
      for (const [change, message] of cases) {
        await assert.rejects(
          computeMagnetLoss(cpu, { ...ok, ...change }),
          (e: Error) => e instanceof MagnetInputError && message.test(e.message),
          `expected ${message}`,
        );
      }
    });
  } finally {
    for (const b of backends) b.dispose();
  }
});
