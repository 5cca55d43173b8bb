/**
 * The package's export map: the library and the commands resolve, and the commands run from the
 * path the map gives (as `deno run -A jsr:@magnet/magnet/train` would run them).
 */
import assert from "node:assert/strict";
import config from "../../deno.json" with { type: "json" };

const ROOT = new URL("../../", import.meta.url);

Deno.test("the export map's commands run and print their help", async () => {
  const exports = config.exports as Record<string, string>;
  assert.deepEqual(Object.keys(exports).sort(), [
    ".",
    "./embed",
    "./experiment",
    "./export",
    "./index",
    "./search",
    "./train",
    "./web",
  ]);
  const library = await import(new URL(exports["."], ROOT).href);
  assert.equal(typeof library.createBackend, "function");
  const web = await import(new URL(exports["./web"], ROOT).href);
  for (const name of Object.keys(web)) assert.equal(web[name], library[name], name);
  for (
    const [name, command] of [
      ["./train", "train"],
      ["./embed", "embed"],
      ["./experiment", "experiment <name>"],
      ["./export", "export"],
      ["./index", "index"],
      ["./search", "search"],
    ]
  ) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(exports[name], ROOT).href, "--help"],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.match(text, new RegExp(`Usage: deno task ${command} \\[flags\\]`));
    assert.match(text, new RegExp(`or: deno run -A jsr:@magnet/magnet/${command} \\[flags\\]`));
  }
});
