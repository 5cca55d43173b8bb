/**
 * The backends every behavioural test runs on: CPU float32 and WebGPU. WebGPU is never skipped
 * silently: without an adapter these tests fail, unless MAGNET_SKIP_WEBGPU=1 is set on purpose (which
 * .ci/run refuses).
 */
import { createBackend } from "../../src/backend/create.ts";
import type { Backend } from "../../src/backend/backend.ts";

/** Whether the person running the tests opted out of WebGPU. */
export const skipWebGpu = Deno.env.get("MAGNET_SKIP_WEBGPU") === "1";

/** Opens the CPU backend and (unless skipped on purpose) the WebGPU backend. */
export async function openBackends(): Promise<Backend[]> {
  const backends: Backend[] = [await createBackend({ kind: "cpu" })];
  if (skipWebGpu) {
    console.warn("WEBGPU TESTS SKIPPED: MAGNET_SKIP_WEBGPU=1");
  } else {
    backends.push(await createBackend({ kind: "webgpu" }));
  }
  return backends;
}

/**
 * The default backends plus the WebAssembly device's other paths: every kernel split across two
 * threads (the default splits only large ones, which small test shapes never are), and plain SIMD
 * (no relaxed multiply-add) on one thread. Name them by `description`.
 */
export async function openAllBackends(): Promise<Backend[]> {
  const { WasmDevice } = await import("../../src/backend/wasm/device.ts");
  const { Executor } = await import("../../src/backend/executor.ts");
  return [
    ...await openBackends(),
    new Executor(await WasmDevice.create({ threads: 2, splitAbove: 0 })),
    new Executor(await WasmDevice.create({ threads: 1, relaxed: false })),
  ];
}

/** Test options for files that hold a WebGPU device across steps. */
export const gpuTestOptions = { sanitizeOps: false, sanitizeResources: false } as const;

/** Asserts every value of `actual` is within `rtol` (relative to max(|expected|, 1)) of `expected`. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol = 1e-5,
  what = "value",
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length}, expected ${expected.length}`);
  }
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i], a = actual[i];
    const ok = Number.isNaN(e)
      ? Number.isNaN(a)
      : Math.abs(a - e) <= rtol * Math.max(Math.abs(e), 1);
    if (!ok) {
      throw new Error(
        `${what}[${i}]: got ${a}, expected ${e}\n  actual:   [${Array.from(actual).slice(0, 12)}]` +
          `\n  expected: [${Array.from(expected).slice(0, 12)}]`,
      );
    }
  }
}
