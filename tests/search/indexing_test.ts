/**
 * Indexing with a model against the real engine: rows are embedded as `embed` embeds them, a run
 * stopped between commits leaves whole batches and a second run adds exactly the rest, a grown
 * source adds only its new rows, the index is built past its threshold, and search puts the model's
 * own rule on top. And the model identity a table checks.
 */
import assert from "node:assert/strict";
import { createBackend } from "../../src/backend/create.ts";
import type { Backend } from "../../src/backend/backend.ts";
import { classifyWithVotes } from "../../src/eval/classifier.ts";
import { magnetVote } from "../../src/eval/magnet_rule.ts";
import { nearestNeighbours } from "../../src/eval/neighbours.ts";
import { createModel } from "../../src/nn/models.ts";
import { indexRows, maintainTable } from "../../src/search/indexing.ts";
import { describeModel, modelIdentity } from "../../src/search/model_identity.ts";
import { openEmbeddingTable, searchRows } from "../../src/search/search.ts";
import { loadModel, saveModel } from "../../src/train/model_file.ts";
import { classify, type SavedModel } from "../../src/train/saved_model.ts";
import { Random } from "../../src/util/random.ts";

/** A small MLP with a magnet classifier over four centres of two classes. */
function model(seed: number): SavedModel {
  const random = new Random(seed);
  return {
    model: createModel({ kind: "mlp", sizes: [6, 12, 4] }, seed),
    loss: "magnet",
    classNames: ["left", "right"],
    featureNames: null,
    standardization: null,
    classifier: {
      kind: "magnet",
      centres: Float32Array.from({ length: 16 }, () => random.normal()),
      centreClasses: Int32Array.from([0, 1, 0, 1]),
      variance: 0.5,
      votingClusters: 128,
    },
  };
}

function features(rows: number, seed: number): Float32Array {
  const random = new Random(seed);
  return Float32Array.from({ length: rows * 6 }, () => random.normal());
}

async function withBackend(body: (backend: Backend, dir: string) => Promise<void>) {
  const backend = await createBackend({ kind: "cpu" });
  const dir = await Deno.makeTempDir({ prefix: "magnet-indexing-" });
  try {
    await body(backend, dir);
  } finally {
    backend.dispose();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a stopped run leaves whole batches and the next adds exactly the rest", async () => {
  await withBackend(async (backend, dir) => {
    const saved = model(1);
    const rows = features(250, 2);
    const labels = Array.from({ length: 250 }, (_, i) => (i % 3 === 0 ? "left" : "right"));
    const table = await openEmbeddingTable(backend, saved, dir, { create: true });
    const stop = new AbortController();
    const first = await indexRows(backend, saved, table, { features: rows, labels, source: "s" }, {
      batchRows: 40,
      signal: stop.signal,
      onProgress: (p) => {
        if (p.added >= 80) stop.abort();
      },
    });
    assert.equal(first.interrupted, true);
    // The batch being written when the signal came is finished, never cut.
    assert.ok(first.added % 40 === 0 && first.added >= 80 && first.added < 250, `${first.added}`);
    assert.equal(await table.count(), first.added);
    const second = await indexRows(backend, saved, table, { features: rows, labels, source: "s" }, {
      batchRows: 40,
    });
    assert.equal(second.interrupted, false);
    assert.equal(second.skipped, first.added);
    assert.equal(second.added, 250 - first.added);
    assert.equal(await table.count(), 250);
    assert.equal((await table.keysOf("s")).size, 250);
    // The same as one uninterrupted run: every row's embedding is what classify() gives it.
    const { embeddings } = await classify(backend, saved, rows);
    const hits = await table.search(embeddings, { k: 1, exact: true });
    hits.forEach(([hit], i) => {
      assert.equal(hit.row, i + 1);
      assert.ok(hit.distance < 1e-10, `row ${i + 1}: ${hit.distance}`);
      assert.equal(hit.label, labels[i]);
    });
    // A grown source adds its new rows only; a third run adds nothing.
    const grown = new Float32Array(260 * 6);
    grown.set(rows);
    grown.set(features(10, 3), 250 * 6);
    const third = await indexRows(backend, saved, table, { features: grown, source: "s" });
    assert.deepEqual([third.added, third.skipped], [10, 250]);
    const fourth = await indexRows(backend, saved, table, { features: grown, source: "s" });
    assert.deepEqual([fourth.added, fourth.skipped], [0, 260]);
    table.close();
  });
});

Deno.test("the index is built from its threshold on; search adds the model's own rule", async () => {
  await withBackend(async (backend, dir) => {
    const saved = model(4);
    const rows = features(300, 5);
    const table = await openEmbeddingTable(backend, saved, dir, { create: true, table: "x" });
    await indexRows(backend, saved, table, { features: rows.subarray(0, 100 * 6), source: "a" });
    const settings = { kind: "ivf-flat" as const, partitions: 2 };
    assert.deepEqual(await maintainTable(table, settings, { threshold: 200 }), {
      index: null,
      built: false,
    });
    await indexRows(backend, saved, table, { features: rows, source: "b" });
    const kept = await maintainTable(table, settings, { threshold: 200 });
    assert.equal(kept.built, true);
    assert.equal(kept.index?.type, "IVF_FLAT");
    assert.equal(kept.index?.indexedRows, 400);
    // Later rows are added to the index, not rebuilt.
    await indexRows(backend, saved, table, { features: features(5, 6), source: "c" });
    const updated = await maintainTable(table, settings, { threshold: 200 });
    assert.equal(updated.built, false);
    assert.equal(updated.index?.indexedRows, 405);

    const queries = features(20, 7);
    const results = await searchRows(backend, saved, table, queries, { k: 5, exact: true });
    const { embeddings, predicted } = await classify(backend, saved, queries);
    const centres = saved.classifier.kind === "magnet" ? saved.classifier : null;
    const neighbours = await nearestNeighbours(backend, embeddings, centres!.centres, 4, 4);
    const byRule = magnetVote(neighbours, centres!.centreClasses, centres!.variance);
    const votes = await classifyWithVotes(backend, saved.classifier, embeddings, 4);
    results.forEach((r, q) => {
      assert.equal(r.hits.length, 5);
      assert.equal(r.predicted, saved.classNames[predicted[q]]);
      assert.equal(predicted[q], byRule[q]);
      assert.equal(r.vote, votes.share[q]);
      assert.ok(r.vote > 0.5 && r.vote <= 1, `vote ${r.vote}`);
    });
    table.close();
  });
});

Deno.test("a model's identity is its embedding: architecture, columns, scaling and weights", async () => {
  await withBackend(async (backend, dir) => {
    const saved = model(8);
    const identity = await modelIdentity(backend, saved);
    assert.match(identity, /^[0-9a-f]{64}$/);
    // Saved and loaded, on another backend: the same; the classifier and names do not count.
    await saveModel(`${dir}/model.json`, backend, saved);
    const loaded = await loadModel(`${dir}/model.json`);
    const other = await createBackend({ kind: "cpu" });
    try {
      assert.equal(await modelIdentity(other, loaded), identity);
    } finally {
      other.dispose();
    }
    assert.equal(
      await modelIdentity(backend, { ...saved, classNames: ["a", "b"], loss: "triplet" }),
      identity,
    );
    const changed = async (edit: Partial<SavedModel>) =>
      assert.notEqual(await modelIdentity(backend, { ...saved, ...edit }), identity);
    await changed({ model: model(9).model });
    await changed({ featureNames: ["a", "b", "c", "d", "e", "f"] });
    await changed({
      standardization: { mean: new Float32Array(6), scale: new Float32Array(6).fill(2) },
    });
    // Trained weights are read from the backend, where training leaves them.
    const weight = saved.model.parameters[0];
    backend.writeVariable(weight, new Float32Array(weight.size).fill(0.25));
    assert.notEqual(await modelIdentity(backend, saved), identity);
    assert.equal(describeModel(saved.model.spec), "mlp 6-12-4");
    assert.equal(
      describeModel({
        kind: "cnn",
        input: [28, 28, 1],
        conv: [32, 64],
        dense: [256, 128],
        embeddingDim: 64,
        norm: "batch",
      }),
      "cnn 28x28x1 conv 32,64 dense 256,128 -> 64",
    );
  });
});
