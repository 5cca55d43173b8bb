/**
 * Long work that says how far it is and can be stopped: embedding many rows, clustering, searching
 * neighbours. The work reports its progress per chunk and, between chunks, lets the event loop run
 * (a CPU backend's chunk never leaves the microtask queue, so without this no signal handler or
 * timer would run until the whole work is done) and stops when its signal has fired.
 */
import { AbortedError } from "../errors.ts";

/** What a piece of work is doing: the unit of its progress is in the comment. */
export type WorkStage =
  /** Rows through the network. */
  | "embedding"
  /** Lloyd iterations of the index's k-means (at most their limit; they often stop sooner). */
  | "clustering"
  /** Queries whose nearest neighbours are found. */
  | "searching"
  /** NMI's k-means on the query embeddings (one unit). */
  | "scoring";

/** How far a piece of work is: `done` of `total` units of its stage. */
export interface WorkProgress {
  /** What the work is doing. */
  readonly stage: WorkStage;
  /** Units done so far. */
  readonly done: number;
  /** Units in all (for "clustering", the most Lloyd iterations it may take). */
  readonly total: number;
}

/** Options every long operation takes. */
export interface WorkOptions {
  /** Told after every chunk of work. */
  readonly onProgress?: (progress: WorkProgress) => void;
  /** Stops the work at its next chunk with an {@link AbortedError}. */
  readonly signal?: AbortSignal;
}

/** Milliseconds of work between two yields to the event loop. */
const YIELD_EVERY_MS = 50;

/**
 * Paces long work: `tick` after each chunk reports progress, yields to the event loop when
 * {@link YIELD_EVERY_MS} have passed since the last yield, and throws {@link AbortedError} once the
 * signal has fired.
 */
export class Pacer {
  #last = performance.now();

  /** Paces work reported under `options`; `what` names it in the abort error. */
  constructor(readonly options: WorkOptions = {}, readonly what = "the work") {}

  /** Reports progress (when `progress` is given), yields when due, and stops when aborted. */
  async tick(progress?: WorkProgress): Promise<void> {
    if (progress !== undefined) this.options.onProgress?.(progress);
    if (performance.now() - this.#last > YIELD_EVERY_MS) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      this.#last = performance.now();
    }
    this.check();
  }

  /** Throws {@link AbortedError} when the signal has fired. */
  check(): void {
    if (this.options.signal?.aborted) throw new AbortedError(this.what);
  }
}
