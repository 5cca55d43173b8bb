/**
 * jax-js 0.1.25 on its wasm backend, for benchmarks, with a way to stop its worker threads.
 *
 * jax-js runs every wasm kernel on a pool of Web Workers (navigator.hardwareConcurrency of them)
 * and has no API to stop them, so a live pool keeps a `deno run` process alive for ever. `deno
 * bench` is not affected (after its last benchmark it dispatches `unload` and tears the isolate
 * down whatever is still pending), but to end cleanly either way {@link initJaxWasm} starts the
 * pool at once, keeping hold of the workers it creates, and {@link shutdownJax} (also run on
 * `unload`) terminates them.
 */
import { defaultDevice, init, numpy as np } from "@jax-js/jax";

const workers: Worker[] = [];
let started: Promise<void> | undefined;

/** Terminates jax-js's worker threads; jax-js's wasm backend cannot run anything afterwards. */
export function shutdownJax(): void {
  for (const worker of workers.splice(0)) worker.terminate();
}

async function start(): Promise<void> {
  const available = await init("wasm");
  if (!available.includes("wasm")) throw new Error("jax-js: the wasm backend is unavailable");
  defaultDevice("wasm");
  // jax-js creates its whole pool (through the global Worker) on its first asynchronous kernel:
  // run one while Worker is wrapped to record each instance, then put Worker back.
  const Original = globalThis.Worker;
  globalThis.Worker = class extends Original {
    constructor(url: string | URL, options?: WorkerOptions) {
      super(url, options);
      workers.push(this);
    }
  };
  try {
    const probe = await np.array(new Float32Array(4096).fill(1)).add(1).data();
    if (probe[0] !== 2) throw new Error(`jax-js: 1 + 1 gave ${probe[0]}`);
  } finally {
    globalThis.Worker = Original;
  }
  globalThis.addEventListener("unload", shutdownJax);
}

/** Initialises jax-js's wasm backend (once), makes it the default device and starts its workers. */
export function initJaxWasm(): Promise<void> {
  started ??= start();
  return started;
}
