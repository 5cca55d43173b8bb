/**
 * Choosing a backend. Devices are loaded lazily (`await import`), so a runtime without WebGPU never
 * loads WebGPU code and still reaches the CPU.
 */
import { BackendUnavailableError, MagnetInputError } from "../errors.ts";
import type { Backend, Precision } from "./backend.ts";
import type { Device } from "./device.ts";
import { Executor } from "./executor.ts";

/** Which backend {@link createBackend} should give. */
export type BackendChoice = "auto" | "webgpu" | "cpu";

/** Which matrix-product kernel a WebGPU device runs: see {@link BackendOptions.matmulKernel}. */
export type WebGpuMatmul = "register" | "tiled";

/** Options of {@link createBackend}. */
export interface BackendOptions {
  /**
   * "auto" (default): a hardware GPU when WebGPU offers one, else the CPU. A software adapter
   * (llvmpipe, or any `isFallbackAdapter`) runs on the CPU anyway and more slowly than the CPU
   * backend, so it is used only when asked for with "webgpu".
   */
  kind?: BackendChoice;
  /** Float precision; "float64" exists only on the CPU (for gradient checking). Default "float32". */
  precision?: Precision;
  /**
   * WebGPU only: the matrix-product kernel. "auto" (default) picks "register" on software adapters
   * (llvmpipe) and "tiled" (workgroup-memory tiles) on hardware GPUs.
   */
  matmulKernel?: "auto" | WebGpuMatmul;
  /**
   * CPU only: threads in all (the caller included). Default `navigator.hardwareConcurrency`.
   * Large kernels are split across them.
   */
  threads?: number;
}

/**
 * The CPU device: WebAssembly SIMD on worker threads in float32, the plain JavaScript device in
 * float64 (the reference that checks every other device).
 */
async function cpuDevice(precision: Precision, threads: number | undefined): Promise<Device> {
  if (precision === "float64") {
    const { JsDevice } = await import("./js/device.ts");
    return new JsDevice("float64");
  }
  const { WasmDevice } = await import("./wasm/device.ts");
  return await WasmDevice.create({ threads });
}

/**
 * Creates a backend. With `kind: "webgpu"` and no adapter it rejects with a
 * {@link BackendUnavailableError} that says how to fall back; `"auto"` falls back by itself.
 *
 * @example
 * ```ts
 * const backend = await createBackend({ kind: "auto" });
 * console.log(backend.kind); // "webgpu" on a GPU, else "cpu"
 * backend.dispose();
 * ```
 */
export async function createBackend(options: BackendOptions = {}): Promise<Backend> {
  const kind = options.kind ?? "auto";
  const precision = options.precision ?? "float32";
  if (kind !== "auto" && kind !== "webgpu" && kind !== "cpu") {
    throw new MagnetInputError(`unknown backend "${kind}": expected "auto", "webgpu" or "cpu"`);
  }
  if (precision !== "float32" && precision !== "float64") {
    throw new MagnetInputError(`unknown precision "${precision}": expected "float32" or "float64"`);
  }
  const threads = options.threads;
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1 || threads > 256)) {
    throw new MagnetInputError(`threads must be an integer from 1 to 256, got ${threads}`);
  }
  if (kind === "webgpu" && precision === "float64") {
    throw new MagnetInputError('the webgpu backend has no float64: use kind "cpu" for float64');
  }
  if (kind === "cpu" || precision === "float64") {
    return new Executor(await cpuDevice(precision, threads));
  }
  if (kind === "auto" && globalThis.navigator?.gpu === undefined) {
    return new Executor(await cpuDevice(precision, threads));
  }
  let gpu;
  try {
    const { WebGpuDevice } = await import("./webgpu/device.ts");
    gpu = await WebGpuDevice.create(options.matmulKernel ?? "auto");
  } catch (error) {
    if (kind === "auto") return new Executor(await cpuDevice(precision, threads));
    if (error instanceof BackendUnavailableError) throw error;
    throw new BackendUnavailableError(
      `could not open a WebGPU device: ${(error as Error).message}. ` +
        'Use createBackend({ kind: "cpu" }) or "auto" to fall back to the CPU backend.',
    );
  }
  if (kind === "auto" && gpu.adapterIsSoftware) {
    gpu.dispose();
    return new Executor(await cpuDevice(precision, threads));
  }
  return new Executor(gpu);
}
