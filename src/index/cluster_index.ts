/**
 * The cluster index of adaptive density discrimination: K clusters per class, found by k-means over
 * the embedded training set, with each cluster's class, centre and members, and the nearest clusters
 * of other classes for neighbourhood sampling.
 */
import { MagnetInputError } from "../errors.ts";
import type { Backend } from "../backend/backend.ts";
import { Random } from "../util/random.ts";
import { Pacer, type WorkOptions } from "../util/work.ts";
import { compileLloydStep, kmeansPlusPlus } from "./kmeans.ts";

/**
 * Options of {@link buildClusterIndex}; its progress is "clustering", in Lloyd iterations out of
 * `maxIterations`, and an aborted signal stops it between iterations.
 */
export interface ClusterIndexOptions extends WorkOptions {
  /** Clusters per class (K); a class with fewer examples gets one cluster per example. */
  readonly clustersPerClass: number;
  /** Seed of the k-means++ seeding. */
  readonly seed: number;
  /** Lloyd iterations at most (they stop early once no assignment changes). Default 25. */
  readonly maxIterations?: number;
}

/** Clusters of the training set in embedding space. */
export class ClusterIndex {
  /** Creates an index from its parts; see {@link buildClusterIndex}. */
  constructor(
    /** Embedding width. */
    readonly dim: number,
    /** numClusters x dim. */
    readonly centres: Float32Array,
    /** The class of each cluster. */
    readonly clusterClass: Int32Array,
    /** The cluster of each training example. */
    readonly assignment: Int32Array,
    /** The training examples of each cluster (none is empty). */
    readonly members: readonly Int32Array[],
  ) {}

  /**
   * An index saved as centres, cluster classes and the assignment of each of `rows` training rows
   * (as a checkpoint keeps it), checked against the data it will serve.
   */
  static restore(
    dim: number,
    saved: { centres: Float32Array; clusterClass: Int32Array; assignment: Int32Array },
    rows: number,
    classes: number,
  ): ClusterIndex {
    const { centres, clusterClass, assignment } = saved;
    const clusters = clusterClass.length;
    if (
      assignment.length !== rows || centres.length !== clusters * dim ||
      assignment.some((c) => !(c >= 0 && c < clusters)) ||
      clusterClass.some((c) => !(c >= 0 && c < classes))
    ) {
      throw new MagnetInputError(
        `the saved cluster index does not fit this data (${assignment.length} rows assigned to ` +
          `${clusters} clusters of ${centres.length / Math.max(clusters, 1)} values; the data ` +
          `has ${rows} rows and the embedding ${dim} values)`,
      );
    }
    const bad = centres.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) {
      throw new MagnetInputError(`the saved cluster index holds ${centres[bad]} in its centres`);
    }
    const members: number[][] = Array.from({ length: clusters }, () => []);
    assignment.forEach((c, i) => members[c].push(i));
    const empty = members.findIndex((m) => m.length === 0);
    if (empty >= 0) {
      throw new MagnetInputError(`the saved cluster index has no rows in its cluster ${empty}`);
    }
    return new ClusterIndex(
      dim,
      centres,
      clusterClass,
      assignment,
      members.map((m) => Int32Array.from(m)),
    );
  }

  /** Number of clusters. */
  get numClusters(): number {
    return this.clusterClass.length;
  }

  /**
   * The `count` clusters of classes other than `cluster`'s, nearest to it by centre distance, nearest
   * first. Throws if there are fewer such clusters than `count`.
   */
  nearestImpostors(cluster: number, count: number): Int32Array {
    const own = this.clusterClass[cluster];
    const candidates: { c: number; d: number }[] = [];
    for (let c = 0; c < this.numClusters; c++) {
      if (this.clusterClass[c] === own) continue;
      let d = 0;
      for (let j = 0; j < this.dim; j++) {
        const t = this.centres[c * this.dim + j] - this.centres[cluster * this.dim + j];
        d += t * t;
      }
      candidates.push({ c, d });
    }
    if (candidates.length < count) {
      throw new MagnetInputError(
        `a batch needs ${count} clusters of other classes, but the index has only ` +
          `${candidates.length} for class ${own}: lower M or raise K`,
      );
    }
    candidates.sort((a, b) => a.d - b.d || a.c - b.c);
    return Int32Array.from(candidates.slice(0, count), (x) => x.c);
  }
}

/**
 * Clusters `embeddings` (n x dim) into K clusters per class of `labels` with k-means: k-means++
 * seeding per class on the host, Lloyd iterations on `backend`. Deterministic for a seed on the CPU.
 */
export async function buildClusterIndex(
  backend: Backend,
  embeddings: Float32Array,
  dim: number,
  labels: Int32Array,
  options: ClusterIndexOptions,
): Promise<ClusterIndex> {
  const k = options.clustersPerClass;
  if (!Number.isInteger(k) || k < 1) {
    throw new MagnetInputError(`clusters per class (K) must be a positive integer, got ${k}`);
  }
  const n = labels.length;
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const rows = byClass.get(labels[i]) ?? [];
    rows.push(i);
    byClass.set(labels[i], rows);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const pacer = new Pacer(options, "clustering");
  const rng = new Random(options.seed);
  const seeds: number[] = [];
  const centreClass: number[] = [];
  for (const c of classes) {
    const rows = byClass.get(c)!;
    for (const row of kmeansPlusPlus(embeddings, dim, rows, Math.min(k, rows.length), rng)) {
      seeds.push(row);
      centreClass.push(c);
    }
    pacer.check();
  }
  const numCentres = seeds.length;
  const step = await compileLloydStep(backend, n, numCentres, dim);
  const initial = new Float32Array(numCentres * dim);
  seeds.forEach((row, i) => initial.set(embeddings.subarray(row * dim, (row + 1) * dim), i * dim));
  backend.writeVariable(step.centres, initial);
  // The graph compares classes as floats: dense indices keep ids above 2^24 apart.
  const dense = new Map(classes.map((c, i) => [c, i]));
  const pointClass = Float32Array.from(labels, (c) => dense.get(c)!);
  const centreClasses = Float32Array.from(centreClass, (c) => dense.get(c)!);
  let assignment: Int32Array = new Int32Array(n).fill(-1);
  const maxIterations = options.maxIterations ?? 25;
  for (let it = 0; it < maxIterations; it++) {
    const next = await step.run(embeddings, pointClass, centreClasses);
    const changed = next.some((a, i) => a !== assignment[i]);
    assignment = next;
    if (!changed) break;
    await pacer.tick({ stage: "clustering", done: it + 1, total: maxIterations });
  }
  // The centres after the last update are the means of the final assignment (or unchanged).
  const centres = await backend.readVariable(step.centres);
  const members: number[][] = Array.from({ length: numCentres }, () => []);
  assignment.forEach((c, i) => members[c].push(i));
  // Drop clusters that ended with no members (possible with duplicate points) and renumber.
  const kept = members.map((m, c) => (m.length > 0 ? c : -1)).filter((c) => c >= 0);
  const renumber = new Int32Array(numCentres).fill(-1);
  kept.forEach((c, i) => (renumber[c] = i));
  const keptCentres = new Float32Array(kept.length * dim);
  kept.forEach((c, i) => keptCentres.set(centres.subarray(c * dim, (c + 1) * dim), i * dim));
  return new ClusterIndex(
    dim,
    keptCentres,
    Int32Array.from(kept, (c) => centreClass[c]),
    assignment.map((c) => renumber[c]),
    kept.map((c) => Int32Array.from(members[c])),
  );
}
