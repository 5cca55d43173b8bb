/**
 * The CNN against a float64 reference written out with loops (convolution, batch normalisation in
 * both modes, ReLU, max pooling, dense layers), its running-statistics updates, its gradients
 * against finite differences, and its architecture checks.
 */
import assert from "node:assert/strict";
import { Cnn, cnnSpec, cnnVariables, createCnn } from "../../src/nn/cnn.ts";
import type { CnnSpec } from "../../src/nn/model.ts";
import { Graph, type Variable } from "../../src/graph/tensor.ts";
import { assertGradcheck } from "../../src/check/gradcheck.ts";
import { sumAll } from "../../src/graph/functions.ts";
import { square } from "../../src/graph/ops.ts";
import { MagnetInputError } from "../../src/errors.ts";
import { Random } from "../../src/util/random.ts";
import { assertClose, gpuTestOptions, openBackends } from "../helpers/backends.ts";

type Values = Record<string, Float64Array>;

/** The network in float64 loops; in training mode also the batch moments of each block. */
function reference(spec: CnnSpec, v: Values, x: Float64Array, n: number, training: boolean) {
  let [h, w, c] = spec.input;
  let a = Float64Array.from(x);
  const moments: { mean: number[]; variance: number[] }[] = [];
  spec.conv.forEach((out, b) => {
    const k = v[`cnn.conv${b}.kernel`];
    const conv = new Float64Array(n * h * w * out);
    for (let i = 0; i < n; i++) {
      for (let y = 0; y < h; y++) {
        for (let xx = 0; xx < w; xx++) {
          for (let o = 0; o < out; o++) {
            let s = spec.norm === "none" ? v[`cnn.conv${b}.bias`][o] : 0;
            for (let dy = -1; dy <= 1; dy++) {
              for (let dx = -1; dx <= 1; dx++) {
                const yy = y + dy, xs = xx + dx;
                if (yy < 0 || yy >= h || xs < 0 || xs >= w) continue; // "same": zero padding
                for (let ci = 0; ci < c; ci++) {
                  s += a[((i * h + yy) * w + xs) * c + ci] *
                    k[(((dy + 1) * 3 + dx + 1) * c + ci) * out + o];
                }
              }
            }
            conv[((i * h + y) * w + xx) * out + o] = s;
          }
        }
      }
    }
    if (spec.norm === "batch") {
      const rows = n * h * w;
      const mean = new Array(out).fill(0), variance = new Array(out).fill(0);
      for (let r = 0; r < rows; r++) {
        for (let o = 0; o < out; o++) mean[o] += conv[r * out + o] / rows;
      }
      for (let r = 0; r < rows; r++) {
        for (let o = 0; o < out; o++) variance[o] += (conv[r * out + o] - mean[o]) ** 2 / rows;
      }
      moments.push({ mean, variance });
      const m = training ? mean : [...v[`cnn.conv${b}.runningMean`]];
      const s2 = training ? variance : [...v[`cnn.conv${b}.runningVariance`]];
      const gamma = v[`cnn.conv${b}.gamma`], beta = v[`cnn.conv${b}.beta`];
      for (let r = 0; r < rows; r++) {
        for (let o = 0; o < out; o++) {
          const i = r * out + o;
          conv[i] = (conv[i] - m[o]) / Math.sqrt(s2[o] + 1e-5) * gamma[o] + beta[o];
        }
      }
    }
    const ph = Math.floor(h / 2), pw = Math.floor(w / 2);
    const pooled = new Float64Array(n * ph * pw * out).fill(-Infinity);
    for (let i = 0; i < n; i++) {
      for (let y = 0; y < ph * 2; y++) {
        for (let xx = 0; xx < pw * 2; xx++) {
          for (let o = 0; o < out; o++) {
            const at = ((i * ph + (y >> 1)) * pw + (xx >> 1)) * out + o;
            pooled[at] = Math.max(pooled[at], Math.max(0, conv[((i * h + y) * w + xx) * out + o]));
          }
        }
      }
    }
    a = pooled;
    [h, w, c] = [ph, pw, out];
  });
  let width = h * w * c;
  [...spec.dense, spec.embeddingDim].forEach((out, l, all) => {
    const weight = v[`cnn.dense${l}.weight`], bias = v[`cnn.dense${l}.bias`];
    const next = new Float64Array(n * out);
    for (let i = 0; i < n; i++) {
      for (let o = 0; o < out; o++) {
        let s = bias[o];
        for (let j = 0; j < width; j++) s += a[i * width + j] * weight[j * out + o];
        next[i * out + o] = l < all.length - 1 ? Math.max(0, s) : s;
      }
    }
    a = next;
    width = out;
  });
  return { output: a, moments };
}

/** A network whose running statistics and biases are not at their initial 0 and 1. */
function testNetwork(norm: "batch" | "none"): { cnn: Cnn; values: Values } {
  const spec = cnnSpec({ input: [6, 5, 2], conv: [3, 4], dense: [5], embeddingDim: 3, norm });
  const variables = cnnVariables(spec, 4);
  const random = new Random(9);
  for (const v of variables.values()) {
    if (/bias|beta|runningMean/.test(v.name)) {
      v.initial.forEach((_, i, a) => (a[i] = random.normal() * 0.3));
    }
    if (/gamma|runningVariance/.test(v.name)) {
      v.initial.forEach((_, i, a) => (a[i] = 0.5 + random.next()));
    }
  }
  const values: Values = {};
  for (const v of variables.values()) values[v.name] = Float64Array.from(v.initial);
  return { cnn: new Cnn(spec, variables), values };
}

function images(n: number, seed: number): Float32Array {
  const random = new Random(seed);
  return Float32Array.from({ length: n * 6 * 5 * 2 }, () => random.normal());
}

Deno.test("cnn", gpuTestOptions, async (t) => {
  const backends = await openBackends();
  try {
    for (const norm of ["batch", "none"] as const) {
      const { cnn, values } = testNetwork(norm);
      const n = 3, x = images(n, 1);
      for (const backend of backends) {
        await t.step(
          `${backend.kind}, norm ${norm}: inference matches the float64 loops`,
          async () => {
            const g = new Graph();
            const [y] = await backend.run([cnn.forward(g.input("x", [n, 60]))], { x });
            assertClose(
              y,
              reference(cnn.spec, values, Float64Array.from(x), n, false).output,
              2e-5,
            );
          },
        );
        await t.step(
          `${backend.kind}, norm ${norm}: training mode and its state updates`,
          async () => {
            const g = new Graph();
            const { output, updates } = cnn.trainingForward(g.input("x", [n, 60]));
            const expected = reference(cnn.spec, values, Float64Array.from(x), n, true);
            const [y, ...updated] = await backend.run([output, ...updates.map(([, t]) => t)], {
              x,
            });
            assertClose(y, expected.output, 1e-4);
            assert.equal(updates.length, norm === "batch" ? 4 : 0);
            const rows = [n * 6 * 5, n * 3 * 2];
            updates.forEach(([variable, _], i) => {
              const block = i >> 1, moments = expected.moments[block];
              const old = values[variable.name];
              // Momentum 0.1; the running variance takes the unbiased batch variance.
              const batch = i % 2 === 0
                ? moments.mean
                : moments.variance.map((s) => (s * rows[block]) / (rows[block] - 1));
              assertClose(
                updated[i],
                batch.map((b, c) => 0.9 * old[c] + 0.1 * b),
                1e-4,
                variable.name,
              );
            });
          },
        );
      }
      for (const training of [true, false]) {
        await t.step(
          `norm ${norm}, ${training ? "training" : "inference"}: gradients`,
          async () => {
            const named = (v: Variable) => ({ name: v.name, shape: v.shape, data: v.initial });
            await assertGradcheck(
              (v) => sumAll(square(cnn.apply(v.x, v, training))),
              [
                { name: "x", shape: [n, 60], data: x },
                ...cnn.parameters.map(named),
                ...cnn.state.map(named),
              ],
            );
          },
        );
      }
    }
  } finally {
    for (const b of backends) b.dispose();
  }

  await t.step("architecture: checked, seeded, He-initialised", () => {
    const a = createCnn({ input: [28, 28, 1], seed: 5 }),
      b = createCnn({ input: [28, 28, 1], seed: 5 });
    assert.deepEqual(a.spec, {
      kind: "cnn",
      input: [28, 28, 1],
      conv: [32, 64],
      dense: [128],
      embeddingDim: 64,
      norm: "batch",
    });
    assert.equal(a.inputDim, 784);
    assert.equal(a.outputDim, 64);
    // 3x3x1x32 + 32 x (gamma, beta); 3x3x32x64 + 64 x 2; 7*7*64 x 128 + 128; 128 x 64 + 64.
    const count = (vs: readonly Variable[]) => vs.reduce((s, v) => s + v.size, 0);
    assert.equal(count(a.parameters), 288 + 64 + 18432 + 128 + 3136 * 128 + 128 + 128 * 64 + 64);
    assert.equal(count(a.state), 2 * 32 + 2 * 64);
    a.parameters.forEach((p, i) => assert.deepEqual(p.initial, b.parameters[i].initial));
    const kernel = createCnn({ input: [28, 28, 3], conv: [200], seed: 1 }).parameters[0].initial;
    const variance = kernel.reduce((s, v) => s + v * v, 0) / kernel.length;
    assert.ok(Math.abs(variance / (2 / 27) - 1) < 0.05, `variance ${variance}`);
    const bad = (options: Parameters<typeof cnnSpec>[0], message: RegExp) =>
      assert.throws(
        () => cnnSpec(options),
        (e: Error) => e instanceof MagnetInputError && message.test(e.message),
      );
    bad({ input: [6, 6, 1], conv: [4, 4, 4] }, /3 pooling stages halve 6x6 images below one pixel/);
    bad({ input: [28, 28, 1], conv: [0] }, /convolution channels must be positive integers/);
    bad({ input: [28, 28, 1], dense: [1.5] }, /dense widths/);
    bad({ input: [28, 28, 1], norm: "layer" as "none" }, /norm must be "batch" or "none"/);
  });
});

Deno.test("embedding chunks shrink with a CNN's windows, and leave the embeddings as they are", async () => {
  const { chunkRowsFor, embed } = await import("../../src/nn/embed.ts");
  const { createMlp } = await import("../../src/nn/mlp.ts");
  const { createBackend } = await import("../../src/backend/create.ts");
  // 28x28 images: the second block's windows are 14 x 14 x (9 x 32) = 56,448 values per image.
  assert.equal(chunkRowsFor(createCnn({ input: [28, 28, 1] })), Math.floor(2 ** 24 / 56_448));
  assert.equal(chunkRowsFor(createMlp({ sizes: [784, 256, 128, 64] })), 2048);
  const cpu = await createBackend({ kind: "cpu" });
  try {
    const cnn = createCnn({ input: [6, 5, 2], conv: [3], dense: [4], embeddingDim: 3, seed: 2 });
    const x = images(11, 4);
    const whole = await embed(cpu, cnn, x, 11);
    // Equal to float32 rounding: edge tiles of the matrix product may round differently.
    for (const chunk of [1, 4, 7]) assertClose(await embed(cpu, cnn, x, chunk), whole, 1e-5);
  } finally {
    cpu.dispose();
  }
});
