/**
 * The contract every backend fulfils. A backend compiles the part of a graph that some outputs and
 * variable updates need into an {@link Executable}, keeps variables on its device between runs, and
 * reads back only what a run's outputs ask for.
 */
import type { Tensor, Variable } from "../graph/tensor.ts";

/** Which implementation runs the kernels. */
export type BackendKind = "cpu" | "webgpu";

/** Floating-point precision of a backend's float tensors (float64 exists on the CPU, for checking). */
export type Precision = "float32" | "float64";

/** Host-side data read back from a backend. */
export type HostArray = Float32Array | Float64Array | Int32Array;

/** Float data in a backend's precision. */
export type FloatArray = Float32Array | Float64Array;

/** Values for a graph's inputs, by input name, row-major. */
export type Feeds = Readonly<Record<string, ArrayLike<number>>>;

/** Replace the value of a variable with the value of a tensor, at the end of a run. */
export type Update = readonly [Variable, Tensor];

/** What to compile: outputs to read back and variable updates to apply (all applied after computing). */
export interface CompileRequest {
  /** Tensors whose values each run returns, in this order. */
  readonly outputs?: readonly Tensor[];
  /** Variables to overwrite at the end of each run, from values computed in the run. */
  readonly updates?: readonly Update[];
  /**
   * A scalar computed in the run: the updates are applied only when it is positive, else every
   * variable keeps its value (a training step guards itself this way against non-finite values).
   */
  readonly guard?: Tensor;
  /**
   * Makes the guard sticky: a scalar variable (positive to begin with) that the guard is multiplied
   * by, and that holds each run's verdict afterwards. Once a run's guard fails, no later run applies
   * its updates (runs already queued behind it included) until the latch is written positive again.
   */
  readonly latch?: Variable;
}

/** What a backend's device can hold, in bytes. */
export interface DeviceLimits {
  /** The largest single tensor: one buffer. */
  readonly maxBufferBytes: number;
  /** What can still be allocated, all buffers together (Infinity where the device does not say). */
  readonly availableBytes: number;
}

/** A compiled graph, ready to run many times with new feeds. */
export interface Executable {
  /** The tensors each run returns. */
  readonly outputs: readonly Tensor[];
  /**
   * Runs the graph once. On WebGPU the work is queued before this returns, so several runs can be
   * queued back to back; the promise settles when the outputs are read back (at once when none).
   */
  run(feeds?: Feeds): Promise<HostArray[]>;
  /**
   * Gives its device memory back now, rather than when it is garbage-collected; running it
   * afterwards is an error. Variables are not freed (see {@link Backend.releaseVariables}).
   */
  dispose(): void;
}

/** A compute backend: CPU typed arrays or WebGPU. Obtain one with `createBackend`. */
export interface Backend {
  /** Which implementation this is. */
  readonly kind: BackendKind;
  /** Precision of float tensors. */
  readonly precision: Precision;
  /** A human-readable description (the adapter's name on WebGPU). */
  readonly description: string;
  /**
   * True for WebGPU on a software adapter (llvmpipe and the like): it runs on the CPU, more
   * slowly than the CPU backend.
   */
  readonly softwareAdapter: boolean;
  /**
   * Compiles what `request` needs; shaders are compiled and constants uploaded here, once. A graph
   * with a tensor beyond one buffer, or needing more memory than the device has left, is refused
   * with a `TooLargeError` before anything is allocated.
   */
  compile(request: CompileRequest): Promise<Executable>;
  /** What the device can hold now: its largest buffer and the memory it has left. */
  limits(): DeviceLimits;
  /** Compiles (once per graph and set of outputs) and runs: a shortcut for one-off evaluation. */
  run(outputs: readonly Tensor[], feeds?: Feeds): Promise<HostArray[]>;
  /** The current value of a variable (its initial value if no graph has used it yet). */
  readVariable(variable: Variable): Promise<FloatArray>;
  /** Overwrites a variable's value. */
  writeVariable(variable: Variable, data: ArrayLike<number>): void;
  /**
   * Frees the device memory of `variables` (a finished run's parameters and optimizer state); a
   * later use of one starts again from its initial value.
   */
  releaseVariables(variables: readonly Variable[]): void;
  /** Waits until all queued work has finished. */
  synchronize(): Promise<void>;
  /** Frees every buffer and device this backend holds. Using it afterwards throws. */
  dispose(): void;
}
