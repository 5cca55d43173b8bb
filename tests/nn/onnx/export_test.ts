/**
 * Exported networks (an MLP with a CSV's standardisation, CNNs with and without batch
 * normalisation, a backbone that resizes, repeats grey to colour and reorders channels) give, in
 * onnxruntime (npm, in this process), the embeddings our model gives for the same raw rows, to
 * 1e-5; and importing the exported file gives them again.
 */
import assert from "node:assert/strict";
import { createMlp } from "../../../src/nn/mlp.ts";
import { createCnn } from "../../../src/nn/cnn.ts";
import type { Model } from "../../../src/nn/model.ts";
import { exportOnnx } from "../../../src/nn/onnx/export.ts";
import { importOnnx } from "../../../src/nn/onnx/backbone.ts";
import { createModel } from "../../../src/nn/models.ts";
import { backboneSpec } from "../../../src/nn/onnx/backbone.ts";
import { readOnnx } from "../../../src/nn/onnx/source.ts";
import { permute } from "../../../src/nn/onnx/values.ts";
import { embed } from "../../../src/nn/embed.ts";
import { standardize } from "../../../src/data/preprocess.ts";
import { createBackend } from "../../../src/backend/create.ts";
import type { Backend } from "../../../src/backend/backend.ts";
import type { Variable } from "../../../src/graph/tensor.ts";
import { Random } from "../../../src/util/random.ts";
import { assertClose } from "../../helpers/backends.ts";
import { runOnnxruntime } from "../../helpers/onnxruntime.ts";

/** Gives every variable random values (batch normalisation's statistics included). */
function randomise(model: Model, seed: number): Model {
  const rng = new Random(seed);
  for (const v of [...model.parameters, ...model.state]) {
    const positive = /variance|Variance/.test(v.name);
    v.initial.set(
      Float32Array.from(v.initial, () => (positive ? 0.5 + rng.next() : rng.normal() * 0.3)),
    );
  }
  return model;
}

/** Our embeddings, onnxruntime's for the exported file, and the re-imported model's. */
async function roundTrip(
  backend: Backend,
  model: Model,
  raw: Float32Array,
  shape: readonly number[] | null,
  standardization: { mean: Float32Array; scale: Float32Array } | null = null,
) {
  const rows = standardization === null ? raw : standardize(raw, model.inputDim, standardization);
  const ours = await embed(backend, model, rows);
  const bytes = await exportOnnx(model, { standardization });
  const n = raw.length / model.inputDim;
  // Images go in channels first: [N, C, H, W].
  const input = shape === null ? { data: raw, dims: [n, model.inputDim] } : {
    data: Float32Array.from(permute(raw, [n, ...shape], [0, 3, 1, 2])),
    dims: [n, shape[2], shape[0], shape[1]],
  };
  const theirs = await runOnnxruntime(bytes, input.data, input.dims);
  assert.deepEqual(theirs.shape, [n, model.outputDim]);
  const imported = await importOnnx(bytes, { label: "exported.onnx" });
  assert.equal(imported.inputDim, model.inputDim);
  const again = await embed(backend, imported, raw);
  return { ours, theirs: theirs.data, again };
}

Deno.test("exported MLP, CNNs and backbone equal ours in onnxruntime and when imported", async (t) => {
  const backend = await createBackend({ kind: "cpu" });
  const rng = new Random(9);
  try {
    await t.step("MLP with the standardisation folded in", async () => {
      const mlp = randomise(createMlp({ sizes: [7, 12, 5], seed: 2 }), 3);
      const raw = Float32Array.from({ length: 9 * 7 }, () => 10 + 5 * rng.normal());
      const standardization = {
        mean: Float32Array.from({ length: 7 }, () => 10 + rng.normal()),
        scale: Float32Array.from({ length: 7 }, () => 4 + rng.next()),
      };
      const r = await roundTrip(backend, mlp, raw, null, standardization);
      assertClose(r.theirs, r.ours, 1e-5, "onnxruntime");
      assertClose(r.again, r.ours, 1e-5, "imported");
    });
    for (const norm of ["batch", "none"] as const) {
      await t.step(`CNN (${norm} normalisation), images channels first`, async () => {
        const cnn = randomise(
          createCnn({ input: [12, 10, 2], conv: [3, 4], dense: [6], embeddingDim: 5, norm }),
          4,
        );
        const raw = Float32Array.from({ length: 3 * 240 }, () => rng.next());
        const r = await roundTrip(backend, cnn, raw, [12, 10, 2]);
        assertClose(r.theirs, r.ours, 1e-5, "onnxruntime");
        assertClose(r.again, r.ours, 1e-5, "imported");
      });
    }
    await t.step("backbone: resized, grey to colour, BGR, standardised, with a head", async () => {
      const bytes = await Deno.readFile(
        new URL("../../fixtures/onnx/resnet18_tiny.legacy.onnx", import.meta.url),
      );
      const source = await readOnnx(bytes, { label: "resnet18_tiny" });
      const spec = backboneSpec(source, { rows: [9, 14, 1], bgr: true, embeddingDim: 6 });
      const model = createModel(spec, 5, source);
      const raw = Float32Array.from({ length: 4 * 126 }, () => rng.next());
      const r = await roundTrip(backend, model, raw, [9, 14, 1]);
      assertClose(r.theirs, r.ours, 1e-5, "onnxruntime");
      assertClose(r.again, r.ours, 1e-5, "imported");
    });
  } finally {
    backend.dispose();
  }
});

Deno.test("export reads the trained values from the backend when given one", async () => {
  const backend = await createBackend({ kind: "cpu" });
  try {
    const mlp = createMlp({ sizes: [3, 2], seed: 1 });
    const weight = mlp.parameters[0] as Variable;
    backend.writeVariable(weight, [1, 2, 3, 4, 5, 6]);
    const bytes = await exportOnnx(mlp, { backend });
    const out = await runOnnxruntime(bytes, Float32Array.of(1, 0, 0), [1, 3]);
    assertClose(out.data, [1, 2]);
  } finally {
    backend.dispose();
  }
});
