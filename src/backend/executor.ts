/**
 * The one executor above every device: it plans a request (which nodes, in what order, fused how,
 * stored where), allocates the plan's slots and the variables on the device, turns steps into
 * kernels, and runs the compiled program with checked feeds. A device only stores values and runs
 * kernels (see device.ts), so a new device needs none of this again.
 */
import type { Graph, Tensor, Variable } from "../graph/tensor.ts";
import { MagnetInputError, ShapeError } from "../errors.ts";
import { mul } from "../graph/ops.ts";
import type {
  Backend,
  BackendKind,
  CompileRequest,
  DeviceLimits,
  Executable,
  Feeds,
  FloatArray,
  HostArray,
  Precision,
} from "./backend.ts";
import type { Device, DeviceBuffer, DeviceProgram, PreparedKernel } from "./device.ts";
import { checkCapacity } from "./capacity.ts";
import { kernelOf } from "./kernel.ts";
import { checkFeeds, makePlan } from "./plan.ts";
import { compileOnce } from "./compile_once.ts";

/** `request` with its guard multiplied by its latch (see {@link CompileRequest.latch}). */
function latched(request: CompileRequest): CompileRequest {
  const { guard, latch } = request;
  if (latch === undefined) return request;
  if (guard === undefined) throw new ShapeError("compile", "a latch needs a guard");
  return { ...request, guard: mul(guard, guard.graph.variable(latch)) };
}

/** A {@link Backend} made of the shared executor and one device. */
export class Executor implements Backend {
  readonly kind: BackendKind;
  readonly precision: Precision;
  readonly description: string;
  readonly softwareAdapter: boolean;
  readonly #device: Device;
  readonly #variables = new Map<Variable, DeviceBuffer>();
  readonly #running = new Set<unknown>();
  readonly #buffers = new Set<DeviceBuffer>();
  /**
   * A compiled graph nobody can run any more (its run function was collected) gives its memory back:
   * its program and the buffers of its slots (not the variables, which outlive it).
   */
  readonly #collected = new FinalizationRegistry<
    { program: DeviceProgram; buffers: DeviceBuffer[] }
  >(
    ({ program, buffers }) => {
      if (this.#disposed) return;
      program.free();
      for (const buffer of buffers) {
        this.#buffers.delete(buffer);
        this.#device.free(buffer);
      }
    },
  );
  #disposed = false;

  readonly #fuse: boolean;

  /**
   * Wraps `device`; the executor owns it from now on and disposes it with itself. `fuse: false`
   * runs every elementwise op as its own kernel (the float64 reference does, so that checks hold
   * fused code to unfused code).
   */
  constructor(device: Device, options: { fuse?: boolean } = {}) {
    this.#device = device;
    this.#fuse = options.fuse ?? true;
    this.kind = device.kind;
    this.precision = device.precision;
    this.description = device.description;
    this.softwareAdapter = device.adapterIsSoftware === true;
  }

  /** The device this executor runs on (for device-specific tests and benchmarks). */
  get device(): Device {
    return this.#device;
  }

  #check(): void {
    if (this.#disposed) throw new Error("this backend has been disposed");
  }

  #alloc(elements: number, dtype: Tensor["dtype"]): DeviceBuffer {
    const buffer = this.#device.alloc(Math.max(elements, 1), dtype);
    this.#buffers.add(buffer);
    return buffer;
  }

  #variableBuffer(v: Variable): DeviceBuffer {
    let buffer = this.#variables.get(v);
    if (buffer === undefined) {
      buffer = this.#alloc(v.size, "float");
      this.#device.write(buffer, v.initial);
      this.#variables.set(v, buffer);
    }
    return buffer;
  }

  limits(): DeviceLimits {
    this.#check();
    return this.#device.limits();
  }

  async compile(request: CompileRequest): Promise<Executable> {
    this.#check();
    const plan = makePlan(latched(request), {
      fuse: this.#fuse,
      convolution: this.#device.directConvolution?.bind(this.#device),
      pooling: this.#device.directPooling?.bind(this.#device),
    });
    const device = this.#device;
    // Refused before anything is allocated, so a graph too large leaves the backend as it was.
    checkCapacity(plan, device.limits(), device.precision, (v) => this.#variables.has(v));
    // Should the device fail anyway (fragmented memory, a lost GPU), whatever this compile
    // allocated is given back: the next graph finds the backend as this one did.
    const allocated: DeviceBuffer[] = [];
    const newVariables: Variable[] = [];
    const prepared: PreparedKernel[] = [];
    let program: DeviceProgram;
    let buffers: DeviceBuffer[];
    try {
      buffers = plan.slots.map((slot) => {
        if (slot.role === "variable") {
          if (!this.#variables.has(slot.variable!)) newVariables.push(slot.variable!);
          return this.#variableBuffer(slot.variable!);
        }
        const buffer = this.#alloc(slot.size, slot.dtype);
        allocated.push(buffer);
        if (slot.role === "constant") device.write(buffer, slot.data!);
        return buffer;
      });
      const bufferOf = (t: Tensor) => buffers[plan.slotOf.get(t.id)!.index];
      const settled = await Promise.allSettled(plan.steps.map(async (node) => {
        const { kernel, reads } = kernelOf(node, plan.groups?.get(node.id) ?? [node]);
        return await device.prepare(kernel, reads.map(bufferOf), bufferOf(node));
      }));
      for (const s of settled) if (s.status === "fulfilled") prepared.push(s.value);
      for (const s of settled) if (s.status === "rejected") throw s.reason;
      program = await device.program({
        steps: prepared,
        reads: plan.outputs.map((t) => ({ buffer: bufferOf(t), elements: t.size })),
        copies: plan.updates
          .map(([v, t]) => ({ from: bufferOf(t), to: this.#variableBuffer(v), elements: v.size }))
          .filter((c) => c.from !== c.to),
        guard: plan.guard === null ? null : bufferOf(plan.guard),
        latch: request.latch === undefined ? null : this.#variableBuffer(request.latch),
      });
    } catch (error) {
      if (!this.#disposed) {
        device.release(prepared);
        for (const buffer of allocated) {
          this.#buffers.delete(buffer);
          device.free(buffer);
        }
        this.releaseVariables(newVariables);
      }
      throw error;
    }
    const bufferOf = (t: Tensor) => buffers[plan.slotOf.get(t.id)!.index];
    const inputs = plan.inputs.map(bufferOf);
    const run = async (feeds: Feeds = {}): Promise<HostArray[]> => {
      this.#check();
      const data = checkFeeds(plan, feeds);
      inputs.forEach((buffer, i) => device.write(buffer, data[i]));
      // Held while it runs: whoever awaits the result may have let go of the function itself.
      this.#running.add(run);
      try {
        return await program.run();
      } finally {
        this.#running.delete(run);
      }
    };
    const owned = buffers.filter((_, i) => plan.slots[i].role !== "variable");
    const token = {};
    this.#collected.register(run, { program, buffers: owned }, token);
    let released = false;
    const dispose = () => {
      if (released || this.#disposed) return;
      released = true;
      this.#collected.unregister(token);
      program.free();
      for (const buffer of owned) {
        this.#buffers.delete(buffer);
        this.#device.free(buffer);
      }
    };
    const guarded = (feeds?: Feeds) => {
      if (released) return Promise.reject(new Error("this compiled graph has been disposed"));
      return run(feeds);
    };
    return { outputs: plan.outputs, run: guarded, dispose };
  }

  run(outputs: readonly Tensor[], feeds: Feeds = {}): Promise<HostArray[]> {
    if (outputs.length === 0) return Promise.resolve([]);
    const graph: Graph = outputs[0].graph;
    const key = outputs.map((t) => t.id).join(",");
    return compileOnce(this, graph, `run ${key}`, () => this.compile({ outputs }))
      .then((exe) => exe.run(feeds));
  }

  async readVariable(variable: Variable): Promise<FloatArray> {
    this.#check();
    return await this.#device.read(this.#variableBuffer(variable), variable.size) as FloatArray;
  }

  writeVariable(variable: Variable, data: ArrayLike<number>): void {
    this.#check();
    if (data.length !== variable.size) {
      throw new MagnetInputError(
        `variable "${variable.name}" holds ${variable.size} values, got ${data.length}`,
      );
    }
    this.#device.write(this.#variableBuffer(variable), data);
  }

  releaseVariables(variables: readonly Variable[]): void {
    this.#check();
    for (const variable of variables) {
      const buffer = this.#variables.get(variable);
      if (buffer === undefined) continue;
      this.#variables.delete(variable);
      this.#buffers.delete(buffer);
      this.#device.free(buffer);
    }
  }

  synchronize(): Promise<void> {
    this.#check();
    return this.#device.synchronize();
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const buffer of this.#buffers) this.#device.free(buffer);
    this.#buffers.clear();
    this.#variables.clear();
    this.#device.dispose();
  }
}
