/**
 * Deno fetches every npm package of the project's lockfile whenever a command needs any npm
 * package, so sharp (the image decoder, 39 MB with its libvips on Linux) must never enter deno.lock,
 * or training on the bundled MNIST would fetch it: the commands that may decode images (train,
 * embed, index, search) run without the lockfile, and the code names sharp only at run time.
 */
import assert from "node:assert/strict";
import config from "../../../deno.json" with { type: "json" };
import { SHARP_SPECIFIER } from "../../../src/data/images/sharp_decoder.ts";

const ROOT = new URL("../../../", import.meta.url);

Deno.test("sharp stays out of the project's lockfile and import map", () => {
  const lock = Deno.readTextFileSync(new URL("deno.lock", ROOT));
  assert.doesNotMatch(lock, /sharp|libvips/);
  assert.doesNotMatch(JSON.stringify(config.imports), /sharp/);
  const tasks = config.tasks as Record<string, string>;
  for (const name of ["train", "embed", "index", "search"]) {
    assert.match(tasks[name], /^deno run -A --no-lock src\/cli\/\w+\.ts$/, name);
  }
  assert.equal(SHARP_SPECIFIER, "npm:sharp@0.35.6");
});
