/**
 * The README's TypeScript examples run as written (with the package's import pointed at this
 * checkout) and end without error; what they print is checked against what the README says.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** The ```ts blocks of the README, in order. */
function examples(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

Deno.test("README examples run", async (t) => {
  const readme = Deno.readTextFileSync(new URL("README.md", ROOT));
  const blocks = examples(readme);
  assert.ok(blocks.length >= 1, "the README has TypeScript examples");
  const dir = await Deno.makeTempDir({ prefix: "magnet-readme-" });
  const lock = `${dir}/deno.lock`;
  Deno.copyFileSync(new URL("deno.lock", ROOT), lock);
  try {
    for (const [i, block] of blocks.entries()) {
      await t.step(`example ${i + 1}`, async () => {
        assert.match(block, /from "jsr:@magnet\/magnet"/, "imports the package as users do");
        const source = block.replaceAll(
          '"jsr:@magnet/magnet"',
          `"${new URL("mod.ts", ROOT).href}"`,
        );
        const file = `${dir}/example_${i + 1}.ts`;
        Deno.writeTextFileSync(file, source);
        const out = await new Deno.Command(Deno.execPath(), {
          // A copy of the project's lockfile: what an example fetches (LanceDB) stays out of it.
          args: [
            "run",
            "-A",
            "--config",
            new URL("deno.json", ROOT).pathname,
            `--lock=${lock}`,
            file,
          ],
          cwd: dir,
          env: { NO_COLOR: "1" },
          stdout: "piped",
          stderr: "piped",
        }).output();
        const stdout = new TextDecoder().decode(out.stdout);
        const stderr = new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 0, `example ${i + 1} failed:\n${stderr}`);
        // Lines the README shows as output ("// prints: ...") appear in what the example printed.
        for (const m of block.matchAll(/\/\/ prints: (.*)$/gm)) {
          assert.ok(stdout.includes(m[1].trim()), `expected "${m[1].trim()}" in:\n${stdout}`);
        }
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
