/**
 * evaluate's streamed search (each query scored as it comes, only k-NN's neighbours kept) gives
 * exactly the metrics of the stored rankings computed apart.
 */
import assert from "node:assert/strict";
import { evaluate } from "../../src/eval/evaluate.ts";
import { nearestNeighbours } from "../../src/eval/neighbours.ts";
import { retrievalMetricsFromNeighbours } from "../../src/eval/retrieval.ts";
import { errorRate, knnClassify } from "../../src/eval/knn.ts";
import { embed } from "../../src/nn/embed.ts";
import { createMlp } from "../../src/nn/mlp.ts";
import { createBackend } from "../../src/backend/create.ts";
import type { Dataset } from "../../src/data/dataset.ts";
import { Random } from "../../src/util/random.ts";
import type { WorkProgress } from "../../src/util/work.ts";
import { AbortedError, MagnetInputError } from "../../src/errors.ts";

function blobs(n: number, seed: number): Dataset {
  const random = new Random(seed);
  const labels = Int32Array.from({ length: n }, (_, i) => (i * 7) % 4); // classes of unequal size
  const features = Float32Array.from(
    { length: n * 6 },
    (_, j) => random.normal() + (j % 6 === labels[Math.floor(j / 6)] ? 2 : 0),
  );
  return { features, dim: 6, labels, classNames: ["a", "b", "c", "d"] };
}

Deno.test("evaluate: streamed metrics equal the stored rankings'", async () => {
  const backend = await createBackend({ kind: "cpu" });
  try {
    const train = blobs(301, 1), test = blobs(97, 2);
    const model = createMlp({ sizes: [6, 10, 5], seed: 4 });
    const result = await evaluate(backend, model, train, test, {
      variance: null,
      clustersPerClass: 3,
      seed: 1,
      knnK: 5,
    });
    const refs = await embed(backend, model, train.features);
    const queries = await embed(backend, model, test.features);
    const largest = Math.max(
      ...[0, 1, 2, 3].map((c) => train.labels.filter((y) => y === c).length),
    );
    const stored = await nearestNeighbours(backend, queries, refs, 5, largest);
    assert.deepEqual(
      {
        precisionAt1: result.metrics.precisionAt1,
        rPrecision: result.metrics.rPrecision,
        mapAtR: result.metrics.mapAtR,
      },
      retrievalMetricsFromNeighbours(stored, test.labels, train.labels),
    );
    const five = await nearestNeighbours(backend, queries, refs, 5, 5);
    assert.equal(
      result.metrics.knnError,
      errorRate(knnClassify(five, train.labels, 5), test.labels),
    );
  } finally {
    backend.dispose();
  }
});

Deno.test("evaluate reports each stage as it goes and stops when its signal fires", async () => {
  const backend = await createBackend({ kind: "cpu" });
  try {
    const train = blobs(3000, 1), test = blobs(900, 2);
    const model = createMlp({ sizes: [6, 10, 5], seed: 4 });
    const options = { variance: 1, clustersPerClass: 3, seed: 1, knnK: 5 };
    const seen: WorkProgress[] = [];
    const whole = await evaluate(backend, model, train, test, {
      ...options,
      onProgress: (p) => seen.push(p),
    });
    const stages = [...new Set(seen.map((p) => p.stage))];
    assert.deepEqual(stages, ["embedding", "clustering", "searching", "scoring"]);
    const embedding = seen.filter((p) => p.stage === "embedding");
    assert.deepEqual(embedding.at(-1), { stage: "embedding", done: 3900, total: 3900 });
    assert.ok(embedding.every((p, i) => i === 0 || p.done > embedding[i - 1].done));
    assert.deepEqual(seen.filter((p) => p.stage === "searching").at(-1), {
      stage: "searching",
      done: 900,
      total: 900,
    });
    // Aborted as the search starts: an AbortedError, and nothing half-made is returned.
    const controller = new AbortController();
    await assert.rejects(
      evaluate(backend, model, train, test, {
        ...options,
        signal: controller.signal,
        onProgress: (p) => p.stage === "searching" && controller.abort(),
      }),
      AbortedError,
    );
    // The backend is left sound: the same evaluation again gives the same metrics.
    const again = await evaluate(backend, model, train, test, options);
    assert.deepEqual(again.metrics, whole.metrics);
  } finally {
    backend.dispose();
  }
});

Deno.test("evaluate takes the training rows' embeddings when given them", async () => {
  const backend = await createBackend({ kind: "cpu" });
  try {
    const train = blobs(301, 1), test = blobs(97, 2);
    const model = createMlp({ sizes: [6, 10, 5], seed: 4 });
    const options = { variance: 1, clustersPerClass: 3, seed: 1, knnK: 5 };
    const made = await evaluate(backend, model, train, test, options);
    const seen: WorkProgress[] = [];
    const given = await evaluate(backend, model, train, test, {
      ...options,
      trainEmbeddings: made.trainEmbeddings,
      onProgress: (p) => seen.push(p),
    });
    assert.deepEqual(given.metrics, made.metrics);
    // Only the query rows were embedded.
    const embedding = seen.filter((p) => p.stage === "embedding");
    assert.ok(embedding.length > 0 && embedding.every((p) => p.done > 301));
    await assert.rejects(
      evaluate(backend, model, train, test, {
        ...options,
        trainEmbeddings: made.trainEmbeddings.subarray(5),
      }),
      (e: Error) =>
        e instanceof MagnetInputError && /1500 values, expected 301 rows x 5/.test(e.message),
    );
  } finally {
    backend.dispose();
  }
});
