/**
 * Worker threads sharing the device's WebAssembly memory. The calling thread and the workers run
 * the same modules; a job is handed over through a small shared control block and Atomics (no
 * messages once the workers run), the calling thread takes share 0 itself, then waits for the
 * others. Workers spin briefly before sleeping, so jobs that follow each other closely (a training
 * step is a few hundred) do not pay for a wake-up each.
 *
 * The workers are Web Workers (module workers started from a Blob URL of their program's source
 * text), which Deno and browsers both have, so this works however the library is loaded: a
 * checkout, JSR, or a bundle in a page.
 *
 * - **Idle workers leave.** Deno keeps a process alive while a Web Worker lives and offers no way
 *   to unref one, so workers that see no job for `idleMs` end themselves: a program that forgets to
 *   dispose its backend still exits. The next job then runs on the calling thread alone while new
 *   workers start in the background; they take jobs again once ready. Every kernel computes the
 *   same bits whatever the number of threads, so results do not depend on when this happens.
 * - **Cross-origin isolation.** A page can share memory with its workers only when it is
 *   cross-origin isolated (served with COOP `same-origin` and COEP `require-corp`); elsewhere the
 *   pool is the calling thread alone, and {@link ThreadPool.limit} says why.
 * - **A browser's main thread may not block** (`Atomics.wait` throws there): it spins while it
 *   waits for the workers.
 *
 * Byte offsets pass 2 GiB in a 4 GiB memory, so the words that carry them are read unsigned.
 */

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
  READY = 10,
  STATE = 11;
/** Job kinds. */
const CALL = 1, COMPILE = 2, EXIT = 3;
/** Pool states: workers waiting for a job, a job handed out, workers gone or leaving. */
const OPEN = 0, BUSY = 1, CLOSED = 2;

/** How long a worker waits for a job before it leaves (see the module comment). */
export const DEFAULT_IDLE_MS = 1000;
/** How long workers may take to start. */
const START_TIMEOUT_MS = 30_000;

/** What a worker receives when it starts, and (`start: true`) when it may begin taking jobs. */
interface StartMessage {
  memory?: WebAssembly.Memory;
  control?: SharedArrayBuffer;
  tid?: number;
  idleMs?: number;
  /** Modules to instantiate, in id order from `first`. */
  modules: WebAssembly.Module[];
  first: number;
  /** Enter the job loop. */
  start: boolean;
}

/**
 * The worker's whole program. It runs from its source text in a fresh thread, so it may use
 * nothing from this module: the constants are repeated inside.
 */
function workerProgram(scope: {
  onmessage: ((event: { data: StartMessage }) => void) | null;
  close(): void;
}) {
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
    READY = 10,
    STATE = 11;
  const CALL = 1, COMPILE = 2, EXIT = 3;
  const OPEN = 0, CLOSED = 2;
  const SPINS = 20000;
  type Fn = (args: number, tid: number, threads: number) => void;
  const modules: Fn[][] = [];
  let memory: WebAssembly.Memory, ctrl: Int32Array, words: Uint32Array;
  let tid = 0, idleMs = 0;

  const instantiate = (module: WebAssembly.Module): Fn[] => {
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    return WebAssembly.Module.exports(module)
      .filter((e) => e.kind === "function")
      .map((e) => instance.exports[e.name] as Fn);
  };

  /** Takes jobs until told to exit or idle for idleMs; returns when the worker should end. */
  const serve = () => {
    let seen = 0;
    for (;;) {
      let spins = 0;
      while (Atomics.load(ctrl, GEN) === seen) {
        if (++spins <= SPINS) continue;
        spins = 0;
        const woke = Atomics.wait(ctrl, GEN, seen, idleMs);
        if (Atomics.load(ctrl, GEN) !== seen) break;
        // Idle: close the pool, unless the caller is handing out a job right now (then GEN moves
        // on shortly). The first worker to close it wakes the others, who leave with it.
        if (Atomics.load(ctrl, STATE) === CLOSED) return;
        if (woke === "timed-out" && Atomics.compareExchange(ctrl, STATE, OPEN, CLOSED) === OPEN) {
          Atomics.notify(ctrl, GEN);
          return;
        }
      }
      seen = Atomics.load(ctrl, GEN);
      const kind = ctrl[KIND];
      try {
        if (kind === CALL) {
          const threads = ctrl[THREADS];
          if (tid < threads) modules[ctrl[MODULE]][ctrl[FUNC]](words[ARGS], tid, threads);
        } else if (kind === COMPILE) {
          const bytes = new Uint8Array(memory.buffer, words[BYTES], words[LENGTH]).slice();
          modules[ctrl[MODULE]] = instantiate(new WebAssembly.Module(bytes));
        }
      } catch {
        Atomics.store(ctrl, ERROR, 1);
      }
      Atomics.add(ctrl, DONE, 1);
      Atomics.notify(ctrl, DONE);
      if (kind === EXIT) return;
    }
  };

  scope.onmessage = (event) => {
    const m = event.data;
    if (m.memory !== undefined) {
      memory = m.memory;
      ctrl = new Int32Array(m.control!);
      words = new Uint32Array(m.control!);
      tid = m.tid!;
      idleMs = m.idleMs!;
    }
    try {
      m.modules.forEach((module, i) => (modules[m.first + i] = instantiate(module)));
    } catch {
      Atomics.store(ctrl, ERROR, 1);
    }
    if (!m.start) {
      Atomics.add(ctrl, READY, 1);
      return;
    }
    serve();
    scope.close();
  };
}

let workerUrl: string | null = null;

/** A Blob URL of the worker program (one per thread of the library, reused by every pool). */
function workerSource(): string {
  workerUrl ??= URL.createObjectURL(
    new Blob([`(${workerProgram.toString()})(self);\n`], { type: "text/javascript" }),
  );
  return workerUrl;
}

/** A job's functions, by module and export. */
type JobFn = (args: number, tid: number, threads: number) => void;

/** One generation of workers and their control block. */
interface Crew {
  readonly ctrl: Int32Array;
  readonly words: Uint32Array;
  readonly workers: Worker[];
}

/** Why a page's pool has fewer threads than asked, or null. */
function isolationLimit(): string | null {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  return isolated === false
    ? "the page is not cross-origin isolated, so workers cannot share its memory"
    : null;
}

/** Whether this thread may block in `Atomics.wait` (a browser's main thread may not). */
function canBlock(ctrl: Int32Array): boolean {
  try {
    Atomics.wait(ctrl, GEN, -1, 0);
    return true;
  } catch {
    return false;
  }
}

/** Options of {@link ThreadPool.create}. */
export interface ThreadPoolOptions {
  /** Milliseconds a worker waits for a job before it leaves (default {@link DEFAULT_IDLE_MS}). */
  idleMs?: number;
}

/** The calling thread and `size - 1` workers over one shared memory. */
export class ThreadPool {
  /** Threads in all, the caller included, when the workers are there. */
  readonly size: number;
  /** Why the pool has fewer threads than asked for (null when it has them all). */
  readonly limit: string | null;
  readonly #memory: WebAssembly.Memory;
  readonly #idleMs: number;
  /** Every module's functions on this thread, and the module itself for new workers. */
  readonly #modules: JobFn[][] = [];
  readonly #compiled: WebAssembly.Module[] = [];
  /** The workers taking jobs (their control block says whether they still are). */
  #crew: Crew | null = null;
  /** Workers being started to replace a crew that left. */
  #starting: Promise<void> | null = null;
  #block = true;
  #disposed = false;

  private constructor(
    memory: WebAssembly.Memory,
    size: number,
    limit: string | null,
    idle: number,
  ) {
    this.#memory = memory;
    this.size = size;
    this.limit = limit;
    this.#idleMs = idle;
  }

  /** A pool of `threads` threads in all (the caller included) on `memory`. */
  static async create(
    memory: WebAssembly.Memory,
    threads: number,
    options: ThreadPoolOptions = {},
  ): Promise<ThreadPool> {
    const limit = threads > 1 ? isolationLimit() : null;
    const pool = new ThreadPool(
      memory,
      limit === null ? threads : 1,
      limit,
      options.idleMs ?? DEFAULT_IDLE_MS,
    );
    if (pool.size > 1) {
      pool.#crew = await pool.#startCrew();
      pool.#block = canBlock(pool.#crew.ctrl);
    }
    return pool;
  }

  /** Threads working now: {@link size}, or 1 while the workers are away (idle or starting). */
  get activeThreads(): number {
    const crew = this.#crew;
    return crew !== null && Atomics.load(crew.ctrl, STATE) !== CLOSED ? this.size : 1;
  }

  /**
   * Starts `size - 1` workers with every module loaded so far. They count themselves in on the
   * control block; a timer (which keeps the event loop alive until they have) polls for them.
   * Modules loaded while they started are sent before they begin taking jobs.
   */
  async #startCrew(): Promise<Crew> {
    const control = new SharedArrayBuffer(64);
    const ctrl = new Int32Array(control), words = new Uint32Array(control);
    const workers: Worker[] = [];
    const failures: string[] = [];
    const first = this.#compiled.slice();
    try {
      for (let tid = 1; tid < this.size; tid++) {
        const worker = new Worker(workerSource(), { type: "module" });
        worker.onerror = (event) => {
          event.preventDefault();
          failures.push(event.message);
        };
        workers.push(worker);
        const message: StartMessage = {
          memory: this.#memory,
          control,
          tid,
          idleMs: this.#idleMs,
          modules: first,
          first: 0,
          start: false,
        };
        worker.postMessage(message);
      }
      const deadline = performance.now() + START_TIMEOUT_MS;
      while (Atomics.load(ctrl, READY) < workers.length) {
        if (failures.length > 0) throw new Error(failures[0]);
        if (this.#disposed) throw new Error("this backend has been disposed");
        if (performance.now() > deadline) {
          throw new Error(`they did not start within ${START_TIMEOUT_MS / 1000} s`);
        }
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      if (Atomics.load(ctrl, ERROR) !== 0) throw new Error("a module failed to load in a worker");
    } catch (error) {
      for (const worker of workers) worker.terminate();
      throw new Error(
        `the WebAssembly worker threads could not start: ${(error as Error).message}`,
      );
    }
    const rest = this.#compiled.slice(first.length);
    for (const worker of workers) {
      const message: StartMessage = { modules: rest, first: first.length, start: true };
      worker.postMessage(message);
    }
    return { ctrl, words, workers };
  }

  /** Starts new workers in the background after the last ones left (once at a time). */
  #replaceCrew(): void {
    if (this.#starting !== null || this.#disposed) return;
    const old = this.#crew;
    this.#starting = this.#startCrew().then(
      (crew) => {
        this.#starting = null;
        if (this.#disposed) {
          for (const worker of crew.workers) worker.terminate();
          return;
        }
        for (const worker of old?.workers ?? []) worker.terminate();
        this.#crew = crew;
      },
      () => {
        // The caller's thread carries on alone; results are the same, only slower.
        this.#starting = null;
        this.#crew = null;
      },
    );
  }

  /**
   * The crew, reserved for one job (state OPEN to BUSY), or null when the workers are away: then
   * the caller works alone and new workers are on their way.
   */
  #reserve(): Crew | null {
    const crew = this.#crew;
    if (crew === null) return null;
    if (Atomics.compareExchange(crew.ctrl, STATE, OPEN, BUSY) === OPEN) return crew;
    this.#replaceCrew();
    return null;
  }

  /** Hands a job to every worker of `crew`. */
  #broadcast(crew: Crew, kind: number, set: (words: Uint32Array) => void): void {
    const { ctrl, words } = crew;
    set(words);
    ctrl[KIND] = kind;
    Atomics.store(ctrl, DONE, 0);
    Atomics.store(ctrl, ERROR, 0);
    Atomics.add(ctrl, GEN, 1);
    Atomics.notify(ctrl, GEN);
  }

  /** Waits for every worker of `crew` to finish the job, and opens the crew again. */
  #join(crew: Crew): void {
    const { ctrl } = crew, workers = crew.workers.length;
    let spins = 0;
    for (;;) {
      const done = Atomics.load(ctrl, DONE);
      if (done >= workers) break;
      if (++spins > 2000 && this.#block) Atomics.wait(ctrl, DONE, done, 100);
    }
    Atomics.store(ctrl, STATE, OPEN);
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
    this.#compiled.push(module);
    const crew = this.#reserve();
    if (crew !== null) {
      new Uint8Array(this.#memory.buffer, scratch, bytes.length).set(bytes);
      this.#broadcast(crew, COMPILE, (words) => {
        words[MODULE] = id;
        words[BYTES] = scratch;
        words[LENGTH] = bytes.length;
      });
      this.#join(crew);
    }
    return id;
  }

  /** Runs export `func` of module `id` on argument block `args` with `threads` threads. */
  run(id: number, func: number, args: number, threads: number): void {
    this.#check();
    const fn = this.#modules[id][func];
    const n = Math.min(threads, this.size);
    const crew = n > 1 ? this.#reserve() : null;
    if (crew === null) {
      fn(args, 0, 1);
      return;
    }
    this.#broadcast(crew, CALL, (words) => {
      words[MODULE] = id;
      words[FUNC] = func;
      words[ARGS] = args;
      words[THREADS] = n;
    });
    try {
      fn(args, 0, n);
    } finally {
      this.#join(crew);
    }
  }

  #check(): void {
    if (this.#disposed) throw new Error("this backend has been disposed");
  }

  /** Ends the workers. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const crew = this.#crew;
    if (crew === null) return;
    if (Atomics.compareExchange(crew.ctrl, STATE, OPEN, BUSY) === OPEN) {
      this.#broadcast(crew, EXIT, () => {});
    }
    for (const worker of crew.workers) worker.terminate();
    this.#crew = null;
  }
}
