/**
 * Poolings a device computes as one kernel (the WebAssembly device's pool_max and pool_sum): the
 * windows are not made where nothing else reads them (inference), the values are the
 * composition's bit for bit (NaN included) on one thread and split across two, and the float64
 * composition agrees; where the gradient reads the windows (training) they stay, and windows that
 * pad or overhang the image run as their composition.
 */
import assert from "node:assert/strict";
import { createBackend } from "../../src/backend/create.ts";
import { Executor } from "../../src/backend/executor.ts";
import { kernelOf } from "../../src/backend/kernel.ts";
import { makePlan } from "../../src/backend/plan.ts";
import { WasmDevice } from "../../src/backend/wasm/device.ts";
import { gradients } from "../../src/graph/autodiff.ts";
import { avgPool2d, maxPool2d } from "../../src/graph/conv.ts";
import { avgPool, maxPool } from "../../src/graph/windows.ts";
import { sumAll } from "../../src/graph/functions.ts";
import { mul } from "../../src/graph/ops.ts";
import { Graph, type Tensor } from "../../src/graph/tensor.ts";
import { Random } from "../../src/util/random.ts";

/** The kernels (kind, and the pooling's op) a device's plan runs for `outputs`. */
function kernels(device: WasmDevice, outputs: Tensor[]): string[] {
  const plan = makePlan({ outputs }, {
    fuse: true,
    convolution: (s) => device.directConvolution(s),
    pooling: (s) => device.directPooling(s),
  });
  return plan.steps.map((s) => {
    const { kernel } = kernelOf(s, plan.groups!.get(s.id)!);
    return kernel.kind === "pool" ? `pool ${kernel.op}` : kernel.kind;
  });
}

/** [n, height, width, c], window size, stride. */
const SHAPES: [number[], number, number][] = [
  [[3, 28, 28, 32], 2, 2],
  [[2, 7, 7, 5], 2, 2], // an odd edge left out, channels not a multiple of 4
  [[2, 9, 9, 6], 3, 2], // overlapping windows
  [[1, 4, 6, 3], 1, 1],
];

Deno.test("poolings as one kernel", async (t) => {
  const devices = [
    await WasmDevice.create({ threads: 1 }),
    await WasmDevice.create({ threads: 2, splitAbove: 0 }),
  ];
  const fused = devices.map((d) => new Executor(d));
  const composed = new Executor(await WasmDevice.create({ threads: 1 }), { fuse: false });
  const reference = await createBackend({ kind: "cpu", precision: "float64" });
  try {
    for (const [shape, size, stride] of SHAPES) {
      await t.step(`[${shape}] ${size}x${size}/${stride}`, async () => {
        const g = new Graph();
        const x = g.input("x", shape);
        const outputs = [maxPool2d(x, size, stride), avgPool2d(x, size, stride)];
        const steps = kernels(devices[0], outputs);
        assert.ok(steps.includes("pool max") && steps.includes("pool sum"), steps.join());
        assert.ok(!steps.includes("patches"), `no windows are made: ${steps}`);
        const random = new Random(shape.reduce((a, b) => a * 31 + b, size));
        const values = Float32Array.from({ length: x.size }, () => random.normal());
        values[5] = NaN; // a NaN wins its windows' max, as in the composition
        values[values.length - 1] = Infinity;
        const feeds = { x: values };
        const expected = await composed.run(outputs, feeds);
        for (const backend of fused) {
          const got = await backend.run(outputs, feeds);
          got.forEach((v, i) => assert.deepEqual(v, expected[i], `output ${i}`));
        }
        assert.ok(expected[0].some(Number.isNaN), "the NaN reached a window");
        const exact = await reference.run(outputs, { x: values.map((v) => (v === v ? v : 0)) });
        const plain = await fused[0].run(outputs, { x: values.map((v) => (v === v ? v : 0)) });
        exact.forEach((e, i) =>
          e.forEach((v, j) => {
            const scale = Math.max(1, Math.abs(v === Infinity ? 0 : v));
            assert.ok(
              v === plain[i][j] || Math.abs(plain[i][j] - v) <= 1e-6 * scale,
              `output ${i}[${j}]: ${plain[i][j]}, expected ${v}`,
            );
          })
        );
      });
    }

    await t.step("the gradient of a max pooling reads the windows: they stay", () => {
      const g = new Graph();
      const x = g.input("x", [2, 8, 8, 4]);
      const y = maxPool2d(x, 2);
      const w = g.input("w", y.shape);
      const [dx] = gradients(sumAll(mul(y, w)), [x]);
      assert.ok(kernels(devices[0], [y, dx]).includes("patches"));
    });

    await t.step("windows that pad or overhang the image run as their composition", () => {
      const g = new Graph();
      const x = g.input("x", [2, 7, 7, 4]);
      for (
        const y of [
          maxPool(x, 2, 2, { strides: [2, 2], ceilMode: true }),
          avgPool(x, 3, 3, { pads: [1, 1, 1, 1] }),
        ]
      ) {
        const steps = kernels(devices[0], [y]);
        assert.ok(!steps.some((k) => k.startsWith("pool")), steps.join());
      }
    });
  } finally {
    for (const backend of [...fused, composed, reference]) backend.dispose();
  }
});
