/**
 * The WebGPU device: WGSL compute kernels through `navigator.gpu`. Preparing a kernel creates its
 * pipeline (cached by shader text), uniforms and bind group once; a program records every dispatch
 * into one compute pass, copies its outputs to staging buffers and its variable updates into place,
 * and submits once. Nothing is read back unless a program has outputs, and a run does not wait for
 * the previous one, so steps can be queued back to back.
 */
import { BackendUnavailableError } from "../../errors.ts";
import type { DType } from "../../graph/tensor.ts";
import type { DeviceLimits, HostArray } from "../backend.ts";
import type {
  Device,
  DeviceBuffer,
  DeviceProgram,
  PreparedKernel,
  ProgramSpec,
} from "../device.ts";
import { type Kernel, outputSize, patchWords } from "../kernel.ts";
import { PATCHES_SHADER, UNPATCHES_SHADER } from "../../../kernels/patches.ts";
import {
  ARG_SMALLEST_K_SHADER,
  argSmallestKWorkgroups,
  rowSelectUniforms,
  TAKE_ALONG_ROWS_SHADER,
} from "../../../kernels/select.ts";
import { linearWorkgroups } from "../../../kernels/common.ts";
import {
  canVectorize,
  elementwiseShader,
  elementwiseUniforms,
} from "../../../kernels/elementwise.ts";
import {
  reduceShader,
  reduceUniforms,
  reduceWorkgroups,
  useCooperativeReduce,
} from "../../../kernels/reduce.ts";
import {
  GATHER_SHADER,
  indexingUniforms,
  ONE_HOT_SHADER,
  oneHotUniforms,
  SEGMENT_SUM_SHADER,
} from "../../../kernels/indexing.ts";
import { matmulShader, matmulWorkgroups } from "../../../kernels/matmul.ts";
import { tiledMatmulShader, tiledMatmulWorkgroups } from "../../../kernels/matmul_tiled.ts";
import { GUARDED_COPY_SHADER } from "../../../kernels/copy.ts";

/** A buffer of the WebGPU device. */
interface GpuBuffer extends DeviceBuffer {
  readonly gpu: GPUBuffer;
}

/** One recorded dispatch. */
interface Dispatch {
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly workgroups: [number, number, number];
  /** The dispatch's own uniform buffer, freed with its program. */
  readonly uniform: GPUBuffer;
}

/** A prepared kernel of this device. */
interface GpuStep extends PreparedKernel {
  readonly dispatch: Dispatch;
}

function record(encoder: GPUCommandEncoder, dispatches: readonly Dispatch[]): void {
  if (dispatches.length === 0) return;
  const pass = encoder.beginComputePass();
  for (const d of dispatches) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(...d.workgroups);
  }
  pass.end();
}

/** What a kernel needs: shader source, uniforms and grid. */
interface ShaderSpec {
  shader: string;
  uniforms: Uint32Array;
  workgroups: [number, number, number];
}

const STORAGE_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

function bytesOf(elements: number): number {
  return Math.max(16, Math.ceil((elements * 4) / 16) * 16);
}

import type { WebGpuMatmul } from "../create.ts";

/** Whether an adapter runs compute shaders on the CPU (llvmpipe and the like). */
export function isSoftwareAdapter(info: GPUAdapterInfo): boolean {
  return info.isFallbackAdapter ||
    /llvmpipe|lavapipe|softpipe|swiftshader/i.test(`${info.description} ${info.device}`);
}

/**
 * "register" (per-invocation register blocks, no workgroup memory) for software adapters that run
 * compute shaders on a CPU, like llvmpipe; "tiled" (workgroup-memory tiles) for hardware GPUs.
 */
export function matmulKernelFor(info: GPUAdapterInfo): WebGpuMatmul {
  return isSoftwareAdapter(info) ? "register" : "tiled";
}

/** The shader, uniforms and grid of a kernel. */
function shaderSpec(kernel: Kernel, matmul: WebGpuMatmul): ShaderSpec {
  switch (kernel.kind) {
    case "elementwise": {
      // Four elements per invocation where possible: llvmpipe loads lane by lane, so wide loads win.
      const vectorized = canVectorize(kernel.program, kernel.size);
      const count = vectorized ? kernel.size / 4 : kernel.size;
      return {
        shader: elementwiseShader(kernel.program, vectorized),
        uniforms: elementwiseUniforms(
          count,
          kernel.shape,
          kernel.program.inputs.map((x) => x.strides),
        ),
        workgroups: linearWorkgroups(count),
      };
    }
    case "reduce": {
      const { outer, length, inner } = kernel;
      return {
        shader: reduceShader(kernel.op, useCooperativeReduce(outer, length, inner)),
        uniforms: reduceUniforms(outer, length, inner),
        workgroups: reduceWorkgroups(outer, length, inner),
      };
    }
    case "matmul": {
      const { m, n, k, transposeA, transposeB } = kernel;
      const tiled = matmul === "tiled";
      return {
        shader: (tiled ? tiledMatmulShader : matmulShader)({ transposeA, transposeB }),
        uniforms: Uint32Array.of(m, n, k, 0),
        workgroups: (tiled ? tiledMatmulWorkgroups : matmulWorkgroups)(m, n),
      };
    }
    case "gather":
      return {
        shader: GATHER_SHADER,
        uniforms: indexingUniforms(kernel.rows, kernel.inner, kernel.bound),
        workgroups: linearWorkgroups(kernel.rows * kernel.inner),
      };
    case "segmentSum":
      return {
        shader: SEGMENT_SUM_SHADER,
        uniforms: indexingUniforms(kernel.rows, kernel.inner, kernel.segments),
        workgroups: linearWorkgroups(kernel.segments * kernel.inner),
      };
    case "oneHot":
      return {
        shader: ONE_HOT_SHADER,
        uniforms: oneHotUniforms(kernel.rows, kernel.depth),
        workgroups: linearWorkgroups(kernel.rows * kernel.depth),
      };
    case "patches":
    case "unpatches": {
      const total = outputSize(kernel);
      return {
        shader: kernel.kind === "patches" ? PATCHES_SHADER : UNPATCHES_SHADER,
        uniforms: Uint32Array.of(...patchWords(kernel), total),
        workgroups: linearWorkgroups(total),
      };
    }
    case "argSmallestK":
      return {
        shader: ARG_SMALLEST_K_SHADER,
        uniforms: rowSelectUniforms(kernel.rows, kernel.n, kernel.k),
        workgroups: argSmallestKWorkgroups(kernel.rows),
      };
    case "takeAlongRows":
      return {
        shader: TAKE_ALONG_ROWS_SHADER,
        uniforms: rowSelectUniforms(kernel.rows, kernel.n, kernel.k),
        workgroups: linearWorkgroups(kernel.rows * kernel.k),
      };
    case "conv":
      throw new Error("the WebGPU device runs convolutions as their composition");
    case "pool":
      throw new Error("the WebGPU device runs poolings as their composition");
  }
}

/** Runs kernels as WGSL compute shaders on a WebGPU device. */
export class WebGpuDevice implements Device {
  readonly kind = "webgpu" as const;
  readonly precision = "float32" as const;
  readonly description: string;
  readonly device: GPUDevice;
  /** The matrix-product kernel in use (see {@link matmulKernelFor}). */
  readonly matmulKernel: WebGpuMatmul;
  /** Whether the adapter runs on the CPU (see {@link isSoftwareAdapter}). */
  readonly adapterIsSoftware: boolean;
  readonly #pipelines = new Map<string, Promise<GPUComputePipeline>>();
  /** Every buffer this device created, destroyed with it. */
  readonly #owned = new Set<GPUBuffer>();
  #disposed = false;
  #lost: string | null = null;

  private constructor(
    device: GPUDevice,
    description: string,
    matmulKernel: WebGpuMatmul,
    software: boolean,
  ) {
    this.device = device;
    this.description = description;
    this.matmulKernel = matmulKernel;
    this.adapterIsSoftware = software;
    device.lost.then((info) => {
      if (!this.#disposed) this.#lost = info.message || info.reason || "device lost";
    });
  }

  /**
   * Opens the default adapter's device. Rejects with {@link BackendUnavailableError} when WebGPU or an
   * adapter is missing, saying how to fall back.
   */
  static async create(matmulKernel: "auto" | WebGpuMatmul = "auto"): Promise<WebGpuDevice> {
    const fallback =
      'Use createBackend({ kind: "cpu" }) or "auto" to fall back to the CPU backend.';
    const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
    if (gpu === undefined) {
      throw new BackendUnavailableError(`WebGPU is not available in this runtime. ${fallback}`);
    }
    // A machine whose only adapter is a software one (Mesa's lavapipe beside its GL driver, say)
    // may offer it only when asked for a fallback adapter; it is still WebGPU, so ask.
    const adapter = await gpu.requestAdapter() ??
      await gpu.requestAdapter({ forceFallbackAdapter: true });
    if (adapter === null) {
      throw new BackendUnavailableError(`no WebGPU adapter was found. ${fallback}`);
    }
    const limits = adapter.limits;
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
        maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      },
    });
    const info = adapter.info;
    // Browsers may leave the description empty (Chromium's SwiftShader: vendor "google",
    // architecture "swiftshader").
    const name = info.description || info.device ||
      [info.vendor, info.architecture].filter((part) => part).join(" ") || "unknown adapter";
    const kernel = matmulKernel === "auto" ? matmulKernelFor(info) : matmulKernel;
    return new WebGpuDevice(device, `WebGPU (${name})`, kernel, isSoftwareAdapter(info));
  }

  #check(): void {
    if (this.#disposed) throw new Error("this backend has been disposed");
    if (this.#lost !== null) throw new Error(`the WebGPU device was lost: ${this.#lost}`);
  }

  #buffer(bytes: number, usage: number): GPUBuffer {
    const buffer = this.device.createBuffer({ size: bytes, usage });
    this.#owned.add(buffer);
    return buffer;
  }

  #upload(buffer: GPUBuffer, data: ArrayBufferView): void {
    // Typed arrays here never view a SharedArrayBuffer, which is all the narrower type rules out.
    this.device.queue.writeBuffer(buffer, 0, data as ArrayBufferView<ArrayBuffer>);
  }

  /**
   * One buffer is bound whole as storage, so the binding limit caps it; how much memory the GPU
   * has left WebGPU does not say.
   */
  limits(): DeviceLimits {
    const { maxStorageBufferBindingSize, maxBufferSize } = this.device.limits;
    return {
      maxBufferBytes: Math.min(maxStorageBufferBindingSize, maxBufferSize),
      availableBytes: Infinity,
    };
  }

  alloc(elements: number, dtype: DType): DeviceBuffer {
    this.#check();
    const buffer: GpuBuffer = {
      elements,
      dtype,
      gpu: this.#buffer(bytesOf(elements), STORAGE_USAGE),
    };
    return buffer;
  }

  write(buffer: DeviceBuffer, data: ArrayLike<number>): void {
    this.#check();
    const typed = buffer.dtype === "int32"
      ? (data instanceof Int32Array ? data : Int32Array.from(data))
      : (data instanceof Float32Array ? data : Float32Array.from(data));
    this.#upload((buffer as GpuBuffer).gpu, typed);
  }

  async read(buffer: DeviceBuffer, elements: number): Promise<HostArray> {
    this.#check();
    const bytes = elements * 4;
    const staging = this.device.createBuffer({
      size: bytesOf(elements),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    try {
      const encoder = this.device.createCommandEncoder();
      encoder.copyBufferToBuffer((buffer as GpuBuffer).gpu, 0, staging, 0, bytes);
      this.device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      const data = staging.getMappedRange(0, bytes).slice(0);
      staging.unmap();
      return buffer.dtype === "int32" ? new Int32Array(data) : new Float32Array(data);
    } finally {
      staging.destroy();
    }
  }

  free(buffer: DeviceBuffer): void {
    this.#destroy((buffer as GpuBuffer).gpu);
  }

  #destroy(gpu: GPUBuffer): void {
    if (this.#owned.delete(gpu)) gpu.destroy();
  }

  #pipeline(shader: string): Promise<GPUComputePipeline> {
    let pipeline = this.#pipelines.get(shader);
    if (pipeline === undefined) {
      const module = this.device.createShaderModule({ code: shader });
      pipeline = this.device.createComputePipelineAsync({
        layout: "auto",
        compute: { module, entryPoint: "main" },
      });
      pipeline.catch(() => this.#pipelines.delete(shader));
      this.#pipelines.set(shader, pipeline);
    }
    return pipeline;
  }

  async #dispatch(
    what: string,
    spec: ShaderSpec,
    resources: readonly GPUBindingResource[],
  ): Promise<Dispatch> {
    // The uniform buffer is created before the scope opens, so that nothing between push and pop
    // can throw and leave the scope open (it would swallow later validation errors).
    const uniform = this.#buffer(
      bytesOf(spec.uniforms.length),
      GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    );
    this.#upload(uniform, spec.uniforms);
    const pipeline = await this.#pipeline(spec.shader);
    this.device.pushErrorScope("validation");
    let bindGroup: GPUBindGroup | undefined;
    let thrown: unknown = null;
    try {
      bindGroup = this.device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [...resources, { buffer: uniform }].map((resource, i) => ({
          binding: i,
          resource,
        })),
      });
    } catch (error) {
      thrown = error;
    }
    // Popped whatever happened, so that no scope stays open to swallow later errors.
    const error = await this.device.popErrorScope();
    if (thrown !== null) throw thrown;
    if (error !== null) throw new Error(`webgpu: preparing ${what} failed: ${error.message}`);
    return { pipeline, bindGroup: bindGroup!, workgroups: spec.workgroups, uniform };
  }

  async prepare(
    kernel: Kernel,
    inputs: readonly DeviceBuffer[],
    output: DeviceBuffer,
  ): Promise<PreparedKernel> {
    this.#check();
    const bind = (b: DeviceBuffer): GPUBufferBinding => ({ buffer: (b as GpuBuffer).gpu });
    const dispatch = await this.#dispatch(
      `a ${kernel.kind} kernel`,
      shaderSpec(kernel, this.matmulKernel),
      [...inputs.map(bind), bind(output)],
    );
    const step: GpuStep = { kernel, dispatch };
    return step;
  }

  async program(spec: ProgramSpec): Promise<DeviceProgram> {
    this.#check();
    const device = this.device;
    const steps = (spec.steps as readonly GpuStep[]).map((s) => s.dispatch);
    const gpu = (b: DeviceBuffer) => (b as GpuBuffer).gpu;
    const guard = spec.guard;
    const latch = spec.latch;
    // Guarded updates are kernels in a second pass; unguarded ones are copy commands.
    const guarded = guard === null
      ? []
      : await Promise.all(spec.copies.map((c) =>
        this.#dispatch("a guarded update", {
          shader: GUARDED_COPY_SHADER,
          uniforms: Uint32Array.of(c.elements, 0, 0, 0),
          workgroups: linearWorkgroups(c.elements),
        }, [{ buffer: gpu(c.from) }, { buffer: gpu(guard) }, { buffer: gpu(c.to) }])
      ));
    const copies = guard !== null ? [] : spec.copies;
    const reads = spec.reads.map((r) => ({
      source: gpu(r.buffer),
      bytes: r.elements * 4,
      dtype: r.buffer.dtype,
    }));
    // Staging buffers for the reads: a run takes one set and gives it back once read, so runs
    // queued back to back each read into their own set.
    const stagingSets: GPUBuffer[][] = [];
    const acquire = () =>
      stagingSets.pop() ??
        reads.map((r) =>
          this.#buffer(bytesOf(r.bytes / 4), GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST)
        );
    const run = async (): Promise<HostArray[]> => {
      this.#check();
      const encoder = device.createCommandEncoder();
      record(encoder, steps);
      // Reads first: an output that is a variable shows its value before this run's update.
      const staging = reads.length > 0 ? acquire() : [];
      reads.forEach((r, i) => encoder.copyBufferToBuffer(r.source, 0, staging[i], 0, r.bytes));
      record(encoder, guarded);
      for (const c of copies) {
        encoder.copyBufferToBuffer(gpu(c.from), 0, gpu(c.to), 0, c.elements * 4);
      }
      if (latch) encoder.copyBufferToBuffer(gpu(guard!), 0, gpu(latch), 0, 4);
      device.queue.submit([encoder.finish()]);
      if (reads.length === 0) return [];
      await Promise.all(staging.map((b) => b.mapAsync(GPUMapMode.READ)));
      const results = reads.map((r, i): HostArray => {
        const bytes = staging[i].getMappedRange(0, r.bytes).slice(0);
        staging[i].unmap();
        return r.dtype === "int32" ? new Int32Array(bytes) : new Float32Array(bytes);
      });
      stagingSets.push(staging);
      return results;
    };
    const free = () => {
      for (const d of [...steps, ...guarded]) this.#destroy(d.uniform);
      for (const set of stagingSets) for (const b of set) this.#destroy(b);
    };
    return { run, free };
  }

  release(steps: readonly PreparedKernel[]): void {
    for (const step of steps as readonly GpuStep[]) this.#destroy(step.dispatch.uniform);
  }

  synchronize(): Promise<void> {
    this.#check();
    return this.device.queue.onSubmittedWorkDone();
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const buffer of this.#owned) buffer.destroy();
    this.#owned.clear();
    this.#pipelines.clear();
    this.device.destroy();
  }
}
