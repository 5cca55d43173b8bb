/**
 * The one module that loads LanceDB (`npm:@lancedb/lancedb`, a native addon with prebuilt platform
 * packages), on first use only: importing the library, training and embedding never fetch or load
 * it. Also what LanceDB's errors mean in one line.
 */
import { createRequire } from "node:module";
import process from "node:process";
import type * as LanceDb from "@lancedb/lancedb";
import type * as Arrow from "apache-arrow";

/**
 * LanceDB's npm package, pinned. The import is built from this string at run time so that no tool
 * follows it ahead of use (a literal `import("npm:...")` would be fetched with the library itself);
 * deno.json maps `@lancedb/lancedb` to the same version for the types.
 */
export const LANCEDB_PACKAGE = "npm:@lancedb/lancedb@0.31.0";

/** LanceDB and the Apache Arrow it was built against (its own copy: Arrow checks classes). */
export interface LanceDbModules {
  lancedb: typeof LanceDb;
  arrow: typeof Arrow;
}

let loaded: Promise<LanceDbModules> | null = null;

/** LanceDB, loaded once. */
export function loadLanceDb(): Promise<LanceDbModules> {
  loaded ??= (async () => {
    // LanceDB logs its warnings (deprecations, notes about its statistics) to stderr: keep them
    // for those who ask (LANCEDB_LOG=warn), and take the statistics' announced future form now.
    process.env.LANCEDB_LOG ??= "error";
    process.env.LANCE_INCLUDE_VECTOR_CENTROIDS ??= "false";
    const specifier = LANCEDB_PACKAGE;
    const lancedb = await import(specifier) as typeof LanceDb;
    // LanceDB is a CommonJS package and checks tables with `instanceof` against the Arrow it
    // requires; an `import` of apache-arrow would load Arrow's ES module build, a second copy whose
    // tables it rejects. Requiring Arrow from LanceDB's own location yields its copy.
    const arrow = createRequire(import.meta.resolve(specifier))("apache-arrow") as typeof Arrow;
    return { lancedb, arrow };
  })();
  loaded.catch(() => (loaded = null));
  return loaded;
}

/**
 * The cause of a LanceDB error in one line: the first of its "Caused by" chain, without the Rust
 * source locations it carries.
 */
export function lanceReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split(/\s+Caused by:/)[0]
    .replace(/,\s*\/\S+\.rs:\d+:\d+/g, "")
    .replace(/^lance error:\s*/i, "")
    .replace(/\s+/g, " ")
    .trim();
}
