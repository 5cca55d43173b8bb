/**
 * UMAP for the report's map: umap-js (an npm package) is imported only here, and only when asked
 * for, so the default PCA report (and a web page's bundle) never needs it.
 */
import { useUmap } from "./projection.ts";

/**
 * Loads umap-js so that `renderReport(data, { projection: "umap", seed })` can draw a UMAP map.
 *
 * @example
 * ```ts
 * await loadUmap();
 * const html = renderReport(data, { projection: "umap", seed: 1 });
 * ```
 */
export async function loadUmap(): Promise<void> {
  useUmap(await import("umap-js"));
}
