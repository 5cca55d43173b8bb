/** Neighbourhood sampling and class batches. */
import assert from "node:assert/strict";
import { drawExamples, NeighbourhoodSampler } from "../../src/sample/neighbourhood.ts";
import { ClassBatchSampler } from "../../src/sample/class_batches.ts";
import { ClusterIndex } from "../../src/index/cluster_index.ts";
import { Random } from "../../src/util/random.ts";

/** 4 clusters on a line (classes 0, 0, 1, 2), members 0-3, 4-5, 6-11, 12. */
function lineIndex(): ClusterIndex {
  const assignment = Int32Array.of(0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2, 3);
  const members = [0, 1, 2, 3].map((c) =>
    Int32Array.from([...assignment.keys()].filter((i) => assignment[i] === c))
  );
  return new ClusterIndex(
    1,
    Float32Array.of(0, 3, 1, 10),
    Int32Array.of(0, 0, 1, 2),
    assignment,
    members,
  );
}

Deno.test("drawExamples: without replacement, with replacement only when the cluster is small", () => {
  const rng = new Random(1);
  for (let t = 0; t < 20; t++) {
    const picked = drawExamples([5, 6, 7, 8, 9], 4, rng);
    assert.equal(new Set(picked).size, 4);
    assert.ok(picked.every((p) => p >= 5 && p <= 9));
  }
  const small = drawExamples([1, 2], 5, rng);
  assert.equal(small.length, 5);
  assert.ok(small.every((p) => p === 1 || p === 2));
});

Deno.test("neighbourhood sampler", async (t) => {
  await t.step("a batch is a seed cluster, its nearest impostors, D examples each", () => {
    const index = lineIndex();
    const sampler = new NeighbourhoodSampler(index, 3, 2, new Random(2));
    for (let trial = 0; trial < 30; trial++) {
      const b = sampler.sample();
      const [seed, ...impostors] = b.clusters;
      assert.deepEqual([...impostors], [...index.nearestImpostors(seed, 2)]);
      assert.equal(b.rows.length, 6);
      assert.deepEqual([...b.clusterOf], [0, 0, 1, 1, 2, 2]);
      b.rows.forEach((row, i) => assert.equal(index.assignment[row], b.clusters[b.clusterOf[i]]));
      assert.deepEqual([...b.clusterClasses], [...b.clusters].map((c) => index.clusterClass[c]));
    }
  });

  await t.step("seeds are drawn in proportion to recent mean loss", () => {
    const index = lineIndex();
    const sampler = new NeighbourhoodSampler(index, 2, 1, new Random(3));
    sampler.recordLosses([0, 1, 4, 6, 12], [1, 3, 0, 6, 2]); // cluster means: 2, 0, 6, 2
    assert.deepEqual([...sampler.clusterWeights()], [2, 0, 6, 2]);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 5000; i++) counts[sampler.sample().clusters[0]]++;
    assert.equal(counts[1], 0, "a cluster measured at loss 0 is never a seed");
    assert.ok(Math.abs(counts[2] / 5000 - 0.6) < 0.03, `cluster 2 drawn ${counts[2]} / 5000`);
    assert.ok(Math.abs(counts[0] / 5000 - 0.2) < 0.03, `cluster 0 drawn ${counts[0]} / 5000`);
  });

  await t.step("ablation kinds: a uniform seed, or M clusters uniformly at random", () => {
    const index = lineIndex();
    const uniform = new NeighbourhoodSampler(index, 2, 1, new Random(4), "uniform-seed");
    uniform.recordLosses([0, 1, 4, 6, 12], [1, 3, 0, 6, 2]); // weights 2, 0, 6, 2: ignored
    const seeds = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) {
      const b = uniform.sample();
      seeds[b.clusters[0]]++;
      assert.deepEqual([...b.clusters.slice(1)], [...index.nearestImpostors(b.clusters[0], 1)]);
    }
    seeds.forEach((n, c) => assert.ok(Math.abs(n / 4000 - 0.25) < 0.03, `seed ${c}: ${n}`));
    const random = new NeighbourhoodSampler(index, 3, 2, new Random(5), "random");
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const b = random.sample();
      assert.equal(new Set(b.clusters).size, 3, "M distinct clusters");
      b.rows.forEach((row, j) => assert.equal(index.assignment[row], b.clusters[b.clusterOf[j]]));
      seen.add([...b.clusters].sort().join());
    }
    // Every set of 3 of the 4 clusters occurs, including {0, 1, 2} whose 0 and 1 share a class.
    assert.equal(seen.size, 4);
  });

  await t.step("an unmeasured cluster gets the mean of the measured ones, never zero", () => {
    const sampler = new NeighbourhoodSampler(lineIndex(), 2, 1, new Random(4));
    assert.deepEqual([...sampler.clusterWeights()], [1, 1, 1, 1], "uniform before any measurement");
    sampler.recordLosses([0, 6], [4, 2]); // clusters 0 and 2 measured; 1 and 3 are not
    assert.deepEqual([...sampler.clusterWeights()], [4, 3, 2, 3]);
    // An example's newer loss replaces its older one in its cluster's mean.
    sampler.recordLosses([0, 1], [0, 1]);
    assert.deepEqual([...sampler.clusterWeights()], [0.5, 1.25, 2, 1.25]);
    // Zero losses are measurements: all-zero weights fall back to uniform draws, not a failure.
    sampler.recordLosses([0, 1, 4, 6, 12], [0, 0, 0, 0, 0]);
    for (const r of [7, 8, 9, 10, 11]) sampler.recordLosses([r], [0]);
    assert.ok(sampler.clusterWeights().every((w) => w === 0));
    const seeds = new Set(Array.from({ length: 200 }, () => sampler.sample().clusters[0]));
    assert.equal(seeds.size, 4);
  });

  await t.step("a refresh forgets every loss", () => {
    const index = lineIndex();
    const sampler = new NeighbourhoodSampler(index, 2, 1, new Random(5));
    sampler.recordLosses([0], [7]);
    sampler.reset(index);
    assert.deepEqual([...sampler.clusterWeights()], [1, 1, 1, 1]);
  });

  await t.step("bad M and D are named", () => {
    assert.throws(
      () => new NeighbourhoodSampler(lineIndex(), 1, 2, new Random(1)),
      /M \(clusters per batch\) must be an integer >= 2, got 1/,
    );
    assert.throws(
      () => new NeighbourhoodSampler(lineIndex(), 2, 0, new Random(1)),
      /D \(examples per cluster\) must be an integer >= 1, got 0/,
    );
    assert.throws(
      () => new NeighbourhoodSampler(lineIndex(), 5, 1, new Random(1)).sample(),
      /clusters of other classes/,
    );
  });
});

Deno.test("class batches: M groups of D examples of one class each", () => {
  const labels = Int32Array.of(0, 0, 0, 1, 1, 2, 2, 2, 2);
  const sampler = new ClassBatchSampler(labels, 4, 3, new Random(6));
  const seen = new Set<number>();
  for (let t = 0; t < 50; t++) {
    const b = sampler.sample();
    assert.equal(b.rows.length, 12);
    b.rows.forEach((row, i) => assert.equal(labels[row], b.clusterClasses[b.clusterOf[i]]));
    b.clusterClasses.forEach((c) => seen.add(c));
  }
  assert.deepEqual([...seen].sort(), [0, 1, 2]);
});
