/**
 * The WebGPU backend. Compiling a plan creates every buffer, pipeline, uniform and bind group once;
 * a run writes the feeds, records all dispatches into one compute pass, copies variable updates and
 * requested outputs, and submits once. Nothing is read back unless a run has outputs, and a run does
 * not wait for the previous one, so steps can be queued back to back.
 */
import { BackendUnavailableError, MagnetInputError } from "../../errors.ts";
import { opDefinition } from "../../graph/ops.ts";
import type { Tensor, Variable } from "../../graph/tensor.ts";
import type {
  Backend,
  CompileRequest,
  Executable,
  Feeds,
  FloatArray,
  HostArray,
} from "../backend.ts";
import { reductionExtents } from "../layout.ts";
import { fusedProgram } from "../fusion.ts";
import { checkFeeds, makePlan } from "../plan.ts";
import { RunCache } from "../run_cache.ts";
import { linearWorkgroups } from "../../../kernels/common.ts";
import {
  canVectorize,
  elementwiseShader,
  elementwiseUniforms,
} from "../../../kernels/elementwise.ts";
import {
  type ReduceOp,
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
import { GUARDED_COPY_SHADER } from "../../../kernels/copy.ts";
import { tiledMatmulShader, tiledMatmulWorkgroups } from "../../../kernels/matmul_tiled.ts";

/** One recorded dispatch. */
interface GpuStep {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
}

/** What a kernel needs: shader source, uniforms, grid, and the tensors bound before its output. */
interface KernelSpec {
  shader: string;
  uniforms: Uint32Array;
  workgroups: [number, number, number];
  reads: readonly Tensor[];
}

const STORAGE_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Queues a write of `data` to the start of `buffer`. */
function upload(device: GPUDevice, buffer: GPUBuffer, data: ArrayBufferView): void {
  // Typed arrays here never view a SharedArrayBuffer, which is all the narrower type rules out.
  device.queue.writeBuffer(buffer, 0, data as ArrayBufferView<ArrayBuffer>);
}

function bytesOf(elements: number): number {
  return Math.max(16, Math.ceil((elements * 4) / 16) * 16);
}

/** Which matrix-product kernel suits the adapter. */
export type MatmulKernel = "register" | "tiled";

/** Whether an adapter runs compute shaders on the CPU (llvmpipe and the like). */
export function isSoftwareAdapter(info: GPUAdapterInfo): boolean {
  return info.isFallbackAdapter ||
    /llvmpipe|lavapipe|softpipe|swiftshader/i.test(`${info.description} ${info.device}`);
}

/**
 * "register" (per-invocation register blocks, no workgroup memory) for software adapters that run
 * compute shaders on a CPU, like llvmpipe; "tiled" (workgroup-memory tiles) for hardware GPUs.
 */
export function matmulKernelFor(info: GPUAdapterInfo): MatmulKernel {
  return isSoftwareAdapter(info) ? "register" : "tiled";
}

/** The kernel spec of one step, which computes `group` (itself last) when fused. */
function kernelSpec(
  node: Tensor,
  group: readonly Tensor[],
  matmulKernel: MatmulKernel,
): KernelSpec {
  const kind = opDefinition(node.op)!.kind;
  const reads = node.inputs;
  switch (kind) {
    case "elementwise": {
      const fused = fusedProgram(group);
      const program = { inputs: fused.inputs.map((x) => x.access), nodes: fused.nodes };
      // Four elements per invocation where possible: llvmpipe loads lane by lane, so wide loads win.
      const vectorized = canVectorize(program, node.size);
      const count = vectorized ? node.size / 4 : node.size;
      return {
        shader: elementwiseShader(program, vectorized),
        uniforms: elementwiseUniforms(count, node.shape, fused.inputs.map((x) => x.strides)),
        workgroups: linearWorkgroups(count),
        reads: fused.inputs.map((x) => x.tensor),
      };
    }
    case "reduce": {
      const [outer, length, inner] = reductionExtents(node.inputs[0], node.attrs.axis as number);
      return {
        shader: reduceShader(node.op as ReduceOp, useCooperativeReduce(outer, length, inner)),
        uniforms: reduceUniforms(outer, length, inner),
        workgroups: reduceWorkgroups(outer, length, inner),
        reads,
      };
    }
    case "matmul": {
      const [m, n] = node.shape;
      const transposeA = node.attrs.transposeA as boolean;
      const transposeB = node.attrs.transposeB as boolean;
      const k = transposeA ? node.inputs[0].shape[0] : node.inputs[0].shape[1];
      const tiled = matmulKernel === "tiled";
      return {
        shader: (tiled ? tiledMatmulShader : matmulShader)({ transposeA, transposeB }),
        uniforms: Uint32Array.of(m, n, k, 0),
        workgroups: (tiled ? tiledMatmulWorkgroups : matmulWorkgroups)(m, n),
        reads,
      };
    }
    case "gather": {
      const rows = node.shape[0];
      const inner = node.size / rows;
      return {
        shader: GATHER_SHADER,
        uniforms: indexingUniforms(rows, inner, node.inputs[0].shape[0]),
        workgroups: linearWorkgroups(node.size),
        reads,
      };
    }
    case "segmentSum": {
      const x = node.inputs[0];
      const inner = x.size / x.shape[0];
      return {
        shader: SEGMENT_SUM_SHADER,
        uniforms: indexingUniforms(x.shape[0], inner, node.attrs.numSegments as number),
        workgroups: linearWorkgroups(node.size),
        reads,
      };
    }
    case "oneHot": {
      const [rows, depth] = node.shape;
      return {
        shader: ONE_HOT_SHADER,
        uniforms: oneHotUniforms(rows, depth),
        workgroups: linearWorkgroups(node.size),
        reads,
      };
    }
    default:
      throw new Error(`webgpu backend: op "${node.op}" has no kernel`);
  }
}

/** Runs graphs as WGSL compute kernels on a WebGPU device. */
export class WebGpuBackend implements Backend {
  readonly kind = "webgpu" as const;
  readonly precision = "float32" as const;
  readonly description: string;
  readonly device: GPUDevice;
  #pipelines = new Map<string, Promise<GPUComputePipeline>>();
  #variables = new Map<Variable, GPUBuffer>();
  #owned = new Set<GPUBuffer>();
  #runCache = new RunCache();
  #disposed = false;
  #lost: string | null = null;

  /** The matrix-product kernel in use (see {@link matmulKernelFor}). */
  readonly matmulKernel: MatmulKernel;
  /** Whether the adapter runs on the CPU (see {@link isSoftwareAdapter}). */
  readonly adapterIsSoftware: boolean;

  private constructor(
    device: GPUDevice,
    description: string,
    matmulKernel: MatmulKernel,
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
  static async create(matmulKernel: "auto" | MatmulKernel = "auto"): Promise<WebGpuBackend> {
    const fallback =
      'Use createBackend({ kind: "cpu" }) or "auto" to fall back to the CPU backend.';
    const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
    if (gpu === undefined) {
      throw new BackendUnavailableError(`WebGPU is not available in this runtime. ${fallback}`);
    }
    const adapter = await gpu.requestAdapter();
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
    const name = info.description || info.device || info.vendor || "unknown adapter";
    const kernel = matmulKernel === "auto" ? matmulKernelFor(info) : matmulKernel;
    return new WebGpuBackend(device, `WebGPU (${name})`, kernel, isSoftwareAdapter(info));
  }

  #check(): void {
    if (this.#disposed) throw new Error("this backend has been disposed");
    if (this.#lost !== null) throw new Error(`the WebGPU device was lost: ${this.#lost}`);
  }

  #buffer(size: number, usage = STORAGE_USAGE): GPUBuffer {
    const buffer = this.device.createBuffer({ size: bytesOf(size), usage });
    this.#owned.add(buffer);
    return buffer;
  }

  #variableBuffer(v: Variable): GPUBuffer {
    let buffer = this.#variables.get(v);
    if (buffer === undefined) {
      buffer = this.#buffer(v.size);
      upload(this.device, buffer, v.initial);
      this.#variables.set(v, buffer);
    }
    return buffer;
  }

  #pipeline(shader: string): Promise<GPUComputePipeline> {
    let pipeline = this.#pipelines.get(shader);
    if (pipeline === undefined) {
      const module = this.device.createShaderModule({ code: shader });
      pipeline = this.device.createComputePipelineAsync({
        layout: "auto",
        compute: { module, entryPoint: "main" },
      });
      this.#pipelines.set(shader, pipeline);
    }
    return pipeline;
  }

  async compile(request: CompileRequest): Promise<Executable> {
    this.#check();
    const plan = makePlan(request, { fuse: true });
    const device = this.device;
    device.pushErrorScope("validation");
    const buffers = plan.slots.map((slot) => {
      if (slot.role === "variable") return this.#variableBuffer(slot.variable!);
      const buffer = this.#buffer(slot.size);
      if (slot.role === "constant") {
        const data = slot.source!.attrs.data as Float64Array;
        upload(
          device,
          buffer,
          slot.dtype === "int32" ? Int32Array.from(data) : Float32Array.from(data),
        );
      }
      return buffer;
    });
    const binding = (t: Tensor): GPUBufferBinding => ({
      buffer: buffers[plan.slotOf.get(t.id)!.index],
      offset: 0,
      size: t.size * 4,
    });
    const prepare = async (
      shader: string,
      uniforms: Uint32Array,
      workgroups: [number, number, number],
      resources: GPUBindingResource[],
    ): Promise<GpuStep> => {
      const pipeline = await this.#pipeline(shader);
      const uniform = this.#buffer(
        uniforms.length,
        GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      );
      upload(device, uniform, uniforms);
      const bindGroup = device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [...resources, { buffer: uniform }].map((resource, i) => ({
          binding: i,
          resource,
        })),
      });
      return { pipeline, bindGroup, workgroups };
    };
    const steps: GpuStep[] = await Promise.all(plan.steps.map((node) => {
      const spec = kernelSpec(node, plan.groups?.get(node.id) ?? [node], this.matmulKernel);
      return prepare(spec.shader, spec.uniforms, spec.workgroups, [
        ...spec.reads.map(binding),
        binding(node),
      ]);
    }));
    // Guarded updates are kernels at the end of the pass; unguarded ones are copy commands.
    const guard = plan.guard;
    const guardedCopies: GpuStep[] = guard === null ? [] : await Promise.all(
      plan.updates.map(([v, t]) =>
        prepare(GUARDED_COPY_SHADER, Uint32Array.of(v.size, 0, 0, 0), linearWorkgroups(v.size), [
          binding(t),
          binding(guard),
          { buffer: this.#variableBuffer(v), offset: 0, size: v.size * 4 },
        ])
      ),
    );
    const error = await device.popErrorScope();
    if (error !== null) throw new Error(`webgpu backend: compiling failed: ${error.message}`);

    const inputBuffers = plan.inputs.map((t) => binding(t).buffer);
    const outputs = plan.outputs.map((t) => ({ tensor: t, source: binding(t) }));
    const updates = guard !== null ? [] : plan.updates.map(([v, t]) => ({
      target: this.#variableBuffer(v),
      source: binding(t),
    }));
    const readback = new ReadbackPool(device, outputs.map((o) => o.tensor.size * 4));

    const run = async (feeds: Feeds = {}): Promise<HostArray[]> => {
      this.#check();
      const data = checkFeeds(plan, feeds);
      plan.inputs.forEach((t, i) => {
        const values = data[i];
        const typed = t.dtype === "int32"
          ? (values instanceof Int32Array ? values : Int32Array.from(values))
          : (values instanceof Float32Array ? values : Float32Array.from(values));
        upload(device, inputBuffers[i], typed);
      });
      const encoder = device.createCommandEncoder();
      if (steps.length + guardedCopies.length > 0) {
        const pass = encoder.beginComputePass();
        for (const step of [...steps, ...guardedCopies]) {
          pass.setPipeline(step.pipeline);
          pass.setBindGroup(0, step.bindGroup);
          pass.dispatchWorkgroups(...step.workgroups);
        }
        pass.end();
      }
      const staging = outputs.length > 0 ? readback.acquire() : [];
      outputs.forEach((o, i) => {
        encoder.copyBufferToBuffer(o.source.buffer, 0, staging[i], 0, o.source.size!);
      });
      for (const u of updates) {
        if (u.target !== u.source.buffer) {
          encoder.copyBufferToBuffer(u.source.buffer, 0, u.target, 0, u.source.size!);
        }
      }
      device.queue.submit([encoder.finish()]);
      if (outputs.length === 0) return [];
      await Promise.all(staging.map((b) => b.mapAsync(GPUMapMode.READ)));
      const results = outputs.map((o, i): HostArray => {
        const bytes = staging[i].getMappedRange(0, o.source.size!).slice(0);
        staging[i].unmap();
        return o.tensor.dtype === "int32" ? new Int32Array(bytes) : new Float32Array(bytes);
      });
      readback.release(staging);
      return results;
    };
    return { outputs: plan.outputs, run };
  }

  run(outputs: readonly Tensor[], feeds: Feeds = {}): Promise<HostArray[]> {
    return this.#runCache.get(this, outputs).then((exe) => exe.run(feeds));
  }

  async readVariable(variable: Variable): Promise<FloatArray> {
    this.#check();
    const source = this.#variableBuffer(variable);
    const bytes = variable.size * 4;
    const staging = this.device.createBuffer({
      size: bytesOf(variable.size),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(source, 0, staging, 0, bytes);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const result = new Float32Array(staging.getMappedRange(0, bytes).slice(0));
    staging.destroy();
    return result;
  }

  writeVariable(variable: Variable, data: ArrayLike<number>): void {
    this.#check();
    if (data.length !== variable.size) {
      throw new MagnetInputError(
        `variable "${variable.name}" holds ${variable.size} values, got ${data.length}`,
      );
    }
    const typed = data instanceof Float32Array ? data : Float32Array.from(data);
    upload(this.device, this.#variableBuffer(variable), typed);
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
    this.#variables.clear();
    this.#pipelines.clear();
    this.device.destroy();
  }
}

/**
 * Staging buffers for reading outputs back. A run takes one set and returns it once mapped and copied,
 * so runs queued back to back each read into their own set.
 */
class ReadbackPool {
  #free: GPUBuffer[][] = [];

  constructor(readonly device: GPUDevice, readonly sizes: readonly number[]) {}

  acquire(): GPUBuffer[] {
    return this.#free.pop() ??
      this.sizes.map((size) =>
        this.device.createBuffer({
          size: Math.max(16, Math.ceil(size / 16) * 16),
          usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        })
      );
  }

  release(set: GPUBuffer[]): void {
    this.#free.push(set);
  }
}
