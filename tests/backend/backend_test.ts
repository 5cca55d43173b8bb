/**
 * Behaviour every backend shares: choosing a backend, compiled plans, feeds checking, variables and
 * updates, queued runs, disposal.
 */
import assert from "node:assert/strict";
import { createBackend } from "../../src/backend/create.ts";
import { makePlan } from "../../src/backend/plan.ts";
import { BackendUnavailableError, MagnetInputError } from "../../src/errors.ts";
import { add, div, exp, gather, matmul, mul, segmentSum, sub } from "../../src/graph/ops.ts";
import { allFinite, sumAll } from "../../src/graph/functions.ts";
import { gradients } from "../../src/graph/autodiff.ts";
import { Graph, Variable } from "../../src/graph/tensor.ts";
import { assertClose, gpuTestOptions, openBackends, skipWebGpu } from "../helpers/backends.ts";

Deno.test("createBackend", gpuTestOptions, async (t) => {
  await t.step(
    "cpu gives the CPU backend, in float32 unless float64 is asked for",
    async () => {
      const cpu = await createBackend({ kind: "cpu" });
      assert.equal(cpu.kind, "cpu");
      assert.equal(cpu.precision, "float32");
      cpu.dispose();
      const f64 = await createBackend({ kind: "cpu", precision: "float64" });
      assert.equal(f64.precision, "float64");
      f64.dispose();
    },
  );

  await t.step(
    "auto picks a hardware GPU, else the CPU; webgpu gives any adapter",
    async () => {
      if (skipWebGpu) return;
      const { WebGpuDevice } = await import(
        "../../src/backend/webgpu/device.ts"
      );
      const probe = await WebGpuDevice.create();
      const software = probe.adapterIsSoftware;
      probe.dispose();
      const auto = await createBackend();
      // A software adapter (llvmpipe here) runs on the CPU, slower than the CPU backend.
      assert.equal(auto.kind, software ? "cpu" : "webgpu");
      auto.dispose();
      const webgpu = await createBackend({ kind: "webgpu" });
      assert.equal(webgpu.kind, "webgpu");
      assert.match(webgpu.description, /WebGPU/);
      webgpu.dispose();
    },
  );

  await t.step(
    "without an adapter: webgpu rejects and says how to fall back; auto falls back",
    async () => {
      const gpu = navigator.gpu as GPU & {
        requestAdapter: GPU["requestAdapter"];
      };
      const original = gpu.requestAdapter;
      Object.defineProperty(gpu, "requestAdapter", {
        value: () => Promise.resolve(null),
        configurable: true,
      });
      try {
        await assert.rejects(
          createBackend({ kind: "webgpu" }),
          (e: Error) =>
            e instanceof BackendUnavailableError &&
            /no WebGPU adapter/.test(e.message) &&
            /kind: "cpu"/.test(e.message),
        );
        const auto = await createBackend({ kind: "auto" });
        assert.equal(auto.kind, "cpu");
        auto.dispose();
      } finally {
        Object.defineProperty(gpu, "requestAdapter", {
          value: original,
          configurable: true,
        });
      }
    },
  );

  await t.step(
    "an adapter offered only as a fallback (lavapipe beside GL) is opened",
    async () => {
      if (skipWebGpu) return;
      const gpu = navigator.gpu as GPU & {
        requestAdapter: GPU["requestAdapter"];
      };
      const original = gpu.requestAdapter;
      // A hardware GPU machine may have no fallback adapter at all: then the backend is refused.
      const fallbackExists = await original.call(gpu, { forceFallbackAdapter: true }) !== null;
      const asked: boolean[] = [];
      Object.defineProperty(gpu, "requestAdapter", {
        value: (options?: GPURequestAdapterOptions) => {
          asked.push(options?.forceFallbackAdapter ?? false);
          return options?.forceFallbackAdapter
            ? original.call(gpu, options)
            : Promise.resolve(null);
        },
        configurable: true,
      });
      try {
        if (fallbackExists) {
          const webgpu = await createBackend({ kind: "webgpu" });
          assert.equal(webgpu.kind, "webgpu");
          webgpu.dispose();
        } else {
          await assert.rejects(createBackend({ kind: "webgpu" }), BackendUnavailableError);
        }
        assert.deepEqual(asked, [false, true]);
      } finally {
        Object.defineProperty(gpu, "requestAdapter", {
          value: original,
          configurable: true,
        });
      }
    },
  );

  await t.step(
    "a runtime without WebGPU imports the library and reaches the CPU",
    async () => {
      // A fresh process whose WebGPU globals are gone before the library loads.
      const code = `
      Object.defineProperty(Navigator.prototype, "gpu", { get: () => undefined });
      for (const name of Object.getOwnPropertyNames(globalThis)) {
        if (name.startsWith("GPU")) delete globalThis[name];
      }
      const { createBackend } = await import(${
        JSON.stringify(new URL("../../mod.ts", import.meta.url).href)
      });
      const backend = await createBackend();
      console.log(backend.kind, typeof GPUBufferUsage);
      backend.dispose();`;
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["eval", "--ext=js", code],
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) +
        new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, text);
      assert.equal(text.trim(), "cpu undefined");
    },
  );

  await t.step(
    "compiled graphs nobody holds give their memory back",
    async () => {
      // In a process with the collector exposed: compile many graphs, drop them, collect.
      const code = `
      const { WasmDevice } = await import(${
        JSON.stringify(
          new URL("../../src/backend/wasm/device.ts", import.meta.url).href,
        )
      });
      const { Executor } = await import(${
        JSON.stringify(
          new URL("../../src/backend/executor.ts", import.meta.url).href,
        )
      });
      const { Graph } = await import(${
        JSON.stringify(
          new URL("../../src/graph/tensor.ts", import.meta.url).href,
        )
      });
      const ops = await import(${
        JSON.stringify(new URL("../../src/graph/ops.ts", import.meta.url).href)
      });
      const device = await WasmDevice.create({ threads: 1 });
      const backend = new Executor(device);
      const base = device.memoryUse.used;
      for (let i = 0; i < 50; i++) {
        const g = new Graph();
        const x = g.input("x", [512, 512]);
        const exe = await backend.compile({ outputs: [ops.exp(ops.matmul(x, x))] });
        await exe.run({ x: new Float32Array(512 * 512) });
      }
      const grown = device.memoryUse.used - base;
      for (let i = 0; i < 5; i++) { gc(); await new Promise((r) => setTimeout(r, 20)); }
      console.log(JSON.stringify({ grown, kept: device.memoryUse.used - base }));
      backend.dispose();`;
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["eval", "--v8-flags=--expose-gc", "--ext=js", code],
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const { grown, kept } = JSON.parse(text);
      assert.ok(
        grown > 50 * 2 * 512 * 512 * 4,
        `50 graphs took ${grown} bytes`,
      );
      assert.ok(
        kept < grown / 10,
        `after collection ${kept} of ${grown} bytes are still held`,
      );
    },
  );

  await t.step("bad choices are named", async () => {
    await assert.rejects(
      createBackend({ kind: "tpu" as "cpu" }),
      (e: Error) =>
        e instanceof MagnetInputError &&
        /unknown backend "tpu"/.test(e.message),
    );
    await assert.rejects(
      createBackend({ kind: "webgpu", precision: "float64" }),
      /webgpu backend has no float64/,
    );
  });
});

Deno.test("shape errors name the op and both shapes", () => {
  const g = new Graph();
  const a = g.input("a", [2, 3]);
  const b = g.input("b", [4, 5]);
  assert.throws(
    () => add(a, b),
    /add: shapes \[2,3\] and \[4,5\] do not broadcast/,
  );
  assert.throws(
    () => matmul(a, b),
    /matmul: inner dimensions differ: \[2,3\] x \[4,5\] \(3 vs 4\)/,
  );
  assert.throws(() => g.input("a", [1]), /an input named "a" exists/);
  assert.throws(() => g.input("c", [0, 2]), /positive integers/);
  const idx = g.input("idx", [3], "int32");
  assert.throws(
    () => segmentSum(a, idx, 2),
    /segmentSum: indices have 3 entries but the data has 2 rows/,
  );
  assert.throws(
    () => gather(a, a),
    /gather: indices must be a rank-1 int32 tensor, got float \[2,3\]/,
  );
});

Deno.test("plans reuse temporary storage", () => {
  const g = new Graph();
  let x = g.input("x", [64, 64]);
  for (let i = 0; i < 20; i++) x = exp(mul(x, 0.5));
  const plan = makePlan({ outputs: [x] });
  assert.equal(plan.steps.length, 40);
  const temps = plan.slots.filter((s) => s.role === "temp");
  assert.ok(
    temps.length <= 3,
    `a chain of 40 ops used ${temps.length} temporary slots`,
  );
});

Deno.test(
  "autodiff accumulates shared uses and gives zeros to unrelated inputs",
  gpuTestOptions,
  async () => {
    const g = new Graph();
    const x = g.input("x", [3]);
    const z = g.input("z", [3]);
    const y = sumAll(add(mul(x, x), x)); // dy/dx = 2x + 1
    const [dx, dz] = gradients(y, [x, z]);
    const backend = await createBackend({ kind: "cpu" });
    const [gx, gz] = await backend.run([dx, dz], {
      x: [1, 2, 3],
      z: [0, 0, 0],
    });
    assertClose(gx, [3, 5, 7]);
    assertClose(gz, [0, 0, 0]);
    assert.throws(() => gradients(mul(x, 2), [x]), /y must be a scalar/);
    backend.dispose();
  },
);

Deno.test("backends", gpuTestOptions, async (t) => {
  const backends = await openBackends();
  try {
    for (const backend of backends) {
      await t.step(
        `${backend.kind}: feeds are checked with clear messages`,
        async () => {
          const g = new Graph();
          const x = g.input("x", [3, 2]);
          const idx = g.input("idx", [2], "int32");
          const y = gather(x, idx);
          const exe = await backend.compile({ outputs: [y] });
          await assert.rejects(
            exe.run({ x: [1, 2, 3, 4, 5, 6] }),
            /missing feeds for input\(s\) "idx" \[2\]/,
          );
          await assert.rejects(
            exe.run({ x: [1, 2, 3], idx: [0, 1] }),
            /input "x" needs 6 values for shape \[3,2\], got 3/,
          );
          await assert.rejects(
            exe.run({ x: [1, 2, 3, 4, 5, 6], idx: [0, 3] }),
            /gather: input "idx" has index 3 at position 1, outside \[0, 3\)/,
          );
          await assert.rejects(
            exe.run({ x: [1, 2, 3, 4, 5, 6], idx: [0, 0.5] }),
            /int32 but holds 0.5/,
          );
          const [out] = await exe.run({ x: [1, 2, 3, 4, 5, 6], idx: [2, 0] });
          assertClose(out, [5, 6, 1, 2]);
        },
      );

      await t.step(
        `${backend.kind}: variables persist and updates apply after the run`,
        async () => {
          const v = new Variable("v", [2], [1, 2]);
          const g = new Graph();
          const vt = g.variable(v);
          const step = g.input("step", [2]);
          const next = add(vt, step);
          const exe = await backend.compile({
            outputs: [vt],
            updates: [[v, next]],
          });
          const seen: number[][] = [];
          for (let i = 0; i < 3; i++) {
            seen.push([...(await exe.run({ step: [10, 100] }))[0]]);
          }
          assert.deepEqual(seen, [[1, 2], [11, 102], [21, 202]]);
          assertClose(await backend.readVariable(v), [31, 302]);
          backend.writeVariable(v, [0, -1]);
          assertClose((await exe.run({ step: [1, 1] }))[0], [0, -1]);
          assert.throws(
            () => backend.writeVariable(v, [1]),
            /holds 2 values, got 1/,
          );
        },
      );

      await t.step(
        `${backend.kind}: a guard keeps every variable when any update value is not finite`,
        async () => {
          const v = new Variable("guarded v", [2], [1, 2]);
          const u = new Variable("guarded u", [1], [5]);
          const g = new Graph();
          const x = g.input("x", [2]);
          const nextV = div(g.variable(v), x);
          const nextU = add(g.variable(u), 1);
          const ok = allFinite([nextV, nextU]);
          const exe = await backend.compile({
            outputs: [ok],
            updates: [[v, nextV], [u, nextU]],
            guard: ok,
          });
          const seen: number[][] = [];
          for (const feed of [[2, 2], [0, 1], [NaN, 1], [1, 4], [4, 1]]) {
            const [applied] = await exe.run({ x: feed });
            seen.push([
              applied[0],
              ...await backend.readVariable(v),
              ...await backend.readVariable(u),
            ]);
          }
          assert.deepEqual(seen, [
            [1, 0.5, 1, 6],
            [0, 0.5, 1, 6], // 0.5 / 0 = Infinity: nothing applies, not even u's finite update
            [0, 0.5, 1, 6],
            [1, 0.5, 0.25, 7],
            [1, 0.125, 0.25, 8],
          ]);
        },
      );

      await t.step(
        `${backend.kind}: allFinite finds a non-finite element among tensors of one shape`,
        async () => {
          // Tensors of one shape are counted together (an optimizer's parameter and its moments):
          // a NaN or an infinity in any of them, at any element, must still be seen.
          const g = new Graph();
          const a = g.input("a", [3]), b = g.input("b", [3]), c = g.input("c", [1]);
          const exe = await backend.compile({ outputs: [allFinite([a, c, b, mul(a, b)])] });
          const cases: [number[], number[], number[], number][] = [
            [[1, 2, 3], [4, 5, 6], [7], 1],
            [[1, 2, 3], [4, 5, NaN], [7], 0],
            [[Infinity, 2, 3], [4, 5, 6], [7], 0],
            [[1, 2, 3], [4, 5, 6], [-Infinity], 0],
            [[1, 1e30, 3], [4, 1e30, 6], [7], 0], // only the product overflows
            [[-1, 0, -3], [0, -5, 0], [0], 1],
          ];
          for (const [av, bv, cv, expected] of cases) {
            const [ok] = await exe.run({ a: av, b: bv, c: cv });
            assert.equal(ok[0], expected, `a ${av}, b ${bv}, c ${cv}`);
          }
        },
      );

      await t.step(
        `${backend.kind}: runs queued without waiting keep their order`,
        async () => {
          // Gradient descent on (w - 3)^2, queued 50 times before awaiting anything.
          const w = new Variable("w", [1], [0]);
          const g = new Graph();
          const wt = g.variable(w);
          const loss = sumAll(mul(sub(wt, 3), sub(wt, 3)));
          const [dw] = gradients(loss, [wt]);
          const exe = await backend.compile({
            updates: [[w, sub(wt, mul(dw, 0.1))]],
          });
          const runs = Array.from({ length: 50 }, () => exe.run());
          await Promise.all(runs);
          const [value] = await backend.readVariable(w);
          assert.ok(Math.abs(value - 3) < 1e-4, `w = ${value}`);
        },
      );

      await t.step(
        `${backend.kind}: outputs of one run are not overwritten by the next`,
        async () => {
          const g = new Graph();
          const x = g.input("x", [4]);
          const exe = await backend.compile({ outputs: [mul(x, 2)] });
          const first = exe.run({ x: [1, 2, 3, 4] });
          const second = exe.run({ x: [5, 6, 7, 8] });
          assertClose((await first)[0], [2, 4, 6, 8]);
          assertClose((await second)[0], [10, 12, 14, 16]);
        },
      );
    }
  } finally {
    for (const b of backends) b.dispose();
  }
  await t.step("a disposed backend refuses work", async () => {
    const cpu = await createBackend({ kind: "cpu" });
    cpu.dispose();
    const g = new Graph();
    assert.throws(
      () => cpu.writeVariable(new Variable("v", [1]), [1]),
      /disposed/,
    );
    await assert.rejects(
      cpu.run([exp(g.input("x", [1]))], { x: [1] }),
      /disposed/,
    );
  });
});

Deno.test(
  "the tiled matmul kernel (for hardware GPUs) matches float64 CPU",
  gpuTestOptions,
  async () => {
    if (skipWebGpu) return;
    const { crossCheck } = await import("../../src/check/gradcheck.ts");
    const { Random } = await import("../../src/util/random.ts");
    const { WebGpuDevice } = await import("../../src/backend/webgpu/device.ts");
    const { Executor } = await import("../../src/backend/executor.ts");
    const device = await WebGpuDevice.create("tiled");
    const backend = new Executor(device);
    // llvmpipe compiles each variant of this kernel (256 invocations with barriers) in about 11 s
    // on a cold shader cache: on a software adapter only the untransposed product is checked,
    // forward only, on edge-tile shapes. A hardware adapter checks every variant with gradients.
    const software = device.adapterIsSoftware;
    try {
      const rng = new Random(4);
      const shapes = software ? [[7, 33, 65], [65, 7, 130]] : [[1, 1, 1], [7, 33, 65], [
        65,
        7,
        130,
      ], [48, 784, 64]];
      const variants = software
        ? [[false, false]]
        : [[false, false], [true, false], [false, true], [true, true]];
      for (const [m, k, n] of shapes) {
        for (const [tA, tB] of variants) {
          const a = Array.from({ length: m * k }, () => rng.normal());
          const b = Array.from({ length: k * n }, () => rng.normal());
          const report = await crossCheck(
            backend,
            (x) => matmul(x.a, x.b, tA, tB),
            [
              {
                name: "a",
                shape: tA ? [k, m] : [m, k],
                data: a,
                differentiable: !software,
              },
              {
                name: "b",
                shape: tB ? [n, k] : [k, n],
                data: b,
                differentiable: !software,
              },
            ],
          );
          assert.ok(
            report.ok,
            `${m}x${k}x${n} ${tA}${tB}: ${JSON.stringify(report.comparisons)}`,
          );
        }
      }
    } finally {
      backend.dispose();
    }
  },
);
