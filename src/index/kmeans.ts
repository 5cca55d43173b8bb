/**
 * k-means for the cluster index: k-means++ seeding on the host (sequential by nature, and cheap),
 * then Lloyd iterations on the backend for every class at once: each point may only join a centre
 * of its own class, so one graph clusters all classes in the same run.
 */
import type { Backend, Executable } from "../backend/backend.ts";
import {
  argmax,
  div,
  equal,
  greater,
  matmul,
  maximum,
  neg,
  oneHot,
  reshape,
  sum,
  where,
} from "../graph/ops.ts";
import { MASKED_LOGIT, squaredDistances } from "../graph/functions.ts";
import { compileOnce } from "../backend/compile_once.ts";
import { Graph, Variable } from "../graph/tensor.ts";
import type { Random } from "../util/random.ts";

/** Squared distance between row i of `a` and row j of `b` (both `dim` wide). */
function rowDistance(a: Float32Array, i: number, b: Float32Array, j: number, dim: number): number {
  let s = 0;
  for (let d = 0; d < dim; d++) {
    const t = a[i * dim + d] - b[j * dim + d];
    s += t * t;
  }
  return s;
}

/**
 * k-means++ seeding: `k` rows among `rows` (indices into `points`), the first uniformly, each next
 * with probability proportional to its squared distance to the nearest chosen one. Returns the chosen
 * row indices. When every remaining distance is 0 (duplicates), the next is drawn uniformly among
 * rows not chosen yet.
 */
export function kmeansPlusPlus(
  points: Float32Array,
  dim: number,
  rows: ArrayLike<number>,
  k: number,
  rng: Random,
): number[] {
  const n = rows.length;
  const chosen: number[] = [];
  const taken = new Uint8Array(n);
  const nearest = new Float64Array(n).fill(Infinity);
  let pick = rng.int(n);
  for (;;) {
    chosen.push(rows[pick]);
    taken[pick] = 1;
    if (chosen.length === k) return chosen;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const d = rowDistance(points, rows[i], points, rows[pick], dim);
      if (d < nearest[i]) nearest[i] = d;
      if (!taken[i]) total += nearest[i];
    }
    if (total > 0) {
      let target = rng.next() * total;
      pick = -1;
      for (let i = 0; i < n; i++) {
        if (taken[i]) continue;
        target -= nearest[i];
        pick = i;
        if (target < 0) break;
      }
    } else {
      const free = [];
      for (let i = 0; i < n; i++) if (!taken[i]) free.push(i);
      pick = free[rng.int(free.length)];
    }
  }
}

/** A compiled Lloyd step for a fixed number of points and centres. */
export interface LloydStep {
  /** The centres, updated on the backend by each run. */
  readonly centres: Variable;
  /** Runs one assignment + update; returns each point's centre. */
  run(
    points: Float32Array,
    pointClass: Float32Array,
    centreClass: Float32Array,
  ): Promise<Int32Array>;
}

const SCOPE = {};

/**
 * Compiles one Lloyd iteration (once per backend and shape): assign each point to the nearest centre
 * of its class, then move each centre to the mean of its points (a centre left without points stays
 * where it is). The update sums points through a one-hot matrix product, which a GPU does far faster
 * than a scatter.
 */
export function compileLloydStep(
  backend: Backend,
  numPoints: number,
  numCentres: number,
  dim: number,
): Promise<LloydStep> {
  return compileOnce(
    backend,
    SCOPE,
    `${numPoints}/${numCentres}/${dim}`,
    () => buildLloydStep(backend, numPoints, numCentres, dim),
  );
}

async function buildLloydStep(
  backend: Backend,
  numPoints: number,
  numCentres: number,
  dim: number,
): Promise<LloydStep> {
  const centres = new Variable("kmeans.centres", [numCentres, dim]);
  const g = new Graph();
  const points = g.input("points", [numPoints, dim]);
  const pointClass = g.input("pointClass", [numPoints, 1]);
  const centreClass = g.input("centreClass", [1, numCentres]);
  const c = g.variable(centres);
  const sameClass = equal(pointClass, centreClass);
  const assignment = argmax(where(sameClass, neg(squaredDistances(points, c)), MASKED_LOGIT), 1);
  const members = oneHot(assignment, numCentres); // [points, centres]
  const counts = reshape(sum(members, 0), [numCentres, 1]);
  const means = div(matmul(members, points, true, false), maximum(counts, 1));
  const next = where(greater(counts, 0), means, c);
  const exe: Executable = await backend.compile({
    outputs: [assignment],
    updates: [[centres, next]],
  });
  return {
    centres,
    async run(p, pc, cc) {
      const [a] = await exe.run({ points: p, pointClass: pc, centreClass: cc });
      return a as Int32Array;
    },
  };
}
