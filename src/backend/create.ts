/** Choosing a backend: WebGPU when an adapter exists, the CPU otherwise, or whichever is asked for. */
import { BackendUnavailableError, MagnetInputError } from "../errors.ts";
import type { Backend, Precision } from "./backend.ts";
import { CpuBackend } from "./cpu/cpu_backend.ts";
import { type MatmulKernel, WebGpuBackend } from "./webgpu/webgpu_backend.ts";

/** Which backend {@link createBackend} should give. */
export type BackendChoice = "auto" | "webgpu" | "cpu";

/** Options of {@link createBackend}. */
export interface BackendOptions {
  /** "auto" (default): WebGPU when `navigator.gpu` gives an adapter, else CPU. */
  kind?: BackendChoice;
  /** Float precision; "float64" exists only on the CPU (for gradient checking). Default "float32". */
  precision?: Precision;
  /**
   * WebGPU only: the matrix-product kernel. "auto" (default) picks "register" on software adapters
   * (llvmpipe) and "tiled" (workgroup-memory tiles) on hardware GPUs.
   */
  matmulKernel?: "auto" | MatmulKernel;
}

/**
 * Creates a backend. With `kind: "webgpu"` and no adapter it rejects with a
 * {@link BackendUnavailableError} that says how to fall back; `"auto"` falls back by itself.
 *
 * @example
 * ```ts
 * const backend = await createBackend({ kind: "auto" });
 * console.log(backend.kind); // "webgpu" or "cpu"
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
  if (kind === "cpu" || precision === "float64") {
    if (kind === "webgpu") {
      throw new MagnetInputError('the webgpu backend has no float64: use kind "cpu" for float64');
    }
    return new CpuBackend({ precision });
  }
  try {
    return await WebGpuBackend.create(options.matmulKernel ?? "auto");
  } catch (error) {
    if (kind === "webgpu") {
      if (error instanceof BackendUnavailableError) throw error;
      throw new BackendUnavailableError(
        `could not open a WebGPU device: ${(error as Error).message}. ` +
          'Use createBackend({ kind: "cpu" }) or "auto" to fall back to the CPU backend.',
      );
    }
    return new CpuBackend({ precision });
  }
}
