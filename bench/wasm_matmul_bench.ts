/**
 * The WebAssembly SIMD matmul kernel (one thread) beside the plain-TypeScript CPU kernel, in one
 * run: 256³, 1024³, the nine products of a training step of the MLP 784-256-128-64 at batch 48,
 * and an embedding chunk x[2048,784] W[784,256]. Prints GFLOP/s (and ms per training step) when
 * it ends.
 *
 *   deno bench -A bench/wasm_matmul_bench.ts
 *
 * The wasm figures time the kernel on operands already in its memory, as a device holding its
 * tensors there would run it; V8 compiles wasm in tiers, so the warmup lets the optimising tier
 * take over before anything is timed.
 */
import { matmul } from "../src/backend/js/matmul.ts";
import { relaxedSimdSupported, WasmMatmul } from "../src/backend/wasm/matmul_kernel.ts";
import { Random } from "../src/util/random.ts";
import { record } from "./helpers/throughput.ts";

interface Shape {
  label: string;
  m: number;
  n: number;
  k: number;
  transposeA: boolean;
  transposeB: boolean;
}

function shape(label: string, m: number, n: number, k: number, tA = false, tB = false): Shape {
  return { label, m, n, k, transposeA: tA, transposeB: tB };
}

function randomArray(length: number, seed: number): Float32Array {
  const rng = new Random(seed);
  return Float32Array.from({ length }, () => rng.normal());
}

const kernels: [string, WasmMatmul][] = [["wasm mul+add", new WasmMatmul({ relaxed: false })]];
if (relaxedSimdSupported()) kernels.unshift(["wasm relaxed", new WasmMatmul({ relaxed: true })]);

/** Runs `fn` until about `seconds` have passed, at least `min` times; returns the count. */
function repeatFor(seconds: number, min: number, fn: () => void): number {
  const start = performance.now();
  let count = 0;
  while (count < min || performance.now() - start < seconds * 1000) {
    fn();
    count++;
  }
  return count;
}

/**
 * Benchmarks of `shapes` run back to back (as one unit: a training step is nine products) for
 * each kernel, recorded in GFLOP/s, or in ms per unit when `perUnit` is set.
 */
function benchShapes(group: string, shapes: Shape[], perUnit?: string): void {
  const flop = shapes.reduce((sum, s) => sum + 2 * s.m * s.n * s.k, 0);
  const gflop = flop / 1e9;
  // Enough repetitions that each timed iteration lasts a few milliseconds.
  const repeats = Math.max(1, Math.round(2e8 / flop));
  const unit = perUnit ?? "GFLOP/s";
  const work = perUnit === undefined ? gflop * repeats : repeats;
  const options = { group, n: flop > 1e9 ? 5 : 20, warmup: 3 };

  // deno bench's warmup iterations run the same function; they are not recorded.
  const recorder = (name: string) => {
    let calls = 0;
    return (seconds: number) => {
      if (++calls > options.warmup) record(group, name, work, unit, seconds);
    };
  };

  for (const [name, kernel] of kernels) {
    const save = recorder(name);
    let runs: (() => void)[] | undefined;
    Deno.bench(`${name} ${group} x ${repeats}`, options, () => {
      if (runs === undefined) {
        // The products of a unit lie side by side in the memory, as a device's tensors would.
        runs = shapes.map((s, i) => {
          const a = randomArray(s.m * s.k, 2 * i);
          const b = randomArray(s.k * s.n, 2 * i + 1);
          const prepared = kernel.prepare(a, b, s.m, s.n, s.k, s.transposeA, s.transposeB);
          return () => prepared.run();
        });
        // Let V8's optimising tier replace the baseline code before anything is timed.
        repeatFor(0.3, 3, () => runs!.forEach((run) => run()));
      }
      const start = performance.now();
      for (let r = 0; r < repeats; r++) for (const run of runs) run();
      save((performance.now() - start) / 1000);
    });
  }

  const saveTs = recorder("typescript");
  let ts: (() => void)[] | undefined;
  Deno.bench(`typescript ${group} x ${repeats}`, { ...options, baseline: true }, () => {
    if (ts === undefined) {
      ts = shapes.map((s, i) => {
        const a = randomArray(s.m * s.k, 2 * i);
        const b = randomArray(s.k * s.n, 2 * i + 1);
        const out = new Float32Array(s.m * s.n);
        return () => matmul(a, b, out, s.m, s.n, s.k, s.transposeA, s.transposeB);
      });
      repeatFor(0.3, 1, () => ts!.forEach((run) => run()));
    }
    const start = performance.now();
    for (let r = 0; r < repeats; r++) for (const run of ts) run();
    saveTs((performance.now() - start) / 1000);
  });
}

benchShapes("256x256x256", [shape("256³", 256, 256, 256)]);
benchShapes("1024x1024x1024", [shape("1024³", 1024, 1024, 1024)]);

// A training step of the MLP 784-256-128-64 at batch 48: per layer (in -> out) the forward
// product x W, the weight gradient xᵀ dy and the input gradient dy Wᵀ.
const layers: [number, number][] = [[784, 256], [256, 128], [128, 64]];
const batch = 48;
const step: Shape[] = [];
for (const [inputs, outputs] of layers) {
  const forward = shape(`fwd ${batch}x${outputs}x${inputs}`, batch, outputs, inputs);
  const dW = shape(`dW ${inputs}x${outputs}x${batch} tA`, inputs, outputs, batch, true, false);
  const dx = shape(`dx ${batch}x${inputs}x${outputs} tB`, batch, inputs, outputs, false, true);
  for (const s of [forward, dW, dx]) {
    benchShapes(s.label, [s]);
    step.push(s);
  }
}
benchShapes("MLP step (9 products)", step, "ms/step");
benchShapes("embed 2048x256x784", [shape("embed", 2048, 256, 784)]);
