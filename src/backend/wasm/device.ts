/**
 * The WebAssembly CPU device: every buffer lives in one shared WebAssembly memory, kernels are SIMD
 * WebAssembly emitted at run time (kernels.ts, elementwise.ts), and large kernels are split across
 * worker threads sharing the memory (threads.ts). Relaxed SIMD (fused multiply-add) is used where
 * the engine has it. A program runs its steps synchronously in the calling thread, which takes a
 * share of each split kernel itself.
 *
 * It is long because it is the one place where each kind of kernel meets the memory: its argument
 * words, scratch and thread count are decided here, next to each other, for every kind.
 */
import type { DType } from "../../graph/tensor.ts";
import type { DeviceLimits, HostArray } from "../backend.ts";
import type {
  Device,
  DeviceBuffer,
  DeviceProgram,
  PreparedKernel,
  ProgramSpec,
} from "../device.ts";
import {
  type ConvKernel,
  type ConvShape,
  type Kernel,
  kernelLabel,
  type MatmulKernel,
  patchWords,
  type PoolShape,
  type ReduceKernel,
  windowsSize,
} from "../kernel.ts";
import { convJobs, convScratchBytes, convTiles } from "./conv.ts";
import { rowBases } from "../js/elementwise.ts";
import { buildKernelModule, KERNEL_ARGS, KERNEL_EXPORTS, type KernelExport } from "./kernels.ts";
import {
  buildElementwiseModule,
  elementwiseArgs,
  type ElementwiseLayout,
  layoutKey,
  strideClass,
} from "./elementwise.ts";
import { defaultMatmulConfig, matmulScratchBytes, relaxedSimdSupported } from "./matmul_kernel.ts";
import { ALIGN, Allocator } from "./memory.ts";
import { argSmallestKScratchBytes, selectionSample } from "./select.ts";
import { ThreadPool } from "./threads.ts";

/** A buffer of the device: a region of the shared memory. */
interface WasmBuffer extends DeviceBuffer {
  /** Byte offset. */
  readonly offset: number;
}

interface WasmStep extends PreparedKernel {
  readonly run: () => void;
  /** Memory the step alone uses (its argument block, row tables), freed with its program. */
  readonly blocks: readonly number[];
}

/** Time spent in the kernels of one label while profiling (see {@link WasmDevice.profile}). */
export interface KernelTime {
  /** Runs of kernels with this label. */
  calls: number;
  /** Milliseconds in all. */
  ms: number;
}

/** Options of {@link WasmDevice.create}. */
export interface WasmDeviceOptions {
  /** Threads in all (the caller included); default `navigator.hardwareConcurrency`. */
  readonly threads?: number;
  /** Use relaxed SIMD when the engine has it (default true); false forces plain SIMD. */
  readonly relaxed?: boolean;
  /**
   * A kernel is split across the threads when its work (elements it writes or reads, or a
   * product's multiply-adds / 32) reaches this. Default 32768; 0 splits every kernel (tests).
   */
  readonly splitAbove?: number;
  /**
   * Milliseconds worker threads wait for a job before they leave (default 1000); the next job
   * starts them again. See threads.ts.
   */
  readonly idleMs?: number;
}

/**
 * Below this much work a kernel runs on the calling thread alone: a hand-over costs a few
 * microseconds, so it pays only for kernels that take many times that.
 */
const SPLIT_ABOVE = 1 << 15;

/** Runs kernels as WebAssembly SIMD on the CPU, on worker threads where it pays. */
export class WasmDevice implements Device {
  readonly kind = "cpu" as const;
  readonly precision = "float32" as const;
  readonly description: string;
  /** Whether kernels use relaxed SIMD (fused multiply-add). */
  readonly relaxed: boolean;
  readonly #memory: WebAssembly.Memory;
  readonly #allocator: Allocator;
  readonly #pool: ThreadPool;
  readonly #kernels: number;
  readonly #modules = new Map<string, number>();
  readonly #splitAbove: number;
  /**
   * Per-thread scratch of the kernels that need one (matmul's packed panels, selection's keys): the
   * region and the distance between threads' parts.
   */
  #scratch = { offset: 0, stride: 0 };
  /** Two words in the memory telling the kernels where the scratch is (see kernels.ts). */
  readonly #scratchWords: number;
  #disposed = false;
  /**
   * When set, every program run times each of its steps into this map, by kernel label (see
   * kernelLabel), with "variable updates" for the copies at the end: the profile of a workload.
   * Off (null) by default; timing costs a clock read per step.
   */
  profile: Map<string, KernelTime> | null = null;

  private constructor(
    memory: WebAssembly.Memory,
    pool: ThreadPool,
    relaxed: boolean,
    allocator: Allocator,
    splitAbove: number,
  ) {
    this.#memory = memory;
    this.#splitAbove = splitAbove;
    this.#pool = pool;
    this.relaxed = relaxed;
    this.#allocator = allocator;
    const simd = relaxed ? "relaxed SIMD" : "SIMD";
    const threads = pool.size === 1 ? "1 thread" : `${pool.size} threads`;
    const split = splitAbove === 0 && pool.size > 1 ? ", every kernel split" : "";
    const limit = pool.limit === null ? "" : `: ${pool.limit}`;
    this.description = `CPU (WebAssembly ${simd}, ${threads}${split}${limit})`;
    this.#kernels = this.#load(buildKernelModule(relaxed));
    this.#scratchWords = allocator.alloc(8);
  }

  /** Starts a device (its worker threads included). */
  static async create(options: WasmDeviceOptions = {}): Promise<WasmDevice> {
    const threads = options.threads ?? globalThis.navigator?.hardwareConcurrency ?? 1;
    if (!Number.isInteger(threads) || threads < 1) {
      throw new RangeError(`threads must be a positive integer, got ${threads}`);
    }
    const relaxed = (options.relaxed ?? true) && relaxedSimdSupported();
    const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536, shared: true });
    const pool = await ThreadPool.create(memory, threads, { idleMs: options.idleMs });
    const splitAbove = options.splitAbove ?? SPLIT_ABOVE;
    return new WasmDevice(memory, pool, relaxed, new Allocator(memory, ALIGN), splitAbove);
  }

  /** Threads in all. */
  get threads(): number {
    return this.#pool.size;
  }

  /** Threads working now: {@link threads}, or 1 while idle workers are away (see threads.ts). */
  get activeThreads(): number {
    return this.#pool.activeThreads;
  }

  /** Bytes of the shared memory in use, and the most ever in use. */
  get memoryUse(): { used: number; peak: number } {
    return { used: this.#allocator.usedBytes, peak: this.#allocator.peakBytes };
  }

  #check(): void {
    if (this.#disposed) throw new Error("this backend has been disposed");
  }

  /** Loads a module on every thread; returns its id. */
  #load(bytes: Uint8Array): number {
    const scratch = this.#allocator.alloc(bytes.length);
    try {
      return this.#pool.load(bytes, scratch);
    } finally {
      this.#allocator.free(scratch);
    }
  }

  #f32(offset: number, n: number): Float32Array {
    return new Float32Array(this.#memory.buffer, offset, n);
  }

  #i32(offset: number, n: number): Int32Array {
    return new Int32Array(this.#memory.buffer, offset, n);
  }

  /** The 4 GiB of a 32-bit WebAssembly memory, less what is in use. */
  limits(): DeviceLimits {
    return {
      maxBufferBytes: this.#allocator.maxBlockBytes,
      availableBytes: this.#allocator.availableBytes,
    };
  }

  alloc(elements: number, dtype: DType): DeviceBuffer {
    this.#check();
    const buffer: WasmBuffer = { elements, dtype, offset: this.#allocator.alloc(elements * 4) };
    return buffer;
  }

  write(buffer: DeviceBuffer, data: ArrayLike<number>): void {
    this.#check();
    const { offset, dtype } = buffer as WasmBuffer;
    (dtype === "int32" ? this.#i32(offset, data.length) : this.#f32(offset, data.length)).set(data);
  }

  read(buffer: DeviceBuffer, elements: number): Promise<HostArray> {
    this.#check();
    return Promise.resolve(copyOut(this.#view(buffer, elements)));
  }

  #view(buffer: DeviceBuffer, elements: number): Float32Array | Int32Array {
    const { offset, dtype } = buffer as WasmBuffer;
    return dtype === "int32" ? this.#i32(offset, elements) : this.#f32(offset, elements);
  }

  free(buffer: DeviceBuffer): void {
    if (this.#disposed) return;
    this.#allocator.free((buffer as WasmBuffer).offset);
  }

  /** An argument block holding `words`; its offset. */
  #args(words: ArrayLike<number>): number {
    const offset = this.#allocator.alloc(words.length * 4);
    this.#i32(offset, words.length).set(words);
    return offset;
  }

  /** A step running kernel export `name` with `words` on up to `threads` threads. */
  #fixed(kernel: Kernel, name: KernelExport, words: number[], threads: number): WasmStep {
    if (words.length !== KERNEL_ARGS[name].length) {
      throw new Error(`wasm ${name}: ${words.length} argument words for ${KERNEL_ARGS[name]}`);
    }
    const args = this.#args(words);
    const func = KERNEL_EXPORTS.indexOf(name);
    const pool = this.#pool, module = this.#kernels;
    return { kernel, run: () => pool.run(module, func, args, threads), blocks: [args] };
  }

  /**
   * The convolutions this device computes as one kernel (Winograd F(2x2, 3x3), conv.ts): 3x3,
   * stride 1, "same" padding, channel counts that are multiples of 4.
   */
  directConvolution(s: ConvShape): boolean {
    return s.kh === 3 && s.kw === 3 && s.stride === 1 && s.padTop === 1 && s.padLeft === 1 &&
      s.outHeight === s.height && s.outWidth === s.width && s.cin % 4 === 0 && s.cout % 4 === 0;
  }

  /**
   * The poolings this device computes as one kernel: windows wholly inside the image (no padding,
   * none past its edge), so every tap is a pixel.
   */
  directPooling(s: PoolShape): boolean {
    return s.padTop === 0 && s.padLeft === 0 &&
      (s.outHeight - 1) * s.stride + s.kh <= s.height &&
      (s.outWidth - 1) * s.stride + s.kw <= s.width;
  }

  /** A step running kernel jobs one after the other, each on `threads` threads. */
  #jobs(
    kernel: Kernel,
    jobs: readonly [KernelExport, number[]][],
    threads: number,
    own: number[],
  ): WasmStep {
    const pool = this.#pool, module = this.#kernels;
    const calls = jobs.map(([name, words]) => {
      if (words.length !== KERNEL_ARGS[name].length) {
        throw new Error(`wasm ${name}: ${words.length} argument words for ${KERNEL_ARGS[name]}`);
      }
      return { func: KERNEL_EXPORTS.indexOf(name), args: this.#args(words) };
    });
    const run = () => {
      for (const c of calls) pool.run(module, c.func, c.args, threads);
    };
    return { kernel, run, blocks: [...own, ...calls.map((c) => c.args)] };
  }

  /**
   * Aᵀ B with too few rows of output for two row bands (see splitsInnerDimension): partials per
   * chunk of the inner dimension on all threads, then their sum in chunk order.
   */
  #matmulSplitK(kernel: MatmulKernel, inputs: readonly number[], out: number): WasmStep {
    const { m, n, k } = kernel;
    const chunks = Math.ceil(k / SPLIT_K_CHUNK);
    this.#ensureScratch(matmulScratchBytes(m, n, SPLIT_K_CHUNK, defaultMatmulConfig(this.relaxed)));
    const partials = this.#allocator.alloc(chunks * m * n * 4);
    const threads = Math.min(this.#threadsFor((m * n * k) / 32), chunks);
    const words = [
      inputs[0],
      inputs[1],
      partials,
      m,
      n,
      k,
      this.#scratchWords,
      SPLIT_K_CHUNK,
      chunks,
    ];
    return this.#jobs(
      kernel,
      [
        ["matmul_split_k", words],
        ["sum_columns", [partials, out, 1, chunks, m * n]],
      ],
      threads,
      [partials],
    );
  }

  #conv(kernel: ConvKernel, inputs: readonly number[], out: number): WasmStep {
    const { n, height, width, cin, cout } = kernel;
    this.#ensureScratch(convScratchBytes(cin, cout, defaultMatmulConfig(this.relaxed)));
    const threads = this.#threadsFor(convTiles(n, height, width) * cin * cout / 2);
    const alloc = (bytes: number) => this.#allocator.alloc(bytes);
    const { jobs, own } = convJobs(kernel, inputs, out, this.#scratchWords, alloc);
    return this.#jobs(kernel, jobs, threads, own);
  }

  /** The threads for a kernel of this much work. */
  #threadsFor(work: number): number {
    return work >= this.#splitAbove ? this.threads : 1;
  }

  /** Makes sure every thread has `bytes` of scratch. */
  #ensureScratch(bytes: number): void {
    const stride = Math.ceil(bytes / ALIGN) * ALIGN;
    if (stride <= this.#scratch.stride) return;
    if (this.#scratch.stride > 0) this.#allocator.free(this.#scratch.offset);
    this.#scratch = { offset: this.#allocator.alloc(stride * this.threads), stride };
    this.#i32(this.#scratchWords, 2).set([this.#scratch.offset, stride]);
  }

  prepare(
    kernel: Kernel,
    inputs: readonly DeviceBuffer[],
    output: DeviceBuffer,
  ): Promise<PreparedKernel> {
    this.#check();
    const at = (b: DeviceBuffer) => (b as WasmBuffer).offset;
    const out = at(output);
    switch (kernel.kind) {
      case "matmul": {
        const { m, n, k } = kernel;
        const config = defaultMatmulConfig(this.relaxed);
        if (splitsInnerDimension(kernel, config.mr)) {
          return Promise.resolve(this.#matmulSplitK(kernel, inputs.map(at), out));
        }
        // Threads take bands of whole micro-tile rows; a band too thin to fill one would take
        // the kernel's unpacked path, so small products stay on one thread.
        const threads = this.#threadsFor((m * n * k) / 32) > 1
          ? Math.max(1, Math.min(this.threads, Math.floor(m / config.mr)))
          : 1;
        // Each thread's scratch is sized for the whole product: the kernel packs blocks of up to
        // min(m, mc) rows whatever band it computes.
        this.#ensureScratch(matmulScratchBytes(m, n, k, config));
        const flags = (kernel.transposeA ? 1 : 0) | (kernel.transposeB ? 2 : 0);
        const words = [
          at(inputs[0]),
          at(inputs[1]),
          out,
          m,
          n,
          k,
          flags,
          this.#scratchWords,
          config.mr,
        ];
        return Promise.resolve(this.#fixed(kernel, "matmul", words, threads));
      }
      case "reduce": {
        const { outer, length, inner } = kernel;
        const threads = this.#threadsFor(outer * length * inner);
        const x = at(inputs[0]);
        if (kernel.op === "argmax") {
          return Promise.resolve(
            this.#fixed(kernel, "argmax", [x, out, outer, length, inner], threads),
          );
        }
        if (splitsReducedAxis(kernel)) {
          const chunks = Math.ceil(length / REDUCE_CHUNK);
          const partials = this.#allocator.alloc(chunks * inner * 4);
          return Promise.resolve(this.#jobs(
            kernel,
            [
              [`${kernel.op}_columns_chunks`, [x, partials, length, inner, REDUCE_CHUNK, chunks]],
              [`${kernel.op}_columns`, [partials, out, 1, chunks, inner]],
            ],
            Math.min(threads, chunks),
            [partials],
          ));
        }
        const name = `${kernel.op}_${inner === 1 ? "rows" : "columns"}` as KernelExport;
        const words = inner === 1 ? [x, out, outer, length] : [x, out, outer, length, inner];
        return Promise.resolve(this.#fixed(kernel, name, words, threads));
      }
      case "gather": {
        const threads = this.#threadsFor(kernel.rows * kernel.inner);
        const words = [at(inputs[0]), at(inputs[1]), out, kernel.rows, kernel.inner, kernel.bound];
        return Promise.resolve(this.#fixed(kernel, "gather", words, threads));
      }
      case "segmentSum": {
        const threads = this.#threadsFor(kernel.rows * kernel.inner);
        const words = [
          at(inputs[0]),
          at(inputs[1]),
          out,
          kernel.rows,
          kernel.inner,
          kernel.segments,
        ];
        return Promise.resolve(this.#fixed(kernel, "segment_sum", words, threads));
      }
      case "oneHot": {
        const threads = this.#threadsFor(kernel.rows * kernel.depth);
        const words = [at(inputs[0]), out, kernel.rows, kernel.depth];
        return Promise.resolve(this.#fixed(kernel, "one_hot", words, threads));
      }
      case "elementwise":
        return Promise.resolve(this.#elementwise(kernel, inputs.map(at), out));
      case "patches":
      case "unpatches": {
        const k = kernel;
        const words = [at(inputs[0]), out, ...patchWords(k)];
        const threads = this.#threadsFor(windowsSize(k));
        return Promise.resolve(this.#fixed(kernel, k.kind, words, threads));
      }
      case "argSmallestK": {
        const { rows, n, k } = kernel;
        this.#ensureScratch(argSmallestKScratchBytes(n));
        const sample = selectionSample(n, k);
        const words = [
          at(inputs[0]),
          out,
          rows,
          n,
          k,
          this.#scratchWords,
          sample.step,
          sample.count,
          sample.rank,
        ];
        // Selection costs far more per value than a copy: a few rows are worth splitting.
        const threads = this.#threadsFor(rows * n * 8);
        return Promise.resolve(this.#fixed(kernel, "arg_smallest_k", words, threads));
      }
      case "conv":
        return Promise.resolve(this.#conv(kernel, inputs.map(at), out));
      case "pool": {
        const k = kernel;
        const words = [at(inputs[0]), out, ...patchWords(k)];
        const threads = this.#threadsFor(k.n * k.outHeight * k.outWidth * k.kh * k.kw * k.c);
        return Promise.resolve(this.#fixed(kernel, `pool_${k.op}`, words, threads));
      }
      case "takeAlongRows": {
        const { rows, n, k } = kernel;
        const words = [at(inputs[0]), at(inputs[1]), out, rows, n, k];
        return Promise.resolve(
          this.#fixed(kernel, "take_along_rows", words, this.#threadsFor(rows * k)),
        );
      }
    }
  }

  #elementwise(kernel: Kernel & { kind: "elementwise" }, inputs: number[], out: number): WasmStep {
    const { program, shape, size } = kernel;
    const strided = program.inputs.map((x) => x.access === "strided");
    const lastStride = program.inputs.map((x) => x.strides[x.strides.length - 1] ?? 0);
    const layout: ElementwiseLayout = {
      program,
      strides: strided.map((s, j) => (s ? strideClass(lastStride[j]) : null)),
    };
    const key = layoutKey(layout);
    let module = this.#modules.get(key);
    if (module === undefined) {
      module = this.#load(buildElementwiseModule(layout));
      this.#modules.set(key, module);
    }
    const rowwise = strided.some((s) => s);
    const inner = rowwise && shape.length > 0 ? shape[shape.length - 1] : size;
    // Row tables of the strided inputs, kept in the memory for the job to read.
    const bases = program.inputs.map((x, j) => {
      if (!strided[j]) return 0;
      const table = rowBases(shape, x.strides);
      const offset = this.#allocator.alloc(table.length * 4);
      this.#i32(offset, table.length).set(table);
      return offset;
    });
    const args = this.#args(elementwiseArgs(out, size, inner, inputs, bases, lastStride));
    const threads = this.#threadsFor(size);
    const pool = this.#pool, id = module;
    const blocks = [args, ...bases.filter((b) => b !== 0)];
    return { kernel, run: () => pool.run(id, 0, args, threads), blocks };
  }

  program(spec: ProgramSpec): Promise<DeviceProgram> {
    this.#check();
    const steps = (spec.steps as readonly WasmStep[]).map((s) => s.run);
    const labels = spec.steps.map((s) => kernelLabel(s.kernel));
    const reads = spec.reads.map((r) => ({ buffer: r.buffer, elements: r.elements }));
    // Large updates are copied by all threads (an argument block each), small ones by the caller.
    const copyFunc = KERNEL_EXPORTS.indexOf("copy_floats");
    const copies = spec.copies.map((c) => {
      const from = (c.from as WasmBuffer).offset, to = (c.to as WasmBuffer).offset;
      const threads = this.#threadsFor(c.elements);
      const args = threads > 1 ? this.#args([from, to, c.elements]) : null;
      return { from, to, bytes: c.elements * 4, threads, args };
    });
    const guard = spec.guard === null ? null : (spec.guard as WasmBuffer).offset;
    const latch = spec.latch ? (spec.latch as WasmBuffer).offset : null;
    // deno-lint-ignore require-await -- failures reject, as on every device
    const run = async (): Promise<HostArray[]> => {
      this.#check();
      const profile = this.profile;
      if (profile === null) {
        for (const step of steps) step();
      } else {
        steps.forEach((step, i) => timeInto(profile, labels[i], step));
      }
      const results = reads.map((r) => copyOut(this.#view(r.buffer, r.elements)));
      if (guard === null || this.#f32(guard, 1)[0] > 0) {
        const copy = () => {
          const bytes = new Uint8Array(this.#memory.buffer);
          for (const c of copies) {
            if (c.args === null) bytes.copyWithin(c.to, c.from, c.from + c.bytes);
            else this.#pool.run(this.#kernels, copyFunc, c.args, c.threads);
          }
        };
        if (profile === null) copy();
        else if (copies.length > 0) timeInto(profile, "variable updates", copy);
      }
      if (latch !== null) this.#f32(latch, 1)[0] = this.#f32(guard!, 1)[0];
      return results;
    };
    const free = () => {
      this.release(spec.steps);
      if (this.#disposed) return;
      for (const c of copies) if (c.args !== null) this.#allocator.free(c.args);
    };
    return Promise.resolve({ run, free });
  }

  release(steps: readonly PreparedKernel[]): void {
    if (this.#disposed) return;
    for (const step of steps as readonly WasmStep[]) {
      for (const block of step.blocks) this.#allocator.free(block);
    }
  }

  synchronize(): Promise<void> {
    return Promise.resolve();
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#pool.dispose();
  }
}

/** Runs `work` and adds its time to `label`'s entry of `profile`. */
function timeInto(profile: Map<string, KernelTime>, label: string, work: () => void): void {
  const start = performance.now();
  work();
  const ms = performance.now() - start;
  const entry = profile.get(label);
  if (entry === undefined) profile.set(label, { calls: 1, ms });
  else {
    entry.calls++;
    entry.ms += ms;
  }
}

/** Rows per partial of a split column reduction (see splitsReducedAxis). */
export const REDUCE_CHUNK = 1024;

/**
 * Whether a sum or max along the middle axis is computed as partials over chunks of its rows:
 * one outer row (a tall matrix's columns), more than one column, and at least two chunks. The
 * shape alone decides, so every thread count combines the same way.
 */
export function splitsReducedAxis(kernel: ReduceKernel): boolean {
  return kernel.op !== "argmax" && kernel.outer === 1 && kernel.inner > 1 &&
    kernel.length >= 2 * REDUCE_CHUNK;
}

/** Rows of the inner dimension per partial of a split product (see splitsInnerDimension). */
export const SPLIT_K_CHUNK = 4096;

/**
 * Whether a product is computed as partials over chunks of its inner dimension: Aᵀ B (A stored
 * k x m, B k x n, so each chunk's rows are contiguous) with fewer than two micro-tile rows of
 * output, which row bands would leave on one thread, and at least two chunks. It depends on the
 * shape alone, never on the thread count, so every thread count sums the same way.
 */
export function splitsInnerDimension(kernel: MatmulKernel, mr: number): boolean {
  return kernel.transposeA && !kernel.transposeB && Math.floor(kernel.m / mr) < 2 &&
    kernel.k >= 2 * SPLIT_K_CHUNK;
}

/**
 * A copy of a view of the shared memory in an array of its own. Not `slice()`: on a shared
 * buffer V8 copies element by element there (about 0.35 GB/s here, measured), where `set` copies
 * in bulk (about 35 GB/s); the evaluation reads back hundreds of megabytes of neighbours.
 */
function copyOut<T extends Float32Array | Int32Array>(view: T): T {
  const out =
    (view instanceof Float32Array
      ? new Float32Array(view.length)
      : new Int32Array(view.length)) as T;
  out.set(view);
  return out;
}
