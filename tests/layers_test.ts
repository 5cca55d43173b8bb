/**
 * The house rules, checked: every import in src/ (and kernels/) looks down the layer order written
 * once below, or sideways within a layer without closing a cycle between folders; and a file that
 * grows past 500 lines says why in its module doc.
 */
import assert from "node:assert/strict";

/**
 * Folders from the bottom up; a folder may import from its own layer and the ones below. A nested
 * folder listed here (data/images) is a folder of its own: its parent's files may import it, or it
 * theirs, but not both (that would be a cycle).
 */
const LAYERS: readonly (readonly string[])[] = [
  ["errors.ts", "util"],
  ["io", "data", "data/images"],
  ["graph"],
  ["backend", "kernels"],
  ["check"],
  ["nn", "losses", "optim"], // nn/onnx (ONNX files, import, export) counts as nn
  ["index", "sample", "eval"],
  ["train"],
  ["search"],
  ["report"],
  ["experiments", "web"],
  ["cli"],
];

const ROOT = new URL("../", import.meta.url);

/** The folder (under src/, or kernels) a project path belongs to: the deepest one LAYERS lists. */
function folderOf(path: string): string {
  if (path.startsWith("kernels/")) return "kernels";
  const rest = path.replace(/^src\//, "");
  const nested = LAYERS.flat().filter((f) => f.includes("/") && rest.startsWith(`${f}/`));
  if (nested.length > 0) return nested.sort((a, b) => b.length - a.length)[0];
  return rest.includes("/") ? rest.slice(0, rest.indexOf("/")) : rest;
}

function layerOf(folder: string): number {
  const layer = LAYERS.findIndex((l) => l.includes(folder));
  if (layer < 0) {
    throw new Error(`folder "${folder}" is in no layer: add it to LAYERS`);
  }
  return layer;
}

function* sources(dir: URL, prefix: string): Generator<string> {
  for (const entry of Deno.readDirSync(dir)) {
    if (entry.isDirectory) {
      yield* sources(new URL(`${entry.name}/`, dir), `${prefix}${entry.name}/`);
    } else if (entry.name.endsWith(".ts")) yield `${prefix}${entry.name}`;
  }
}

/** Project-relative paths of the files `path` imports (statically, dynamically or as types). */
function importsOf(path: string): string[] {
  const text = Deno.readTextFileSync(new URL(path, ROOT));
  const found: string[] = [];
  for (
    const m of text.matchAll(
      /(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g,
    )
  ) {
    const target = new URL(m[1], new URL(path, ROOT)).pathname.slice(
      ROOT.pathname.length,
    );
    found.push(target);
  }
  return found;
}

Deno.test("imports look down the layers and close no folder cycle", () => {
  const files = [
    ...sources(new URL("src/", ROOT), "src/"),
    ...sources(new URL("kernels/", ROOT), "kernels/"),
  ];
  const climbs: string[] = [];
  const edges = new Map<string, Set<string>>();
  for (const file of files) {
    const from = folderOf(file);
    for (const target of importsOf(file)) {
      if (target.endsWith(".json")) continue; // deno.json: the package's own version
      const to = folderOf(target);
      if (layerOf(to) > layerOf(from)) {
        climbs.push(`${file} imports ${target} (${from} -> ${to})`);
      }
      if (to !== from) {
        if (!edges.has(from)) edges.set(from, new Set());
        edges.get(from)!.add(to);
      }
    }
  }
  assert.deepEqual(climbs, [], "imports that climb a layer");
  // A cycle among folders: depth-first search for a back edge.
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const visit = (folder: string, path: string[]) => {
    state.set(folder, "open");
    for (const next of edges.get(folder) ?? []) {
      if (state.get(next) === "open") {
        cycles.push([...path, folder, next].join(" -> "));
      } else if (state.get(next) === undefined) visit(next, [...path, folder]);
    }
    state.set(folder, "done");
  };
  for (const folder of edges.keys()) if (!state.has(folder)) visit(folder, []);
  assert.deepEqual(cycles, [], "folder cycles");
});

Deno.test("a file in src/ over 500 lines says why in its module doc", () => {
  const long: string[] = [];
  for (const file of sources(new URL("src/", ROOT), "src/")) {
    const text = Deno.readTextFileSync(new URL(file, ROOT));
    const lines = text.split("\n").length;
    const doc = text.slice(0, text.indexOf("*/") + 2);
    if (lines > 500 && !/\b(long|one file)\b/i.test(doc)) long.push(`${file}: ${lines} lines`);
  }
  assert.deepEqual(long, []);
});
