/** The cluster index: k-means++ seeding, Lloyd iterations on every backend, impostor neighbours. */
import assert from "node:assert/strict";
import { buildClusterIndex, ClusterIndex } from "../../src/index/cluster_index.ts";
import { kmeansPlusPlus } from "../../src/index/kmeans.ts";
import { Random } from "../../src/util/random.ts";
import { gpuTestOptions, openBackends } from "../helpers/backends.ts";

/** Blobs: `perBlob` points around each centre, one class per listed blob class. */
function blobs(centres: number[][], classes: number[], perBlob: number, seed: number) {
  const rng = new Random(seed);
  const dim = centres[0].length;
  const points: number[] = [];
  const labels: number[] = [];
  const blob: number[] = [];
  centres.forEach((c, b) => {
    for (let i = 0; i < perBlob; i++) {
      points.push(...c.map((v) => v + rng.normal() * 0.1));
      labels.push(classes[b]);
      blob.push(b);
    }
  });
  return { points: Float32Array.from(points), labels: Int32Array.from(labels), blob, dim };
}

Deno.test("k-means++ seeding spreads its picks and handles duplicates", () => {
  // Two far groups: the second pick lands in the other group almost surely (D^2 weighting).
  const points = Float32Array.of(0, 0.1, 0.2, 100, 100.1);
  let across = 0;
  for (let s = 0; s < 50; s++) {
    const [a, b] = kmeansPlusPlus(points, 1, [0, 1, 2, 3, 4], 2, new Random(s));
    if ((a < 3) !== (b < 3)) across++;
  }
  assert.ok(across >= 49, `second pick in the other group ${across}/50 times`);
  // Identical points: it still returns k distinct rows.
  const same = kmeansPlusPlus(new Float32Array(6).fill(1), 1, [0, 1, 2, 3, 4, 5], 4, new Random(1));
  assert.equal(new Set(same).size, 4);
});

Deno.test("cluster index", gpuTestOptions, async (t) => {
  const backends = await openBackends();
  try {
    // Class 0: blobs at (0,0) and (10,0); class 1: blobs at (0,10) and (10,10); class 2: one blob.
    const data = blobs([[0, 0], [10, 0], [0, 10], [10, 10], [30, 30]], [0, 0, 1, 1, 2], 25, 4);
    for (const backend of backends) {
      await t.step(`${backend.kind}: K clusters per class recover the blobs`, async () => {
        const index = await buildClusterIndex(backend, data.points, 2, data.labels, {
          clustersPerClass: 2,
          seed: 3,
        });
        assert.equal(index.numClusters, 6); // 2 + 2 + 2 (class 2 has one blob but 25 points)
        // Every cluster holds one class, and each of the four two-blob classes' blobs is one cluster.
        for (let c = 0; c < index.numClusters; c++) {
          const members = [...index.members[c]];
          assert.ok(members.every((i) => data.labels[i] === index.clusterClass[c]));
          assert.ok(members.every((i) => index.assignment[i] === c));
        }
        for (const blob of [0, 1, 2, 3]) {
          const rows = data.blob.map((b, i) => (b === blob ? i : -1)).filter((i) => i >= 0);
          assert.equal(new Set(rows.map((i) => index.assignment[i])).size, 1, `blob ${blob}`);
        }
        // Far from the origin (embeddings drift) and with class ids that float32 would merge,
        // the blobs are still found (class 2's one blob may split anywhere).
        const big = 2 ** 24;
        const moved = await buildClusterIndex(
          backend,
          data.points.map((v, i) => v + (i % 2 === 0 ? 1e4 : -3e4)),
          2,
          data.labels.map((c) => big + c),
          { clustersPerClass: 2, seed: 3 },
        );
        assert.deepEqual([...moved.clusterClass], [...index.clusterClass].map((c) => big + c));
        for (const blob of [0, 1, 2, 3]) {
          const rows = data.blob.map((b, i) => (b === blob ? i : -1)).filter((i) => i >= 0);
          assert.deepEqual(
            rows.map((i) => moved.assignment[i]),
            rows.map((i) => index.assignment[i]),
            `moved blob ${blob}`,
          );
        }
        // Centres are the means of their members.
        for (let c = 0; c < index.numClusters; c++) {
          const m = index.members[c];
          for (let d = 0; d < 2; d++) {
            let s = 0;
            for (const i of m) s += data.points[i * 2 + d];
            assert.ok(Math.abs(index.centres[c * 2 + d] - s / m.length) < 1e-4);
          }
        }
      });
    }

    await t.step("K is clamped to the class size, and CPU runs are deterministic", async () => {
      const labels = Int32Array.of(0, 0, 0, 1, 1, 2);
      const points = Float32Array.of(0, 1, 2, 10, 11, 20);
      const a = await buildClusterIndex(backends[0], points, 1, labels, {
        clustersPerClass: 5,
        seed: 1,
      });
      assert.equal(a.numClusters, 6);
      const b = await buildClusterIndex(backends[0], data.points, 2, data.labels, {
        clustersPerClass: 3,
        seed: 9,
      });
      const c = await buildClusterIndex(backends[0], data.points, 2, data.labels, {
        clustersPerClass: 3,
        seed: 9,
      });
      assert.deepEqual(b.assignment, c.assignment);
      assert.deepEqual(b.centres, c.centres);
    });
  } finally {
    for (const b of backends) b.dispose();
  }
});

Deno.test("nearest impostors are the nearest clusters of other classes", () => {
  const index = new ClusterIndex(
    1,
    Float32Array.of(0, 1, 2, 5, 9),
    Int32Array.of(0, 0, 1, 1, 2),
    new Int32Array(0),
    [],
  );
  assert.deepEqual([...index.nearestImpostors(0, 3)], [2, 3, 4]);
  assert.deepEqual([...index.nearestImpostors(4, 2)], [3, 2]);
  assert.throws(
    () => index.nearestImpostors(0, 4),
    /needs 4 clusters of other classes, but the index has only 3/,
  );
});
