/**
 * The CPU backend: every slot of a plan is a typed array, every step a prepared closure, so running a
 * compiled graph allocates nothing but the arrays it returns. Float32 by default; float64 for checking
 * gradients.
 */
import { MagnetInputError } from "../../errors.ts";
import { opDefinition } from "../../graph/ops.ts";
import type { Tensor, Variable } from "../../graph/tensor.ts";
import type {
  Backend,
  CompileRequest,
  Executable,
  Feeds,
  FloatArray,
  HostArray,
  Precision,
} from "../backend.ts";
import { checkFeeds, makePlan } from "../plan.ts";
import { RunCache } from "../run_cache.ts";
import { elementwiseKernel } from "./elementwise.ts";
import {
  type CpuArray,
  gatherKernel,
  matmulKernel,
  oneHotKernel,
  reduceKernel,
  segmentSumKernel,
} from "./kernels.ts";

/** Options of {@link CpuBackend}. */
export interface CpuBackendOptions {
  /** Precision of float tensors; float64 exists for gradient checking. Default float32. */
  precision?: Precision;
}

/** Runs graphs on typed arrays in the calling thread. */
export class CpuBackend implements Backend {
  readonly kind = "cpu" as const;
  readonly precision: Precision;
  readonly description: string;
  #variables = new Map<Variable, FloatArray>();
  #runCache = new RunCache();
  #disposed = false;

  constructor(options: CpuBackendOptions = {}) {
    this.precision = options.precision ?? "float32";
    this.description = `CPU (typed arrays, ${this.precision})`;
  }

  #newFloat(size: number): FloatArray {
    return this.precision === "float64" ? new Float64Array(size) : new Float32Array(size);
  }

  #check(): void {
    if (this.#disposed) throw new Error("this backend has been disposed");
  }

  #variableStorage(v: Variable): FloatArray {
    let data = this.#variables.get(v);
    if (data === undefined) {
      data = this.#newFloat(v.size);
      data.set(v.initial);
      this.#variables.set(v, data);
    }
    return data;
  }

  compile(request: CompileRequest): Promise<Executable> {
    return Promise.resolve().then(() => {
      this.#check();
      return this.#compile(request);
    });
  }

  #compile(request: CompileRequest): Executable {
    const plan = makePlan(request, { fuse: true });
    const storage: CpuArray[] = plan.slots.map((slot) => {
      if (slot.role === "variable") return this.#variableStorage(slot.variable!);
      const array = slot.dtype === "int32" ? new Int32Array(slot.size) : this.#newFloat(slot.size);
      if (slot.role === "constant") array.set(slot.source!.attrs.data as Float64Array);
      return array;
    });
    const view = (t: Tensor): CpuArray => {
      const array = storage[plan.slotOf.get(t.id)!.index];
      return array.length === t.size ? array : array.subarray(0, t.size);
    };
    const float = (a: CpuArray) => a as FloatArray;
    const int = (a: CpuArray) => a as Int32Array;
    const steps = plan.steps.map((node) => {
      const out = view(node);
      const kind = opDefinition(node.op)!.kind;
      if (kind === "elementwise") {
        // A fused step reads the group's external inputs; its inner nodes have no storage.
        return elementwiseKernel(
          plan.groups?.get(node.id) ?? [node],
          (t) => float(view(t)),
          float(out),
        );
      }
      const ins = node.inputs.map(view);
      switch (kind) {
        case "reduce":
          return reduceKernel(node, float(ins[0]), out);
        case "matmul":
          return matmulKernel(node, float(ins[0]), float(ins[1]), float(out));
        case "gather":
          return gatherKernel(node, float(ins[0]), int(ins[1]), float(out));
        case "segmentSum":
          return segmentSumKernel(node, float(ins[0]), int(ins[1]), float(out));
        case "oneHot":
          return oneHotKernel(node, int(ins[0]), float(out));
        default:
          throw new Error(`cpu backend: op "${node.op}" has no kernel`);
      }
    });
    const inputViews = plan.inputs.map(view);
    const outputViews = plan.outputs.map(view);
    const updates = plan.updates.map(([v, t]) => [this.#variableStorage(v), view(t)] as const);
    const guard = plan.guard === null ? null : view(plan.guard);

    // deno-lint-ignore require-await -- async so that bad feeds reject rather than throw
    const run = async (feeds: Feeds = {}): Promise<HostArray[]> => {
      this.#check();
      const data = checkFeeds(plan, feeds);
      inputViews.forEach((target, i) => target.set(data[i]));
      for (const step of steps) step();
      const results = outputViews.map((v) => v.slice());
      if (guard === null || guard[0] > 0) {
        for (const [target, source] of updates) if (target !== source) target.set(source);
      }
      return results;
    };
    return { outputs: plan.outputs, run };
  }

  run(outputs: readonly Tensor[], feeds: Feeds = {}): Promise<HostArray[]> {
    return this.#runCache.get(this, outputs).then((exe) => exe.run(feeds));
  }

  readVariable(variable: Variable): Promise<FloatArray> {
    this.#check();
    return Promise.resolve(this.#variableStorage(variable).slice());
  }

  writeVariable(variable: Variable, data: ArrayLike<number>): void {
    this.#check();
    if (data.length !== variable.size) {
      throw new MagnetInputError(
        `variable "${variable.name}" holds ${variable.size} values, got ${data.length}`,
      );
    }
    this.#variableStorage(variable).set(data);
  }

  synchronize(): Promise<void> {
    return Promise.resolve();
  }

  dispose(): void {
    this.#variables.clear();
    this.#runCache = new RunCache();
    this.#disposed = true;
  }
}
