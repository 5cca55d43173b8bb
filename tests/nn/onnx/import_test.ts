/**
 * Whole networks exported by PyTorch (ResNet-18 and MobileNetV3-small, width-reduced, by both of
 * torch.onnx.export's exporters; tests/fixtures/onnx, made by scripts/onnx_fixtures.py) against
 * onnxruntime's outputs on the CPU and WebGPU; batch normalisation in training mode against its
 * definition; the backbone model's input adaptation and head; and the messages for networks that
 * cannot be imported.
 */
import assert from "node:assert/strict";
import { readOnnx } from "../../../src/nn/onnx/source.ts";
import { OnnxNetwork } from "../../../src/nn/onnx/network.ts";
import { OnnxBuilder } from "../../../src/nn/onnx/builder.ts";
import { BackboneModel, backboneSpec } from "../../../src/nn/onnx/backbone.ts";
import { createModel, restoreModel } from "../../../src/nn/models.ts";
import { permute } from "../../../src/nn/onnx/values.ts";
import { resizeMatrix } from "../../../src/graph/resize.ts";
import { Graph } from "../../../src/graph/tensor.ts";
import { createBackend } from "../../../src/backend/create.ts";
import { embed } from "../../../src/nn/embed.ts";
import { MagnetInputError } from "../../../src/errors.ts";
import { Random } from "../../../src/util/random.ts";
import { assertClose, gpuTestOptions, openBackends } from "../../helpers/backends.ts";
import { runOnnxruntime } from "../../helpers/onnxruntime.ts";

const FIXTURES = new URL("../../fixtures/onnx/", import.meta.url);
const NETWORKS = [
  "resnet18_tiny.legacy",
  "resnet18_tiny.dynamo",
  "mobilenet_v3_small_tiny.legacy",
  "mobilenet_v3_small_tiny.dynamo",
];

function decode(e: { shape: number[]; base64: string }) {
  const bytes = Uint8Array.from(atob(e.base64), (c) => c.charCodeAt(0));
  return { shape: e.shape, data: new Float32Array(bytes.buffer) };
}

async function fixture(name: string) {
  const bytes = await Deno.readFile(new URL(`${name}.onnx`, FIXTURES));
  const reference = JSON.parse(
    await Deno.readTextFile(new URL(`${name}.reference.json`, FIXTURES)),
  );
  return {
    bytes,
    source: await readOnnx(bytes, { label: name }),
    input: decode(reference.input),
    output: decode(reference.output),
  };
}

const nhwc = (data: Float32Array | Float64Array, [n, c, h, w]: number[]) => ({
  shape: [n, h, w, c],
  data: permute(data, [n, c, h, w], [0, 2, 3, 1]),
});

Deno.test(
  "PyTorch's ResNet-18 and MobileNetV3-small equal onnxruntime",
  gpuTestOptions,
  async (t) => {
    const backends = await openBackends();
    try {
      for (const name of NETWORKS) {
        const f = await fixture(name);
        const network = new OnnxNetwork(f.source);
        const x = nhwc(f.input.data, f.input.shape);
        await t.step(`${name}: npm's onnxruntime agrees with the committed reference`, async () => {
          const now = await runOnnxruntime(f.bytes, f.input.data, f.input.shape);
          assertClose(now.data, f.output.data, 1e-5, name);
        });
        for (const backend of backends) {
          await t.step(`${name} on ${backend.description}, to 1e-4`, async () => {
            const g = new Graph();
            const { output } = network.build(g.input("x", x.shape), false);
            assert.deepEqual([...output.shape], f.output.shape);
            const [y] = await backend.run([output], { x: x.data });
            assertClose(y, f.output.data, 1e-4, `${name} on ${backend.description}`);
          });
        }
      }
    } finally {
      for (const b of backends) b.dispose();
    }
  },
);

Deno.test("batch normalisation in training: batch statistics, running ones moved by momentum", async () => {
  const b = new OnnxBuilder(17);
  b.input("x", ["N", 2, 3, 2]);
  const y = b.node("BatchNormalization", [
    "x",
    b.floats("scale", [2], [2, 0.5]),
    b.floats("shift", [2], [1, -1]),
    b.floats("mean", [2], [0.3, -0.2]),
    b.floats("variance", [2], [1.5, 0.7]),
  ], { momentum: { float: 0.8 }, epsilon: { float: 1e-5 } })[0];
  b.output(y);
  const network = new OnnxNetwork(await readOnnx(b.bytes()));
  const rng = new Random(4);
  const shape = [3, 2, 3, 2];
  const x = Float64Array.from({ length: 36 }, () => rng.normal());
  const backend = await createBackend({ kind: "cpu", precision: "float64" });
  try {
    const g = new Graph();
    const input = nhwc(x, shape);
    const { output, updates } = network.build(g.input("x", input.shape), true);
    assert.equal(updates.length, 2);
    const exe = await backend.compile({ outputs: [output], updates });
    const [out] = await exe.run({ x: input.data });
    const runningMean = await backend.readVariable(network.variables.get("mean")!);
    const runningVariance = await backend.readVariable(network.variables.get("variance")!);
    for (let c = 0; c < 2; c++) {
      const values: number[] = [];
      for (let n = 0; n < 3; n++) for (let p = 0; p < 6; p++) values.push(x[(n * 2 + c) * 6 + p]);
      const m = values.reduce((s, v) => s + v, 0) / 18;
      const v = values.reduce((s, u) => s + (u - m) ** 2, 0) / 18;
      for (let n = 0; n < 3; n++) {
        for (let p = 0; p < 6; p++) {
          const expected = (x[(n * 2 + c) * 6 + p] - m) / Math.sqrt(v + 1e-5) * [2, 0.5][c] +
            [1, -1][c];
          assert.ok(Math.abs(out[(n * 2 + c) * 6 + p] - expected) < 1e-9);
        }
      }
      assert.ok(Math.abs(runningMean[c] - (0.8 * [0.3, -0.2][c] + 0.2 * m)) < 1e-6);
      assert.ok(Math.abs(runningVariance[c] - (0.8 * [1.5, 0.7][c] + 0.2 * v * 18 / 17)) < 1e-6);
    }
  } finally {
    backend.dispose();
  }
});

Deno.test("a backbone resizes, repeats grey to colour, reorders and standardises its rows", async () => {
  // A network that returns its input: Flatten(x). What comes out is what the network was given.
  const b = new OnnxBuilder(17);
  b.input("images", ["N", 3, 4, 6]);
  b.output(b.node("Flatten", ["images"])[0]);
  const source = await readOnnx(b.bytes(), { label: "identity.onnx" });
  const spec = backboneSpec(source, {
    rows: [2, 3, 1],
    mean: [0.1, 0.2, 0.3],
    std: [0.5, 0.25, 2],
    bgr: true,
  });
  const model = createModel(spec, 1, source) as BackboneModel;
  assert.equal(model.inputDim, 6);
  assert.equal(model.outputDim, 72);
  const rows = Float32Array.of(0, 0.2, 0.4, 0.6, 0.8, 1);
  const backend = await createBackend({ kind: "cpu", precision: "float64" });
  try {
    const out = await embed(backend, model, rows);
    const rh = resizeMatrix(2, 4), rw = resizeMatrix(3, 6);
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < 4; i++) {
        for (let j = 0; j < 6; j++) {
          let v = 0;
          for (let a = 0; a < 2; a++) {
            for (let e = 0; e < 3; e++) v += rh[i * 2 + a] * rw[j * 3 + e] * rows[a * 3 + e];
          }
          const expected = (v - [0.1, 0.2, 0.3][c]) / [0.5, 0.25, 2][c];
          assert.ok(
            Math.abs(out[(c * 4 + i) * 6 + j] - expected) < 1e-6,
            `channel ${c} (${i}, ${j})`,
          );
        }
      }
    }
  } finally {
    backend.dispose();
  }
  assert.throws(
    () => backboneSpec(source, { rows: [2, 3, 2] }),
    /takes 3-channel images; the data's have 2/,
  );
  // Without the data's shape, rows are images at the network's size, ImageNet's statistics by default.
  const own = backboneSpec(source);
  assert.deepEqual(own.input, {
    kind: "image",
    rows: [4, 6, 3],
    network: [4, 6, 3],
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    bgr: false,
  });
});

Deno.test("a backbone's weights are trained or frozen, its head is new, and it restores exactly", async () => {
  const f = await fixture("resnet18_tiny.legacy");
  const trainable = backboneSpec(f.source, { rows: [20, 24, 1], embeddingDim: 8 });
  const frozen = { ...trainable, frozen: true };
  const a = createModel(trainable, 3, f.source) as BackboneModel;
  const b = createModel(frozen, 3, f.source) as BackboneModel;
  const weights = a.network.variables.size;
  assert.equal(a.featureDim, 10);
  assert.equal(a.parameters.length, 20 + 20 * 2 + 2 + 2); // conv kernels, BN scale and shift, fc, head
  assert.equal(a.state.length, 40); // running means and variances
  assert.equal(b.parameters.length, 2);
  assert.equal(b.state.length, weights);
  assert.equal(a.pretrained.length, weights - 40);
  // Saved values by name rebuild the same model, without the file.
  const backend = await createBackend({ kind: "cpu" });
  try {
    const rows = Float32Array.from({ length: 3 * 480 }, (_, i) => (i % 17) / 17);
    const before = await embed(backend, a, rows);
    const values: Record<string, Float32Array> = {};
    for (const v of [...a.parameters, ...a.state]) {
      values[v.name] = await backend.readVariable(v) as Float32Array;
    }
    const restored = restoreModel(JSON.parse(JSON.stringify(trainable)), values, "model.json");
    assertClose(await embed(backend, restored, rows), before, 1e-6, "restored");
    const missing = { ...values };
    delete missing["backbone.conv1.weight"];
    assert.throws(() => restoreModel(trainable, missing, "model.json"), /"backbone.conv1.weight"/);
  } finally {
    backend.dispose();
  }
});

Deno.test("networks that cannot be imported are one clear error", async () => {
  const unsupported = new OnnxBuilder(17);
  unsupported.input("x", ["N", 4]);
  unsupported.output(unsupported.node("Softmax", [unsupported.node("Relu", ["x"])[0]])[0]);
  await assert.rejects(
    async () => new OnnxNetwork(await readOnnx(unsupported.bytes(), { label: "net.onnx" })),
    (e: Error) =>
      e instanceof MagnetInputError &&
      /net.onnx: node "node_Softmax_\d+" is a Softmax, which is not supported; supported operators: Add, AveragePool/
        .test(e.message),
  );
  const two = new OnnxBuilder(17);
  two.input("x", ["N", 4]);
  two.input("y", ["N", 4]);
  two.output(two.node("Add", ["x", "y"])[0]);
  await assert.rejects(
    readOnnx(two.bytes(), { label: "two.onnx" }),
    /two.onnx has 2 inputs \(x, y\)/,
  );
  const f = await fixture("resnet18_tiny.legacy");
  assert.throws(
    () => new OnnxNetwork(f.source, { output: "nothing" }),
    /has no value named "nothing"/,
  );
  const spec = backboneSpec(f.source, { rows: [8, 8, 3] });
  const other = await readOnnx(unsupported.bytes(), { label: "other.onnx" });
  assert.throws(() => new BackboneModel(spec, other), /not the network this model was made with/);
});
