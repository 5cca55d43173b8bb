/**
 * `deno task demo [--port N]`: a small web server on 127.0.0.1 for the demo page, where the magnet
 * loss trains in the browser (WebGPU, or the WebAssembly CPU device with or without threads) on a
 * subset of the bundled MNIST, drawing its loss and a live map of the test embeddings.
 *
 * On start it bundles the page's modules for the browser (`deno bundle --platform browser`) and
 * makes the digits file from the `mnist` package, then serves, every response with the headers
 * that make the page cross-origin isolated (COOP `same-origin`, COEP `require-corp`), which the CPU
 * device's threads need:
 *
 * - `/`: the demo page; `/demo.js` and `/demo_worker.js`: its script and its training worker;
 * - `/magnet.js`: the library's page entry (web.ts) as one ES module;
 * - `/blank.html`: an empty page to try the library from the browser's console
 *   (`const magnet = await import("/magnet.js")`);
 * - `/digits.bin`: the digits (see src/web/digits.ts), gzipped.
 *
 * A page asked for with `?isolated=0` is served without the isolation headers (it then runs the
 * CPU device on one thread): for trying, and for the browser tests.
 */
import { loadMnist } from "../data/mnist.ts";
import { demoHtml } from "../web/demo_html.ts";
import { demoDigits, encodeDigits } from "../web/digits.ts";
import { helpText, intFlag, parseFlags, reportFailure, UsageError } from "./args.ts";

/** The port `deno task demo` listens on unless `--port` says otherwise. */
export const DEMO_PORT = 8023;

const FLAGS = {
  "port": { kind: "int", default: String(DEMO_PORT), help: "port on 127.0.0.1 (0: any free one)" },
  "help": { kind: "flag", help: "show this help" },
} as const;

/** The bundles the server makes: where each entry's bundle is served. */
const BUNDLES = [
  { entry: "web.ts", path: "/magnet.js" },
  { entry: "src/web/demo_page.ts", path: "/demo.js" },
  { entry: "src/web/demo_worker.ts", path: "/demo_worker.js" },
] as const;

const ROOT = new URL("../../", import.meta.url);

/** The headers that make a page cross-origin isolated (and let it load its own resources). */
const ISOLATION = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
  "cross-origin-resource-policy": "same-origin",
};

const BLANK_HTML = '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">' +
  "<title>magnet</title></head><body></body></html>\n";

/** A running demo server. */
export interface DemoServer {
  /** Its address, `http://127.0.0.1:PORT/`. */
  readonly url: string;
  /** Bytes of each bundle, by the path it is served at. */
  readonly bundleBytes: Readonly<Record<string, number>>;
  /** Settles when the server stops. */
  readonly finished: Promise<void>;
  /** Stops serving. */
  close(): Promise<void>;
}

/** The modules of the page bundled for the browser, by the path they are served at. */
async function bundle(): Promise<Map<string, Uint8Array>> {
  const outdir = await Deno.makeTempDir({ prefix: "magnet-demo-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--platform",
        "browser",
        "--minify",
        "--outdir",
        outdir,
        ...BUNDLES.map((b) => b.entry),
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (out.code !== 0) {
      throw new Error(`deno bundle failed:\n${new TextDecoder().decode(out.stderr).trim()}`);
    }
    const bundles = new Map<string, Uint8Array>();
    for (const { entry, path } of BUNDLES) {
      bundles.set(path, await Deno.readFile(`${outdir}/${entry.replace(/\.ts$/, ".js")}`));
    }
    return bundles;
  } finally {
    await Deno.remove(outdir, { recursive: true }).catch(() => {});
  }
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** What the server serves, by path. */
type Files = Map<string, { body: Uint8Array | string; type: string; gzip?: boolean }>;

/** Bundles the page and makes the digits file. */
async function prepare(): Promise<{ files: Files; bundleBytes: Record<string, number> }> {
  const [bundles, digits] = await Promise.all([bundle(), loadMnist().then(demoDigits)]);
  const html = demoHtml(digits.train.labels.length, digits.test.labels.length);
  const files: Files = new Map([
    ["/", { body: html, type: "text/html; charset=utf-8" }],
    ["/blank.html", { body: BLANK_HTML, type: "text/html; charset=utf-8" }],
    ["/digits.bin", {
      body: await gzip(encodeDigits(digits)),
      type: "application/octet-stream",
      gzip: true,
    }],
  ]);
  const bundleBytes: Record<string, number> = {};
  for (const [path, body] of bundles) {
    files.set(path, { body, type: "text/javascript" });
    bundleBytes[path] = body.length;
  }
  return { files, bundleBytes };
}

/**
 * Serves the demo on 127.0.0.1 (`port` 0: any free port): the port is taken first, so a busy one
 * fails at once; then the page is bundled and the digits made, and requests wait for them.
 */
export async function startDemoServer(port: number = DEMO_PORT): Promise<DemoServer> {
  let ready: (files: Files) => void = () => {};
  const files = new Promise<Files>((resolve) => ready = resolve);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    async (request) => {
      const url = new URL(request.url);
      const isolated = url.searchParams.get("isolated") !== "0";
      const headers: Record<string, string> = {
        "cache-control": "no-store",
        ...(isolated ? ISOLATION : {}),
      };
      if (request.method !== "GET" && request.method !== "HEAD") {
        return new Response("method not allowed\n", { status: 405, headers });
      }
      const file = (await files).get(url.pathname === "/index.html" ? "/" : url.pathname);
      if (file === undefined) return new Response("not found\n", { status: 404, headers });
      headers["content-type"] = file.type;
      if (file.gzip) headers["content-encoding"] = "gzip";
      return new Response(file.body as BodyInit, { headers });
    },
  );
  let prepared;
  try {
    prepared = await prepare();
  } catch (error) {
    await server.shutdown();
    throw error;
  }
  ready(prepared.files);
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    bundleBytes: prepared.bundleBytes,
    finished: server.finished,
    close: () => server.shutdown(),
  };
}

/** Runs the command with `args`; returns the exit code once the server stops. */
export async function main(args: readonly string[]): Promise<number> {
  let port = DEMO_PORT;
  try {
    const v = parseFlags(args, FLAGS);
    if (v.help === true) {
      const text = helpText(
        "demo",
        "Serves the demo page, where the magnet loss trains in your browser.",
        FLAGS,
      );
      console.log(text.split("\n").filter((line) => !line.includes("jsr:")).join("\n"));
      return 0;
    }
    if (v.port !== undefined) port = intFlag("port", v.port as string);
    if (port < 0 || port > 65535) throw new UsageError(`--port must be 0 to 65535, got ${port}`);
    console.log("bundling the page and preparing the digits...");
    const server = await startDemoServer(port);
    const kb = (bytes: number) => `${Math.round(bytes / 1024)} KB`;
    console.log(
      `magnet demo: ${server.url}  (library bundle ${kb(server.bundleBytes["/magnet.js"])}, ` +
        "Ctrl-C stops it)",
    );
    await server.finished;
    return 0;
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      console.error(`error: port ${port} on 127.0.0.1 is in use: choose another with --port`);
      return 1;
    }
    return reportFailure(error);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
