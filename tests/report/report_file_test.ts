/**
 * writeReport, the command line's report: a short real run (CPU) written with PCA by default and
 * with UMAP when asked, its summary taken from the run's result (the same wall time as runTimes).
 */
import assert from "node:assert/strict";
import { createBackend } from "../../src/backend/create.ts";
import type { LoadedData } from "../../src/data/source.ts";
import { writeReport } from "../../src/cli/report_file.ts";
import type { Dataset } from "../../src/data/dataset.ts";
import { formatSeconds } from "../../src/report/format.ts";
import { runTimes } from "../../src/train/times.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { Random } from "../../src/util/random.ts";

function blobs(n: number, seed: number): Dataset {
  const dim = 6, classes = 3;
  const rng = new Random(1);
  const centres = Array.from(
    { length: classes },
    () => Array.from({ length: dim }, () => 3 * rng.normal()),
  );
  const noise = new Random(seed);
  const features = new Float32Array(n * dim), labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % classes;
    for (let j = 0; j < dim; j++) features[i * dim + j] = centres[i % classes][j] + noise.normal();
  }
  return { features, dim, labels, classNames: ["a", "b", "c"] };
}

Deno.test("writeReport draws PCA by default and UMAP when asked", async () => {
  const backend = await createBackend({ kind: "cpu" });
  const dir = await Deno.makeTempDir({ prefix: "magnet-report-" });
  try {
    const train = blobs(150, 2), test = blobs(60, 3);
    const trainer = await Trainer.create({ backend, train, test }, {
      hidden: [16],
      embeddingDim: 4,
      iterations: 40,
      m: 3,
      d: 4,
      k: 2,
      refreshEvery: 20,
      evalEvery: 0,
      logEvery: 10,
      knnK: 3,
    });
    const result = await trainer.run();
    const data: LoadedData = {
      source: {
        kind: "csv",
        train: "blobs.csv",
        test: null,
        testFraction: 0.2,
        labelColumn: "label",
        splitSeed: 0,
        val: null,
        valFraction: 0,
        idColumn: null,
        ignoreColumns: [],
      },
      name: "blobs",
      train,
      validation: null,
      test,
      standardization: null,
    };
    const pcaPath = `${dir}/pca.html`, umapPath = `${dir}/umap.html`;
    await writeReport(pcaPath, trainer, result, data, backend);
    await writeReport(umapPath, trainer, result, data, backend, { projection: "umap" });
    const pca = await Deno.readTextFile(pcaPath), umap = await Deno.readTextFile(umapPath);
    for (const html of [pca, umap]) {
      assert.doesNotMatch(html, /NaN|Infinity|undefined/);
      // One evaluation, at the end: a single point per metric, with its value.
      assert.match(html, /<text class="val"[^>]*>3-NN error \d+\.\d\d%<\/text>/);
      assert.ok(html.includes(`40 iterations in ${formatSeconds(runTimes(result).seconds)}`));
    }
    assert.match(pca, /<h2>3\. Test embeddings \(PCA\)<\/h2>/);
    assert.match(pca, /The two components explain \d+\.\d% of the variance/);
    assert.match(umap, /<h2>3\. Test embeddings \(UMAP\)<\/h2>/);
    assert.match(umap, /Projection: UMAP \(15 neighbours, seed 1\)/);
  } finally {
    backend.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
