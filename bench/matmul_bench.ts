/**
 * Matrix product at 256³ and 1024³ on magnet's CPU and WebGPU backends beside TensorFlow.js 4.22
 * (cpu and webgpu backends) doing the same work, in one run. Prints GFLOP/s when it ends.
 *
 *   deno bench -A bench/matmul_bench.ts
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { createBackend } from "../src/backend/create.ts";
import type { Backend, Executable } from "../src/backend/backend.ts";
import { matmul } from "../src/graph/ops.ts";
import { Graph, Variable } from "../src/graph/tensor.ts";
import { Random } from "../src/util/random.ts";
import { timed } from "./helpers/throughput.ts";

const backends: Record<string, Backend> = {
  cpu: await createBackend({ kind: "cpu" }),
  webgpu: await createBackend({ kind: "webgpu" }),
};

function randomMatrix(n: number, seed: number): Float32Array {
  const rng = new Random(seed);
  return Float32Array.from({ length: n * n }, () => rng.normal());
}

/** A compiled n x n product of two resident variables; each run returns C's first row. */
async function magnetProduct(backend: Backend, n: number): Promise<Executable> {
  const a = new Variable("a", [n, n], randomMatrix(n, 1));
  const b = new Variable("b", [n, n], randomMatrix(n, 2));
  const g = new Graph();
  return await backend.compile({ outputs: [matmul(g.variable(a), g.variable(b))] });
}

for (const n of [256, 1024]) {
  const gflop = (2 * n ** 3) / 1e9;
  // Enough products per iteration that the ~11 ms wait for the GPU is not what is measured.
  const repeats = n === 256 ? 8 : 1;
  const group = `matmul ${n}x${n}x${n}`;
  const options = { group, n: n === 1024 ? 3 : 10, warmup: 1 };

  for (const kind of ["cpu", "webgpu"] as const) {
    let exe: Executable | undefined;
    Deno.bench(`magnet ${kind} ${n}³`, { ...options, baseline: kind === "cpu" }, async () => {
      exe ??= await magnetProduct(backends[kind], n);
      await timed(group, `magnet ${kind}`, gflop * repeats, "GFLOP/s", async () => {
        const runs = [];
        for (let r = 0; r < repeats; r++) runs.push(exe!.run());
        await Promise.all(runs);
      });
    });
  }

  for (const kind of ["cpu", "webgpu"] as const) {
    let inputs: [tf.Tensor2D, tf.Tensor2D] | undefined;
    Deno.bench(`tfjs ${kind} ${n}³`, options, async () => {
      await tf.setBackend(kind);
      inputs ??= [tf.tensor2d(randomMatrix(n, 1), [n, n]), tf.tensor2d(randomMatrix(n, 2), [n, n])];
      await timed(group, `tfjs ${kind}`, gflop * repeats, "GFLOP/s", async () => {
        const outs = [];
        for (let r = 0; r < repeats; r++) outs.push(tf.matMul(inputs![0], inputs![1]));
        await Promise.all(outs.map((o) => o.data()));
        for (const o of outs) o.dispose();
      });
    });
  }
}
