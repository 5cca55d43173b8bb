/**
 * Convolutions a device computes as one kernel (the WebAssembly device's Winograd F(2x2, 3x3)
 * path): the forward value and both gradients against the composition (windows and products) in
 * float64, with tiles that overhang odd image sizes, on one thread and split across two (bit for
 * bit the same), with and without relaxed SIMD; the executor fuses only what the device accepts.
 */
import assert from "node:assert/strict";
import { createBackend } from "../../src/backend/create.ts";
import type { HostArray } from "../../src/backend/backend.ts";
import { Executor } from "../../src/backend/executor.ts";
import { kernelOf } from "../../src/backend/kernel.ts";
import { makePlan } from "../../src/backend/plan.ts";
import { WasmDevice } from "../../src/backend/wasm/device.ts";
import { gradients } from "../../src/graph/autodiff.ts";
import { conv2d, type Conv2dOptions } from "../../src/graph/conv.ts";
import { sumAll } from "../../src/graph/functions.ts";
import { mul } from "../../src/graph/ops.ts";
import { Graph, type Tensor } from "../../src/graph/tensor.ts";
import { Random } from "../../src/util/random.ts";

/** A convolution, its value and its gradients for x and the kernel under a random weighting. */
function convolution(
  [n, h, w, cin, cout]: number[],
  options: Conv2dOptions = {},
  size = 3,
): { outputs: Tensor[]; feeds: Record<string, Float32Array> } {
  const g = new Graph();
  const x = g.input("x", [n, h, w, cin]);
  const k = g.input("k", [size, size, cin, cout]);
  const y = conv2d(x, k, null, options);
  const t = g.input("t", y.shape);
  const [dx, dk] = gradients(sumAll(mul(y, t)), [x, k]);
  const random = new Random(n * 1000 + h * 100 + w * 10 + cin + cout);
  const values = (count: number) => Float32Array.from({ length: count }, () => random.normal());
  return {
    outputs: [y, dx, dk],
    feeds: { x: values(x.size), k: values(k.size), t: values(t.size) },
  };
}

/** The kinds of kernels a device's plan runs for `outputs`. */
function kernels(device: WasmDevice, outputs: Tensor[]): string[] {
  const plan = makePlan({ outputs }, {
    fuse: true,
    convolution: (s) => device.directConvolution(s),
  });
  return plan.steps.map((s) => {
    const { kernel } = kernelOf(s, plan.groups!.get(s.id)!);
    return kernel.kind === "conv" ? `conv ${kernel.mode}` : kernel.kind;
  });
}

const SHAPES = [
  [1, 1, 1, 4, 4],
  [2, 5, 6, 4, 8],
  [3, 7, 4, 8, 4],
  [1, 2, 9, 12, 8],
  [2, 14, 14, 32, 64],
];

Deno.test("convolutions as one kernel", async (t) => {
  const devices = [
    await WasmDevice.create({ threads: 1 }),
    await WasmDevice.create({ threads: 2, splitAbove: 0 }),
    await WasmDevice.create({ threads: 1, relaxed: false }),
  ];
  const backends = devices.map((d) => new Executor(d));
  const reference = await createBackend({ kind: "cpu", precision: "float64" });
  try {
    for (const shape of SHAPES) {
      await t.step(`[${shape.slice(0, 4)}] to ${shape[4]} channels`, async () => {
        const { outputs, feeds } = convolution(shape);
        assert.deepEqual(
          kernels(devices[0], outputs).filter((k) => k.startsWith("conv")).sort(),
          ["conv data", "conv filter", "conv forward"],
        );
        assert.ok(!kernels(devices[0], outputs).includes("patches"), "no windows are made");
        const expected = await reference.run(outputs, feeds);
        const results: HostArray[][] = [];
        for (const backend of backends) {
          const got = await backend.run(outputs, feeds);
          results.push(got);
          got.forEach((values, i) => {
            const scale = Math.max(1, ...expected[i].map(Math.abs));
            values.forEach((v, j) => {
              assert.ok(
                Math.abs(v - expected[i][j]) <= 2e-6 * scale,
                `${backend.description}, output ${i}[${j}]: ${v}, expected ${expected[i][j]}`,
              );
            });
          });
        }
        // One thread or every kernel split across two: the same bits.
        results[1].forEach((values, i) => assert.deepEqual(values, results[0][i], `output ${i}`));
      });
    }

    await t.step("other convolutions run as their composition", () => {
      for (
        const [shape, options, size] of [
          [[2, 6, 6, 4, 8], { stride: 2 }, 3],
          [[2, 6, 6, 4, 8], { padding: "valid" }, 3],
          [[2, 6, 6, 4, 8], {}, 5],
          [[2, 6, 6, 3, 8], {}, 3],
          [[2, 6, 6, 4, 6], {}, 3],
        ] as const
      ) {
        const { outputs } = convolution([...shape], options, size);
        const steps = kernels(devices[0], outputs);
        assert.ok(!steps.some((k) => k.startsWith("conv")), JSON.stringify([shape, options]));
        assert.ok(steps.includes("patches"));
      }
    });
  } finally {
    for (const backend of backends) backend.dispose();
    reference.dispose();
  }
});
