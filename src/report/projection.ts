/**
 * The 2-D projections the embedding map can use: PCA (always available, with the share of variance
 * its two components explain) and UMAP (umap-js, imported only when umap.ts's `loadUmap` is
 * awaited, so that a page that draws PCA maps never bundles it).
 * Each returns the coordinates of the drawn points and the centres, axis titles and a sentence
 * that says what the map is, for its caption.
 */
import { Random } from "../util/random.ts";
import { formatCount } from "./format.ts";
import { applyPca, explainedShares, fitPca } from "./pca.ts";

/** A 2-D map of the drawn points and the centres, with how it was made. */
export interface Map2d {
  /** The projection actually used (UMAP falls back to PCA on sets it cannot map). */
  projection: "pca" | "umap";
  /** x, y of each drawn point, in the order of `chosen`. */
  xy: Float32Array;
  /** x, y of each centre. */
  cxy: Float32Array;
  xTitle: string;
  yTitle: string;
  /** What the map is, as sentences for the caption. */
  description: string;
}

/** Below this UMAP's neighbour graph is meaningless; such tiny sets are shown with PCA. */
export const UMAP_MIN_POINTS = 10;

/** The umap-js package's module, as umap.ts loads it. */
export type UmapModule = typeof import("umap-js");

let umapModule: UmapModule | null = null;

/** Makes UMAP maps possible (umap.ts's `loadUmap` calls this with the imported package). */
export function useUmap(module: UmapModule): void {
  umapModule = module;
}

/** Whether UMAP maps are possible (`loadUmap` has finished). */
export function umapLoaded(): boolean {
  return umapModule !== null;
}

function gatherRows(rows: Float32Array, dim: number, chosen: Int32Array): Float32Array {
  const out = new Float32Array(chosen.length * dim);
  chosen.forEach((r, i) => out.set(rows.subarray(r * dim, (r + 1) * dim), i * dim));
  return out;
}

function percent(share: number): string {
  return `${(100 * share).toFixed(1)}%`;
}

/**
 * The rows `chosen` of `rows` (n x dim) and the `centres` on the top two principal components of
 * all n rows (not only the drawn ones: the subsample is only for the file's size). `why` says why
 * PCA stands in for UMAP, when it does.
 */
export function pcaMap(
  rows: Float32Array,
  dim: number,
  chosen: Int32Array,
  centres: Float32Array | null,
  why = "",
): Map2d {
  const pca = fitPca(rows, dim);
  const shares = explainedShares(pca);
  const n = rows.length / dim;
  let description =
    `Projection: PCA${why}, the plane of the two directions along which the ${formatCount(n)} ` +
    "test embeddings vary most; distances in the plane are true distances, but points far apart " +
    "in other directions can overlap.";
  if (shares) {
    description += ` The two components explain ${
      percent(shares[0] + shares[1])
    } of the variance (PC 1 ${percent(shares[0])}, PC 2 ${percent(shares[1])}).`;
  } else {
    description += " The embeddings have no variance: every point is the same.";
  }
  return {
    projection: "pca",
    xy: applyPca(pca, gatherRows(rows, dim, chosen), dim),
    cxy: centres ? applyPca(pca, centres, dim) : new Float32Array(0),
    xTitle: shares ? `PC 1 (${percent(shares[0])} of variance)` : "PC 1",
    yTitle: shares ? `PC 2 (${percent(shares[1])} of variance)` : "PC 2",
    description,
  };
}

/**
 * A UMAP map of the rows `chosen` of `rows`, seeded by `seed`; the centres are placed by UMAP's
 * out-of-sample transform, so they cannot pull the map around. Falls back to PCA (and says so)
 * for too few points or a set UMAP cannot map. `loadUmap` must have been awaited.
 */
export function umapMap(
  rows: Float32Array,
  dim: number,
  chosen: Int32Array,
  centres: Float32Array | null,
  seed: number,
): Map2d {
  if (chosen.length < UMAP_MIN_POINTS) {
    return pcaMap(rows, dim, chosen, centres, " (too few points for UMAP)");
  }
  const toArrays = (flat: Float32Array) =>
    Array.from(
      { length: flat.length / dim },
      (_, r) => Array.from(flat.subarray(r * dim, (r + 1) * dim)),
    );
  const rng = new Random(seed);
  const neighbours = Math.min(15, chosen.length - 1);
  try {
    const umap = new umapModule!.UMAP({
      nComponents: 2,
      nNeighbors: neighbours,
      random: () => rng.next(),
    });
    const fitted = umap.fit(toArrays(gatherRows(rows, dim, chosen)));
    const placed = centres && centres.length > 0 ? umap.transform(toArrays(centres)) : [];
    const xy = Float32Array.from(fitted.flat());
    const cxy = Float32Array.from(placed.flat());
    if (xy.every(Number.isFinite) && cxy.every(Number.isFinite)) {
      return {
        projection: "umap",
        xy,
        cxy,
        xTitle: "UMAP 1",
        yTitle: "UMAP 2",
        description: `Projection: UMAP (${neighbours} neighbours, seed ${seed}), a non-linear ` +
          "map that keeps each embedding near its nearest neighbours; the size of a cluster and " +
          "the distances between clusters are not to scale, and the axes have no units.",
      };
    }
  } catch {
    // A degenerate set (all points equal, say) can defeat UMAP; the report still needs a map.
  }
  return pcaMap(rows, dim, chosen, centres, " (UMAP failed on this set)");
}
