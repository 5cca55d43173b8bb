/**
 * The JavaScript device: typed arrays in the calling thread, float64 (or float32). It is the
 * reference every other device is checked against (gradcheck and crossCheck run on it in float64),
 * so its kernels favour plain, obviously right loops over speed.
 */
import type { DType } from "../../graph/tensor.ts";
import type { DeviceLimits, FloatArray, HostArray, Precision } from "../backend.ts";
import type {
  Device,
  DeviceBuffer,
  DeviceProgram,
  PreparedKernel,
  ProgramSpec,
} from "../device.ts";
import { inputSizes, type Kernel, outputSize } from "../kernel.ts";
import { elementwiseKernel } from "./elementwise.ts";
import {
  gatherKernel,
  type JsArray,
  matmulKernel,
  oneHotKernel,
  patchKernel,
  reduceKernel,
  rowSelectKernel,
  segmentSumKernel,
} from "./kernels.ts";

/** A buffer of the JavaScript device: a typed array. */
interface JsBuffer extends DeviceBuffer {
  readonly array: JsArray;
}

interface JsPrepared extends PreparedKernel {
  readonly run: () => void;
}

/** Views of the first `n` elements of a buffer, as kernels want them. */
function view(buffer: DeviceBuffer, n?: number): JsArray {
  const array = (buffer as JsBuffer).array;
  return n === undefined || n === array.length ? array : array.subarray(0, n);
}

/** The closure computing `kernel`. */
function closure(kernel: Kernel, ins: readonly JsArray[], out: JsArray): () => void {
  const float = (a: JsArray) => a as FloatArray;
  const int = (a: JsArray) => a as Int32Array;
  switch (kernel.kind) {
    case "elementwise":
      return elementwiseKernel(kernel, ins.map(float), float(out));
    case "reduce":
      return reduceKernel(kernel, float(ins[0]), out);
    case "matmul":
      return matmulKernel(kernel, float(ins[0]), float(ins[1]), float(out));
    case "gather":
      return gatherKernel(kernel, float(ins[0]), int(ins[1]), float(out));
    case "segmentSum":
      return segmentSumKernel(kernel, float(ins[0]), int(ins[1]), float(out));
    case "oneHot":
      return oneHotKernel(kernel, int(ins[0]), float(out));
    case "patches":
    case "unpatches":
      return patchKernel(kernel, float(ins[0]), float(out));
    case "argSmallestK":
      return rowSelectKernel(kernel, float(ins[0]), null, out);
    case "takeAlongRows":
      return rowSelectKernel(kernel, float(ins[0]), int(ins[1]), out);
    case "conv":
      throw new Error("the JavaScript device runs convolutions as their composition");
    case "pool":
      throw new Error("the JavaScript device runs poolings as their composition");
  }
}

/** Runs kernels on typed arrays in the calling thread. */
export class JsDevice implements Device {
  readonly kind = "cpu" as const;
  readonly description: string;

  /** A device computing in `precision` (float64 for checking gradients). */
  constructor(readonly precision: Precision = "float64") {
    this.description = `CPU (JavaScript, ${precision})`;
  }

  /** Host memory decides: typed arrays of any size the process can hold. */
  limits(): DeviceLimits {
    return { maxBufferBytes: Infinity, availableBytes: Infinity };
  }

  alloc(elements: number, dtype: DType): DeviceBuffer {
    const array = dtype === "int32"
      ? new Int32Array(elements)
      : this.precision === "float64"
      ? new Float64Array(elements)
      : new Float32Array(elements);
    const buffer: JsBuffer = { elements, dtype, array };
    return buffer;
  }

  write(buffer: DeviceBuffer, data: ArrayLike<number>): void {
    (buffer as JsBuffer).array.set(data);
  }

  read(buffer: DeviceBuffer, elements: number): Promise<HostArray> {
    return Promise.resolve(view(buffer, elements).slice());
  }

  free(): void {
    // The garbage collector takes the array with the last reference.
  }

  release(): void {
    // Prepared steps are closures: nothing to give back.
  }

  prepare(kernel: Kernel, inputs: readonly DeviceBuffer[], output: DeviceBuffer) {
    const sizes = inputSizes(kernel);
    const ins = inputs.map((b, i) => view(b, sizes[i]));
    const prepared: JsPrepared = {
      kernel,
      run: closure(kernel, ins, view(output, outputSize(kernel))),
    };
    return Promise.resolve(prepared);
  }

  program(spec: ProgramSpec): Promise<DeviceProgram> {
    const steps = spec.steps.map((s) => (s as JsPrepared).run);
    const reads = spec.reads.map((r) => view(r.buffer, r.elements));
    const copies = spec.copies.map((c) => [view(c.to, c.elements), view(c.from, c.elements)]);
    const guard = spec.guard === null ? null : view(spec.guard, 1);
    const latch = spec.latch ? view(spec.latch, 1) : null;
    // deno-lint-ignore require-await -- a program's failures reject like every device's
    const run = async (): Promise<HostArray[]> => {
      for (const step of steps) step();
      const results = reads.map((r) => r.slice());
      if (guard === null || guard[0] > 0) {
        for (const [to, from] of copies) to.set(from);
      }
      if (latch !== null) latch[0] = guard![0];
      return results;
    };
    return Promise.resolve({ run, free: () => {} });
  }

  synchronize(): Promise<void> {
    return Promise.resolve();
  }

  dispose(): void {}
}
