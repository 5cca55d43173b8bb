/**
 * Worker threads sharing the device's WebAssembly memory. The calling thread and the workers run
 * the same modules; a job is handed over through a small shared control block and Atomics (no
 * messages after start-up), the calling thread takes share 0 itself, then waits for the others.
 * Workers spin briefly before sleeping, so jobs that follow each other closely (a training step
 * is a few hundred) do not pay for a wake-up each.
 *
 * The workers are Node-style worker threads created from source text (so this works however the
 * module is loaded, JSR included) and unref'd: a program that forgets to dispose its backend still
 * exits.
 *
 * Byte offsets and lengths travel through an unsigned view of the control block (`words`): in a
 * 4 GiB memory they pass 2^31, where an Int32Array would hand the workers negative numbers. The
 * Int32Array view is only for Atomics, which need it to wait.
 */
import { Worker } from "node:worker_threads";

/** Words of the control block. */
const GEN = 0,
  DONE = 1,
  KIND = 2,
  MODULE = 3,
  FUNC = 4,
  ARGS = 5,
  THREADS = 6,
  BYTES = 7,
  LENGTH = 8,
  ERROR = 9,
  READY = 10;
const CALL = 1, COMPILE = 2, EXIT = 3;

/**
 * The worker's whole program. It runs from its source text in a fresh thread, so it may use
 * nothing from this module: the constants are repeated inside.
 */
function workerMain(memory: WebAssembly.Memory, ctrl: Int32Array, tid: number, seen: number) {
  const words = new Uint32Array(ctrl.buffer);
  const GEN = 0,
    DONE = 1,
    KIND = 2,
    MODULE = 3,
    FUNC = 4,
    ARGS = 5,
    THREADS = 6,
    BYTES = 7,
    LENGTH = 8,
    ERROR = 9;
  const CALL = 1, COMPILE = 2, EXIT = 3;
  const SPINS = 20000;
  const modules: ((args: number, tid: number, threads: number) => void)[][] = [];
  for (;;) {
    let spins = 0;
    while (Atomics.load(ctrl, GEN) === seen) {
      if (++spins > SPINS) {
        Atomics.wait(ctrl, GEN, seen);
        spins = 0;
      }
    }
    seen = Atomics.load(ctrl, GEN);
    const kind = ctrl[KIND];
    try {
      if (kind === CALL) {
        if (tid < ctrl[THREADS]) modules[ctrl[MODULE]][ctrl[FUNC]](words[ARGS], tid, ctrl[THREADS]);
      } else if (kind === COMPILE) {
        const bytes = new Uint8Array(memory.buffer, words[BYTES], words[LENGTH]).slice();
        const module = new WebAssembly.Module(bytes);
        const instance = new WebAssembly.Instance(module, { env: { memory } });
        modules[ctrl[MODULE]] = WebAssembly.Module.exports(module)
          .filter((e) => e.kind === "function")
          .map((e) => instance.exports[e.name] as (a: number, t: number, n: number) => void);
      }
    } catch {
      Atomics.store(ctrl, ERROR, 1);
    }
    Atomics.add(ctrl, DONE, 1);
    Atomics.notify(ctrl, DONE);
    if (kind === EXIT) return;
  }
}

const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
${workerMain.toString()}
parentPort.once("message", (m) => {
  const control = new Int32Array(m.control);
  Atomics.add(control, ${READY}, 1);
  workerMain(m.memory, control, m.tid, m.seen);
});
`;

/** A job's functions, by module and export. */
type JobFn = (args: number, tid: number, threads: number) => void;

/** The calling thread and `size - 1` workers over one shared memory. */
export class ThreadPool {
  readonly #memory: WebAssembly.Memory;
  readonly #ctrl = new Int32Array(new SharedArrayBuffer(64));
  /** The same block unsigned, for byte offsets and lengths (see the module comment). */
  readonly #words = new Uint32Array(this.#ctrl.buffer);
  readonly #workers: Worker[];
  readonly #modules: JobFn[][] = [];
  #disposed = false;

  private constructor(memory: WebAssembly.Memory, workers: Worker[]) {
    this.#memory = memory;
    this.#workers = workers;
  }

  /** A pool of `threads` threads in all (the caller included) on `memory`. */
  static async create(memory: WebAssembly.Memory, threads: number): Promise<ThreadPool> {
    const pool = new ThreadPool(memory, []);
    for (let tid = 1; tid < threads; tid++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      worker.unref();
      worker.postMessage({ memory, control: pool.#ctrl.buffer, tid, seen: 0 });
      pool.#workers.push(worker);
    }
    // Started workers count themselves in; a timer (which keeps the event loop alive, unlike the
    // unref'd workers) polls for them.
    const deadline = performance.now() + 30_000;
    while (Atomics.load(pool.#ctrl, READY) < threads - 1) {
      if (performance.now() > deadline) {
        pool.dispose();
        throw new Error("the WebAssembly worker threads did not start within 30 s");
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    return pool;
  }

  /** Threads in all, the caller included. */
  get size(): number {
    return this.#workers.length + 1;
  }

  /** Hands a job to every worker and waits for all of them. */
  #broadcast(set: () => void): void {
    const ctrl = this.#ctrl;
    set();
    Atomics.store(ctrl, DONE, 0);
    Atomics.store(ctrl, ERROR, 0);
    Atomics.add(ctrl, GEN, 1);
    Atomics.notify(ctrl, GEN);
  }

  #join(): void {
    const ctrl = this.#ctrl, workers = this.#workers.length;
    let spins = 0;
    for (;;) {
      const done = Atomics.load(ctrl, DONE);
      if (done >= workers) break;
      if (++spins > 2000) Atomics.wait(ctrl, DONE, done, 100);
    }
    if (Atomics.load(ctrl, ERROR) !== 0) {
      throw new Error("a WebAssembly kernel failed in a worker thread");
    }
  }

  /**
   * Compiles `bytes` (a module importing the shared memory as `env.memory`) on every thread and
   * returns its id. `scratch` is a free region of the memory of at least `bytes.length` bytes,
   * through which the workers receive the module.
   */
  load(bytes: Uint8Array, scratch: number): number {
    this.#check();
    const module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    const instance = new WebAssembly.Instance(module, { env: { memory: this.#memory } });
    const id = this.#modules.length;
    this.#modules.push(
      WebAssembly.Module.exports(module).filter((e) => e.kind === "function")
        .map((e) => instance.exports[e.name] as JobFn),
    );
    if (this.#workers.length > 0) {
      new Uint8Array(this.#memory.buffer, scratch, bytes.length).set(bytes);
      this.#broadcast(() => {
        this.#ctrl[KIND] = COMPILE;
        this.#ctrl[MODULE] = id;
        this.#words[BYTES] = scratch;
        this.#words[LENGTH] = bytes.length;
      });
      this.#join();
    }
    return id;
  }

  /** Runs export `func` of module `id` on argument block `args` with `threads` threads. */
  run(id: number, func: number, args: number, threads: number): void {
    this.#check();
    const fn = this.#modules[id][func];
    const n = Math.min(threads, this.size);
    if (n <= 1) {
      fn(args, 0, 1);
      return;
    }
    this.#broadcast(() => {
      this.#ctrl[KIND] = CALL;
      this.#ctrl[MODULE] = id;
      this.#ctrl[FUNC] = func;
      this.#words[ARGS] = args;
      this.#ctrl[THREADS] = n;
    });
    try {
      fn(args, 0, n);
    } finally {
      this.#join();
    }
  }

  #check(): void {
    if (this.#disposed) throw new Error("this backend has been disposed");
  }

  /** Ends the workers. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.#workers.length > 0) {
      this.#broadcast(() => (this.#ctrl[KIND] = EXIT));
      for (const worker of this.#workers) worker.terminate();
    }
  }
}
