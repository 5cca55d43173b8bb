/**
 * The WebAssembly device's memory past 2 GiB and up to its 4 GiB limit: byte offsets above 2^31
 * reach the worker threads intact (a CNN trains with every kernel split across two threads and
 * ends exactly as on a fresh device), and a graph too large for what is left is refused before
 * anything is allocated, after which the same backend keeps working.
 *
 * The memory below the graphs is taken by one block nobody writes, so the test touches only the
 * few megabytes it computes with, whatever the offsets.
 */
import assert from "node:assert/strict";
import { WasmDevice } from "../../src/backend/wasm/device.ts";
import { Executor } from "../../src/backend/executor.ts";
import type { DeviceBuffer } from "../../src/backend/device.ts";
import { Graph } from "../../src/graph/tensor.ts";
import { add, mul } from "../../src/graph/ops.ts";
import { TooLargeError } from "../../src/errors.ts";
import { Trainer } from "../../src/train/trainer.ts";
import type { Dataset } from "../../src/data/dataset.ts";
import { syntheticImages } from "../helpers/idx.ts";

const GiB = 2 ** 30;

const { pixels, labels } = syntheticImages(60, 8, 3, 1);
const IMAGES: Dataset = {
  features: Float32Array.from(pixels, (p) => p / 255),
  dim: 64,
  labels: Int32Array.from(labels),
  classNames: ["a", "b", "c"],
  imageShape: [8, 8, 1],
};
const SETTINGS = {
  model: "cnn" as const,
  conv: [4],
  hidden: [8],
  embeddingDim: 4,
  iterations: 8,
  m: 3,
  d: 3,
  k: 2,
  refreshEvery: 4,
  evalEvery: 0,
  seed: 5,
};

/** Every kernel split across two threads, as a large run's would be. */
function threaded(): Promise<WasmDevice> {
  return WasmDevice.create({ threads: 2, splitAbove: 0 });
}

/** Trains the small CNN on `backend`; its metrics and final variables. */
async function trainOn(backend: Executor) {
  const trainer = await Trainer.create({ backend, train: IMAGES, test: IMAGES }, SETTINGS);
  const result = await trainer.run();
  const variables = await Promise.all(trainer.variables.map((v) => backend.readVariable(v)));
  await trainer.dispose();
  return { test: result.test, losses: result.history.map((p) => p.loss), variables };
}

/**
 * Takes every free block below the top, then one block up to byte `end`, so that whatever the
 * device allocates next (buffers, argument blocks, modules handed to the workers) lies above it.
 */
function fillTo(device: WasmDevice, end: number): DeviceBuffer[] {
  const taken: DeviceBuffer[] = [];
  const top = device.memoryUse.peak;
  for (;;) {
    const block = device.alloc(1024, "float");
    taken.push(block);
    if (device.memoryUse.peak > top) break;
  }
  const rest = end - device.memoryUse.peak;
  if (rest > 0) taken.push(device.alloc(Math.floor(rest / 4), "float"));
  return taken;
}

Deno.test("WebAssembly memory past 2 GiB", async (t) => {
  const fresh = new Executor(await threaded());
  const expected = await trainOn(fresh);
  fresh.dispose();

  const device = await threaded();
  const backend = new Executor(device);
  try {
    await t.step("a threaded run across the 2 GiB boundary ends as on a fresh device", async () => {
      // The graphs start a little below 2^31 and end above it.
      fillTo(device, 2 * GiB - 256 * 1024);
      assert.deepEqual(await trainOn(backend), expected);
      assert.ok(device.memoryUse.peak > 2 * GiB, `peak ${device.memoryUse.peak}`);
    });

    await t.step("and close to the 4 GiB limit", async () => {
      fillTo(device, 4 * GiB - 48 * 2 ** 20);
      assert.deepEqual(await trainOn(backend), expected);
      assert.ok(device.memoryUse.peak > 4 * GiB - 48 * 2 ** 20);
    });

    await t.step("a graph too large is refused whole, and the backend keeps working", async () => {
      const used = device.memoryUse.used;
      const g = new Graph();
      const x = g.input("x", [64 * 2 ** 20]); // 256 MiB, more than is left
      await assert.rejects(
        backend.compile({ outputs: [add(mul(x, 2), 1)] }),
        (e: Error) =>
          e instanceof TooLargeError &&
          /needs 512\.0 MiB of device memory, but only .* left .*input "x"/.test(e.message),
      );
      assert.equal(device.memoryUse.used, used, "nothing stayed allocated");
      assert.deepEqual(await trainOn(backend), expected);
    });
  } finally {
    backend.dispose();
  }
});
