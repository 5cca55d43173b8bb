/**
 * The interface a device implements: memory (allocate, write, read, free), kernels (prepare one,
 * bound to its buffers), and programs (a compiled sequence of prepared kernels run as one unit,
 * with its read-backs and its guarded variable updates). Everything above it (planning, fusion,
 * slots, feeds, variables, caching) is the executor's, written once for every device.
 */
import type { DType } from "../graph/tensor.ts";
import type { BackendKind, DeviceLimits, HostArray, Precision } from "./backend.ts";
import type { ConvShape, Kernel, PoolShape } from "./kernel.ts";

/** A device's storage for one tensor's values (opaque outside its device). */
export interface DeviceBuffer {
  /** Capacity in elements. */
  readonly elements: number;
  readonly dtype: DType;
}

/** A kernel bound to its buffers, ready to run as a step of a program. */
export interface PreparedKernel {
  /** The kernel it runs (for profiling and messages). */
  readonly kernel: Kernel;
}

/** A copy of `elements` values from one buffer to another at the end of a program. */
export interface Copy {
  readonly from: DeviceBuffer;
  readonly to: DeviceBuffer;
  readonly elements: number;
}

/** What a program does each time it runs. */
export interface ProgramSpec {
  /** Steps in order. */
  readonly steps: readonly PreparedKernel[];
  /** Buffers read back after the steps, with how many elements of each. */
  readonly reads: readonly { readonly buffer: DeviceBuffer; readonly elements: number }[];
  /** Copies made after the steps and the reads (variable updates). */
  readonly copies: readonly Copy[];
  /** When given, a float scalar: the copies happen only where it is positive. */
  readonly guard: DeviceBuffer | null;
  /** When given (with a guard), a float scalar that receives the guard's value after the copies. */
  readonly latch?: DeviceBuffer | null;
}

/** A compiled program. */
export interface DeviceProgram {
  /**
   * Runs the program once. Writes made before the call are seen by it; the work is queued before
   * this returns (a device may run it at once), and the promise gives the reads.
   */
  run(): Promise<HostArray[]>;
  /** Releases what the program and its steps hold on the device (not their buffers). */
  free(): void;
}

/** A place that stores tensors and runs kernels. */
export interface Device {
  /** Which kind of backend this device makes. */
  readonly kind: BackendKind;
  /** Precision of float buffers. */
  readonly precision: Precision;
  /** A human-readable description. */
  readonly description: string;
  /** The largest buffer it can allocate, and the memory it has left (see {@link DeviceLimits}). */
  limits(): DeviceLimits;
  /** WebGPU only: whether the adapter is software (llvmpipe and the like, on the CPU). */
  readonly adapterIsSoftware?: boolean;
  /** A buffer of `elements` values of `dtype` (contents unspecified until written). */
  alloc(elements: number, dtype: DType): DeviceBuffer;
  /** Queues a write of `data` to the start of `buffer`, seen by every later run or read. */
  write(buffer: DeviceBuffer, data: ArrayLike<number>): void;
  /** The first `elements` values of `buffer`, after all queued work. */
  read(buffer: DeviceBuffer, elements: number): Promise<HostArray>;
  /** Releases a buffer. */
  free(buffer: DeviceBuffer): void;
  /**
   * Whether the device computes a convolution of this shape as one kernel (a ConvKernel) rather
   * than as its composition of windows and products; absent: never. An optimisation only: the
   * composition computes the same values.
   */
  readonly directConvolution?: (shape: ConvShape) => boolean;
  /**
   * Whether the device computes a pooling of this shape as one kernel (a PoolKernel) rather than
   * as windows and a reduction; absent: never. An optimisation only, as directConvolution.
   */
  readonly directPooling?: (shape: PoolShape) => boolean;
  /** Prepares `kernel` reading `inputs` (in the kernel's order) and writing `output`. */
  prepare(
    kernel: Kernel,
    inputs: readonly DeviceBuffer[],
    output: DeviceBuffer,
  ): Promise<PreparedKernel>;
  /**
   * Releases what prepared steps hold on the device (argument blocks, uniform buffers), for steps
   * that will never become a program (a compile that failed half-way).
   */
  release(steps: readonly PreparedKernel[]): void;
  /** Compiles a program of prepared steps; freeing the program releases its steps. */
  program(spec: ProgramSpec): Promise<DeviceProgram>;
  /** Waits until all queued work has finished. */
  synchronize(): Promise<void>;
  /** Releases everything the device holds. */
  dispose(): void;
}
