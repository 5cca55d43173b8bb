/**
 * Neighbourhood sampling (paper section 3.2): a seed cluster drawn in proportion to its recent loss,
 * its M-1 nearest clusters of other classes, and D examples from each.
 */
import { MagnetInputError } from "../errors.ts";
import type { ClusterIndex } from "../index/cluster_index.ts";
import type { Random } from "../util/random.ts";

/** A magnet batch as indices: which training rows, and the batch layout the loss graph needs. */
export interface BatchPlan {
  /** M x D training example indices, cluster by cluster. */
  readonly rows: Int32Array;
  /** For each row, its cluster's position in the batch, in [0, M). */
  readonly clusterOf: Int32Array;
  /** For each batch cluster, its class. */
  readonly clusterClasses: Float32Array;
  /** For each batch cluster, its index in the cluster index (-1 when not from an index). */
  readonly clusters: Int32Array;
}

/** The sampler's loss bookkeeping (exact, so a resumed run draws the same batches). */
export interface SamplerState {
  /** Latest loss of each training example. */
  exampleLoss: Float32Array;
  /** 1 where an example's loss has been measured since the last refresh. */
  measured: Uint8Array;
  /** Sum of the measured losses per cluster. */
  clusterSum: Float64Array;
  /** Number of measured examples per cluster. */
  clusterCount: Int32Array;
}

/**
 * How a batch's clusters are drawn: "neighbourhood" (the paper: a seed cluster in proportion to its
 * recent loss, then its M-1 nearest clusters of other classes), "uniform-seed" (a uniform seed,
 * then its nearest impostors) or "random" (M distinct clusters uniformly at random).
 */
export type SamplerKind = "neighbourhood" | "uniform-seed" | "random";

/** D examples of `members`: without replacement, or with replacement when there are fewer than D. */
export function drawExamples(members: ArrayLike<number>, d: number, rng: Random): number[] {
  if (members.length >= d) {
    // A partial Fisher-Yates over a copy: only the first d positions are drawn.
    const pool = Array.from(members);
    for (let i = 0; i < d; i++) {
      const j = i + rng.int(pool.length - i);
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    return pool.slice(0, d);
  }
  return Array.from({ length: d }, () => members[rng.int(members.length)]);
}

/**
 * Draws magnet batches from a cluster index, tracking each example's latest loss so that clusters
 * that are still hard are visited more.
 */
export class NeighbourhoodSampler {
  #index: ClusterIndex;
  #exampleLoss: Float32Array;
  #measured: Uint8Array;
  #clusterSum: Float64Array;
  #clusterCount: Int32Array;

  /**
   * Creates a sampler of M clusters of D examples each over `index`, drawing clusters as `kind`
   * says (see {@link SamplerKind}; the paper's "neighbourhood" by default).
   */
  constructor(
    index: ClusterIndex,
    readonly m: number,
    readonly d: number,
    readonly rng: Random,
    readonly kind: SamplerKind = "neighbourhood",
  ) {
    if (!Number.isInteger(m) || m < 2) {
      throw new MagnetInputError(`M (clusters per batch) must be an integer >= 2, got ${m}`);
    }
    if (!Number.isInteger(d) || d < 1) {
      throw new MagnetInputError(`D (examples per cluster) must be an integer >= 1, got ${d}`);
    }
    this.#index = index;
    const size = index.assignment.length;
    this.#exampleLoss = new Float32Array(size);
    this.#measured = new Uint8Array(size);
    this.#clusterSum = new Float64Array(index.numClusters);
    this.#clusterCount = new Int32Array(index.numClusters);
  }

  /** Starts over on a refreshed index: every loss is forgotten. */
  reset(index: ClusterIndex): void {
    this.#index = index;
    this.#exampleLoss.fill(0);
    this.#measured.fill(0);
    this.#clusterSum = new Float64Array(index.numClusters);
    this.#clusterCount = new Int32Array(index.numClusters);
  }

  /** The loss bookkeeping, for checkpoints. */
  snapshot(): SamplerState {
    return {
      exampleLoss: this.#exampleLoss.slice(),
      measured: this.#measured.slice(),
      clusterSum: this.#clusterSum.slice(),
      clusterCount: this.#clusterCount.slice(),
    };
  }

  /** Restores bookkeeping saved by {@link NeighbourhoodSampler.snapshot} on the same index. */
  restore(saved: SamplerState): void {
    if (
      saved.exampleLoss.length !== this.#exampleLoss.length ||
      saved.measured.length !== this.#measured.length ||
      saved.clusterSum.length !== this.#clusterSum.length ||
      saved.clusterCount.length !== this.#clusterCount.length
    ) {
      throw new MagnetInputError(
        `the saved sampler state covers ${saved.exampleLoss.length} examples and ` +
          `${saved.clusterSum.length} clusters; the index has ${this.#exampleLoss.length} and ` +
          `${this.#clusterSum.length}`,
      );
    }
    const sound = saved.exampleLoss.every((x) => Number.isFinite(x) && x >= 0) &&
      saved.clusterSum.every(Number.isFinite) &&
      saved.measured.every((x) => x === 0 || x === 1) &&
      saved.clusterCount.every((x) => x >= 0);
    if (!sound) {
      throw new MagnetInputError(
        "the saved sampler state holds a loss that is not a finite number >= 0, or a count below 0",
      );
    }
    this.#exampleLoss = saved.exampleLoss.slice();
    this.#measured = saved.measured.slice();
    this.#clusterSum = saved.clusterSum.slice();
    this.#clusterCount = saved.clusterCount.slice();
  }

  /** Records the latest losses of training examples `rows` (a repeated row keeps its last loss). */
  recordLosses(rows: ArrayLike<number>, losses: ArrayLike<number>): void {
    const assignment = this.#index.assignment;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i], c = assignment[row];
      if (this.#measured[row]) {
        this.#clusterSum[c] -= this.#exampleLoss[row];
      } else {
        this.#measured[row] = 1;
        this.#clusterCount[c]++;
      }
      this.#exampleLoss[row] = losses[i];
      this.#clusterSum[c] += losses[i];
    }
  }

  /**
   * Each cluster's sampling weight: the mean recent loss of its measured examples; a cluster with no
   * measured example gets the mean of the measured clusters' weights (all 1 before any measurement).
   * A measured loss of 0 counts as measured: it is not "unknown".
   */
  clusterWeights(): Float64Array {
    const k = this.#index.numClusters;
    const weights = new Float64Array(k);
    let total = 0, measured = 0;
    for (let c = 0; c < k; c++) {
      if (this.#clusterCount[c] > 0) {
        weights[c] = this.#clusterSum[c] / this.#clusterCount[c];
        total += weights[c];
        measured++;
      }
    }
    const fill = measured > 0 ? total / measured : 1;
    for (let c = 0; c < k; c++) if (this.#clusterCount[c] === 0) weights[c] = fill;
    return weights;
  }

  /** The batch's clusters, as the sampler's kind draws them. */
  #drawClusters(): Int32Array {
    const count = this.#index.numClusters;
    if (this.kind === "random") {
      // M distinct clusters: a partial Fisher-Yates over the cluster ids.
      return Int32Array.from(
        drawExamples(Array.from({ length: count }, (_, c) => c), this.m, this.rng),
      );
    }
    const seed = this.kind === "uniform-seed" ? this.rng.int(count) : this.#drawSeed();
    return Int32Array.of(seed, ...this.#index.nearestImpostors(seed, this.m - 1));
  }

  /** Draws a seed cluster by weight (uniformly when every weight is 0). */
  #drawSeed(): number {
    const weights = this.clusterWeights();
    let total = 0;
    for (const w of weights) total += Math.max(w, 0);
    if (!(total > 0)) return this.rng.int(weights.length);
    let target = this.rng.next() * total;
    for (let c = 0; c < weights.length; c++) {
      target -= Math.max(weights[c], 0);
      if (target < 0) return c;
    }
    return weights.length - 1;
  }

  /** The next batch: a seed cluster, its M-1 nearest impostor clusters, D examples of each. */
  sample(): BatchPlan {
    const clusters = this.#drawClusters();
    const rows = new Int32Array(this.m * this.d);
    const clusterOf = new Int32Array(this.m * this.d);
    clusters.forEach((c, i) => {
      rows.set(drawExamples(this.#index.members[c], this.d, this.rng), i * this.d);
      clusterOf.fill(i, i * this.d, (i + 1) * this.d);
    });
    const clusterClasses = Float32Array.from(clusters, (c) => this.#index.clusterClass[c]);
    return { rows, clusterOf, clusterClasses, clusters };
  }
}
