/**
 * Device memory given back on demand: a compiled graph's, a variable's, and a whole training run's,
 * so a process that trains run after run (the experiments) does not grow.
 */
import assert from "node:assert/strict";
import { WasmDevice } from "../../src/backend/wasm/device.ts";
import { Executor } from "../../src/backend/executor.ts";
import { Graph, Variable } from "../../src/graph/tensor.ts";
import { add, matmul } from "../../src/graph/ops.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { syntheticImages } from "../helpers/idx.ts";
import type { Dataset } from "../../src/data/dataset.ts";

Deno.test("release", async (t) => {
  const device = await WasmDevice.create({ threads: 1 });
  const backend = new Executor(device);
  const used = () => device.memoryUse.used;
  try {
    await t.step("a disposed graph frees its slots at once, and refuses to run", async () => {
      const compile = () => {
        const g = new Graph();
        const x = g.input("x", [64, 64]);
        return backend.compile({ outputs: [add(matmul(x, x), 1)] });
      };
      // The device keeps the matrix product's packing scratch, grown once to the largest need.
      (await compile()).dispose();
      const before = used();
      const exe = await compile();
      await exe.run({ x: new Float32Array(64 * 64) });
      assert.ok(used() > before);
      exe.dispose();
      assert.equal(used(), before);
      exe.dispose(); // twice is harmless
      await assert.rejects(exe.run({ x: new Float32Array(64 * 64) }), /has been disposed/);
    });

    await t.step(
      "released variables free their memory and start again from their initial value",
      async () => {
        const w = new Variable("w", [256], new Float32Array(256).fill(3));
        const before = used();
        backend.writeVariable(w, new Float32Array(256).fill(7));
        assert.ok(used() > before);
        backend.releaseVariables([w]);
        assert.equal(used(), before);
        assert.deepEqual([...(await backend.readVariable(w)).slice(0, 2)], [3, 3]);
        backend.releaseVariables([w]);
      },
    );

    await t.step(
      "a disposed trainer gives its run's memory back: runs in turn do not grow",
      async () => {
        const { pixels, labels } = syntheticImages(90, 8, 3, 1);
        const train: Dataset = {
          features: Float32Array.from(pixels, (p) => p / 255),
          dim: 64,
          labels: Int32Array.from(labels),
          classNames: ["a", "b", "c"],
          imageShape: [8, 8, 1],
        };
        const settings = {
          model: "cnn" as const,
          conv: [4],
          hidden: [8],
          embeddingDim: 4,
          iterations: 20,
          m: 3,
          d: 3,
          k: 2,
          evalEvery: 0,
        };
        const after: number[] = [];
        for (let run = 0; run < 3; run++) {
          const trainer = await Trainer.create({ backend, train, test: train }, {
            ...settings,
            seed: run,
          });
          await trainer.run();
          await trainer.dispose();
          after.push(used());
        }
        // The first run leaves the search and k-means graphs every run shares; later ones add nothing.
        assert.equal(after[2], after[1]);
        assert.equal(after[1], after[0]);
      },
    );
  } finally {
    backend.dispose();
  }
});
