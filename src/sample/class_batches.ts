/**
 * Batches for the baselines (triplet, softmax): M groups of D examples, each group from a class drawn
 * uniformly, in the same layout as a magnet batch so every loss sees batches of the same size.
 */
import { MagnetInputError } from "../errors.ts";
import type { Random } from "../util/random.ts";
import { type BatchPlan, drawExamples } from "./neighbourhood.ts";

/** Draws class-balanced batches of M groups x D examples. */
export class ClassBatchSampler {
  readonly #byClass: Int32Array[];
  readonly #classOf: number[];

  /** Creates a sampler over training `labels`. */
  constructor(labels: Int32Array, readonly m: number, readonly d: number, readonly rng: Random) {
    if (!Number.isInteger(m) || m < 1) {
      throw new MagnetInputError(`M (groups per batch) must be a positive integer, got ${m}`);
    }
    if (!Number.isInteger(d) || d < 1) {
      throw new MagnetInputError(`D (examples per group) must be a positive integer, got ${d}`);
    }
    const byClass = new Map<number, number[]>();
    labels.forEach((c, i) => {
      const rows = byClass.get(c) ?? [];
      rows.push(i);
      byClass.set(c, rows);
    });
    this.#classOf = [...byClass.keys()].sort((a, b) => a - b);
    this.#byClass = this.#classOf.map((c) => Int32Array.from(byClass.get(c)!));
  }

  /** The next batch. */
  sample(): BatchPlan {
    const rows = new Int32Array(this.m * this.d);
    const clusterOf = new Int32Array(this.m * this.d);
    const clusterClasses = new Float32Array(this.m);
    for (let g = 0; g < this.m; g++) {
      const k = this.rng.int(this.#byClass.length);
      rows.set(drawExamples(this.#byClass[k], this.d, this.rng), g * this.d);
      clusterOf.fill(g, g * this.d, (g + 1) * this.d);
      clusterClasses[g] = this.#classOf[k];
    }
    return { rows, clusterOf, clusterClasses, clusters: new Int32Array(this.m).fill(-1) };
  }
}
