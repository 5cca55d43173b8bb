/**
 * The WebAssembly device's worker threads (Web Workers): jobs split across them give the bits one
 * thread gives; idle workers leave and new ones take over, also while modules are being loaded; a
 * program that never disposes its backend still exits.
 */
import assert from "node:assert/strict";
import {
  splitsInnerDimension,
  splitsReducedAxis,
  WasmDevice,
} from "../../src/backend/wasm/device.ts";
import { defaultMatmulConfig } from "../../src/backend/wasm/matmul_kernel.ts";
import { matmulReference } from "../helpers/matmul_reference.ts";
import { Executor } from "../../src/backend/executor.ts";
import { Graph, Variable } from "../../src/graph/tensor.ts";
import { allFinite } from "../../src/graph/functions.ts";
import { exp, matmul, max, mul, sum } from "../../src/graph/ops.ts";
import { Random } from "../../src/util/random.ts";

function randomArray(seed: number, n: number): Float32Array {
  const rng = new Random(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

async function until(condition: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`${what} within ${ms / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Deno.test("idle workers leave, new ones take over, and every run gives one thread's bits", async () => {
  const single = new Executor(await WasmDevice.create({ threads: 1 }));
  // Idle for a second before leaving: long enough that on a loaded machine the workers are still
  // there for the first checks (with 50 ms they were sometimes gone already), short for the test.
  const device = await WasmDevice.create({ threads: 3, splitAbove: 0, idleMs: 1000 });
  const pooled = new Executor(device);
  try {
    const g = new Graph();
    const a = g.input("a", [61, 37]), b = g.input("b", [37, 29]);
    const feeds = { a: randomArray(1, 61 * 37), b: randomArray(2, 37 * 29) };
    const product = matmul(a, b);
    const [expected] = await single.run([product], feeds);
    const same = async (when: string) => {
      const [got] = await pooled.run([product], feeds);
      assert.deepEqual(got, expected, `the product differs ${when}`);
    };

    assert.equal(device.activeThreads, 3);
    await same("with three threads");
    await until(() => device.activeThreads === 1, "idle workers did not leave");
    // The caller works alone while new workers start; a module loaded meanwhile reaches them.
    await same("while the workers are away");
    const c = g.input("c", [61, 29]);
    const fused = exp(mul(product, c));
    const cFeed = { ...feeds, c: randomArray(3, 61 * 29) };
    const [fusedExpected] = await single.run([fused], cFeed);
    assert.deepEqual((await pooled.run([fused], cFeed))[0], fusedExpected, "alone, new module");
    await until(() => device.activeThreads === 3, "new workers did not start");
    assert.deepEqual((await pooled.run([fused], cFeed))[0], fusedExpected, "new workers");
    await same("with the new workers");
  } finally {
    pooled.dispose();
    single.dispose();
  }
});

Deno.test("a program that never disposes its CPU backend exits", async () => {
  const code = `
    const { createBackend, Graph, matmul } = await import(${
    JSON.stringify(new URL("../../mod.ts", import.meta.url).href)
  });
    const backend = await createBackend({ kind: "cpu", threads: 2 });
    const g = new Graph();
    const x = g.input("x", [256, 256]);
    const [y] = await backend.run([matmul(x, x)], { x: new Float32Array(256 * 256).fill(1) });
    console.log(backend.description, y[0]);`;
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=js", code],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const out = await child.output();
  clearTimeout(timer);
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `the program did not exit by itself within 30 s:\n${text}`);
  assert.match(text, /CPU \(WebAssembly .*2 threads\) 256/);
  const seconds = (performance.now() - started) / 1000;
  assert.ok(seconds < 20, `it took ${seconds.toFixed(1)} s to exit`);
});

Deno.test("a kernel gradient over many pixels is split along the pixels: every thread count gives the same bits, within float32's bound", async () => {
  // Aᵀ B with A 9000 x 9 (the windows of a one-channel image, stored transposed) and B 9000 x 32:
  // nine rows of output are one micro-tile band, so the pixels are split into chunks instead.
  const k = 9000, m = 9, n = 32;
  const devices = await Promise.all(
    [1, 2, 3].map((threads) => WasmDevice.create({ threads, splitAbove: 0 })),
  );
  assert.ok(
    splitsInnerDimension(
      { kind: "matmul", m, n, k, transposeA: true, transposeB: false },
      defaultMatmulConfig(devices[0].relaxed).mr,
    ),
  );
  const backends = devices.map((d) => new Executor(d));
  try {
    const g = new Graph();
    const a = g.input("a", [k, m]), b = g.input("b", [k, n]);
    const feeds = { a: randomArray(4, k * m), b: randomArray(5, k * n) };
    const product = matmul(a, b, true);
    const results = [];
    for (const backend of backends) results.push((await backend.run([product], feeds))[0]);
    assert.deepEqual(results[1], results[0], "two threads");
    assert.deepEqual(results[2], results[0], "three threads");
    const { value, scale } = matmulReference(feeds.a, feeds.b, m, n, k, true, false);
    for (let i = 0; i < m * n; i++) {
      const bound = (k + 2) * 2 ** -24 * scale[i];
      assert.ok(Math.abs(results[0][i] - value[i]) <= bound, `entry ${i}`);
    }
  } finally {
    for (const backend of backends) backend.dispose();
  }
});

Deno.test("variable updates split across threads apply every value, and none when the guard fails", async () => {
  const backend = new Executor(await WasmDevice.create({ threads: 3, splitAbove: 0 }));
  try {
    const size = 1001; // not a multiple of the threads' shares: the last share is partial
    const v = new Variable("v", [size], Array.from({ length: size }, (_, i) => i));
    const g = new Graph();
    const scale = g.input("scale", [1]);
    const next = mul(g.variable(v), scale);
    const ok = allFinite([next]);
    const exe = await backend.compile({ outputs: [ok], updates: [[v, next]], guard: ok });
    await exe.run({ scale: [2] });
    assert.deepEqual(
      [...await backend.readVariable(v)],
      Array.from({ length: size }, (_, i) => 2 * i),
    );
    await exe.run({ scale: [Infinity] }); // 0 * Infinity is NaN: the guard keeps v
    assert.deepEqual(
      [...await backend.readVariable(v)],
      Array.from({ length: size }, (_, i) => 2 * i),
    );
    exe.dispose();
  } finally {
    backend.dispose();
  }
});

Deno.test("column sums and maxima of a tall matrix are split along its rows: every thread count gives the same bits, within float32's bound", async () => {
  const rows = 5000, columns = 37; // five chunks, the last one partial; a scalar tail of columns
  assert.ok(
    splitsReducedAxis({ kind: "reduce", op: "sum", outer: 1, length: rows, inner: columns }),
  );
  const backends = await Promise.all(
    [1, 2, 3].map(async (threads) =>
      new Executor(await WasmDevice.create({ threads, splitAbove: 0 }))
    ),
  );
  try {
    const g = new Graph();
    const x = g.input("x", [rows, columns]);
    const outputs = [sum(x, 0), max(x, 0)];
    const values = randomArray(6, rows * columns);
    values[3 * columns + 5] = NaN; // wins column 5's maximum, and its sum
    const results = [];
    for (const backend of backends) results.push(await backend.run(outputs, { x: values }));
    assert.deepEqual(results[1], results[0], "two threads");
    assert.deepEqual(results[2], results[0], "three threads");
    const [sums, maxima] = results[0];
    assert.ok(Number.isNaN(sums[5]) && Number.isNaN(maxima[5]));
    for (let j = 0; j < columns; j++) {
      if (j === 5) continue;
      let exact = 0, scale = 0, top = -Infinity;
      for (let r = 0; r < rows; r++) {
        const v = values[r * columns + j];
        exact += v;
        scale += Math.abs(v);
        top = Math.max(top, v);
      }
      assert.ok(Math.abs(sums[j] - exact) <= (rows + 2) * 2 ** -24 * scale, `sum ${j}`);
      assert.equal(maxima[j], top, `max ${j}`);
    }
  } finally {
    for (const backend of backends) backend.dispose();
  }
});
