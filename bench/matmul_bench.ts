/**
 * Matrix product at 256³ and 1024³ on magnet's CPU and WebGPU backends (and its plain JavaScript
 * device, the CPU backend before WebAssembly) beside TensorFlow.js 4.22 (cpu, wasm and webgpu
 * backends) and jax-js 0.1.25 (wasm backend) doing the same work, in one run. Every product's
 * result is read back inside the timed part. Prints GFLOP/s when it ends.
 *
 *   deno bench -A bench/matmul_bench.ts
 */
import { tf } from "./helpers/tfjs.ts";
import { numpy as np } from "@jax-js/jax";
import { createBackend } from "../src/backend/create.ts";
import type { Backend, Executable } from "../src/backend/backend.ts";
import { Executor } from "../src/backend/executor.ts";
import { JsDevice } from "../src/backend/js/device.ts";
import { matmul } from "../src/graph/ops.ts";
import { Graph, Variable } from "../src/graph/tensor.ts";
import { Random } from "../src/util/random.ts";
import { timed } from "./helpers/throughput.ts";
import { initJaxWasm } from "./helpers/jax.ts";

await initJaxWasm();

const backends: Record<string, Backend> = {
  cpu: await createBackend({ kind: "cpu" }),
  webgpu: await createBackend({ kind: "webgpu" }),
};
// The plain JavaScript device in float32: the CPU backend as it was before WebAssembly.
const jsBackend = new Executor(new JsDevice("float32"));

function randomMatrix(n: number, seed: number): Float32Array<ArrayBuffer> {
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
    Deno.bench(
      `magnet ${kind} ${n}³ x ${repeats}`,
      { ...options, baseline: kind === "cpu" },
      async () => {
        exe ??= await magnetProduct(backends[kind], n);
        await timed(group, `magnet ${kind}`, gflop * repeats, "GFLOP/s", async () => {
          const runs = [];
          for (let r = 0; r < repeats; r++) runs.push(exe!.run());
          await Promise.all(runs);
        });
      },
    );
  }

  {
    const name = "magnet js (float32, before)";
    let exe: Executable | undefined;
    Deno.bench(`${name} ${n}³ x ${repeats}`, options, async () => {
      exe ??= await magnetProduct(jsBackend, n);
      await timed(group, name, gflop * repeats, "GFLOP/s", async () => {
        for (let r = 0; r < repeats; r++) await exe!.run();
      });
    });
  }

  for (const kind of ["cpu", "wasm", "webgpu"] as const) {
    let inputs: [tf.Tensor2D, tf.Tensor2D] | undefined;
    Deno.bench(`tfjs ${kind} ${n}³ x ${repeats}`, options, async () => {
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

  {
    let inputs: [np.Array, np.Array] | undefined;
    Deno.bench(`jax-js wasm ${n}³ x ${repeats}`, options, async () => {
      inputs ??= [
        np.array(randomMatrix(n, 1)).reshape([n, n]),
        np.array(randomMatrix(n, 2)).reshape([n, n]),
      ];
      await timed(group, "jax-js wasm", gflop * repeats, "GFLOP/s", async () => {
        // jax-js is lazy: a product runs when its value is asked for, so read every one back
        // (data() realises the array, waits for the workers, copies C out, and disposes it).
        const outs = [];
        for (let r = 0; r < repeats; r++) outs.push(np.matmul(inputs![0].ref, inputs![1].ref));
        await Promise.all(outs.map((o) => o.data()));
      });
    });
  }
}
