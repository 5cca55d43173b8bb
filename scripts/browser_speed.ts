/**
 * The demo's training in headless Chromium beside the same run in Deno, per backend: WebGPU
 * (Chromium: Dawn on SwiftShader; Deno: wgpu on the machine's adapter, llvmpipe here), the
 * WebAssembly CPU device on every core and on one thread. Prints a Markdown table of training
 * steps per second (the steps alone, as the trainer times them) and the whole run's seconds
 * (refreshes and evaluations included), then the bundles' sizes:
 *
 *   deno run -A scripts/browser_speed.ts [--steps 300] [--runs 1]
 *
 * Chromium and Deno take turns backend by backend, so both see the machine in the same state;
 * with `--runs N` each figure is the median of N runs.
 */
import { parseArgs } from "node:util";
import { Chromium, type Page } from "./chromium.ts";
import { startDemoServer } from "../src/cli/demo.ts";
import { createBackend } from "../src/backend/create.ts";
import { loadMnist } from "../src/data/mnist.ts";
import { decodeDigits, demoDigits, encodeDigits } from "../src/web/digits.ts";
import {
  DEMO_BACKEND_NAMES,
  DEMO_BACKENDS,
  type DemoBackend,
  demoBackendOptions,
  type DemoMessage,
} from "../src/web/demo_run.ts";
import { trainDemo } from "../src/web/demo_training.ts";

/** One run's figures. */
interface Timing {
  description: string;
  stepsPerSecond: number;
  seconds: number;
}

function summarise(messages: DemoMessage[]): Timing {
  const error = messages.find((m) => m.kind === "error");
  if (error?.kind === "error") throw new Error(error.message);
  const started = messages.find((m) => m.kind === "started");
  const done = messages.find((m) => m.kind === "done");
  if (started?.kind !== "started" || done?.kind !== "done") throw new Error("the run did not end");
  return {
    description: started.description,
    stepsPerSecond: done.stepsPerSecond,
    seconds: done.times.seconds,
  };
}

/** The demo's worker in the page, as the demo page runs it. */
async function inChromium(page: Page, backend: DemoBackend, steps: number): Promise<Timing> {
  const messages = await page.evaluate<DemoMessage[]>(
    `new Promise((resolve, reject) => {
      const worker = new Worker("/demo_worker.js", { type: "module" });
      const messages = [];
      worker.onerror = (e) => reject(new Error(e.message));
      worker.onmessage = ({ data }) => {
        if (data.kind === "started" || data.kind === "done" || data.kind === "error") {
          messages.push(data.kind === "started" ? { ...data, testLabels: [] } : data);
        }
        if (data.kind === "done" || data.kind === "error") { worker.terminate(); resolve(messages); }
      };
      worker.postMessage({ backend: ${JSON.stringify(backend)}, iterations: ${steps} });
    })`,
    3_600_000,
  );
  return summarise(messages);
}

async function inDeno(
  backend: DemoBackend,
  steps: number,
  digits: ReturnType<typeof decodeDigits>,
): Promise<Timing> {
  const b = await createBackend(demoBackendOptions(backend));
  try {
    const messages: DemoMessage[] = [];
    await trainDemo(b, digits, steps, (m) => messages.push(m));
    return summarise(messages);
  } finally {
    b.dispose();
  }
}

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function gzipSize(bytes: Uint8Array): Promise<number> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: { steps: { type: "string", default: "300" }, runs: { type: "string", default: "1" } },
    strict: true,
  });
  const steps = Number(values.steps), runs = Number(values.runs);
  if (!Number.isInteger(steps) || steps < 10 || !Number.isInteger(runs) || runs < 1) {
    console.error("usage: deno run -A scripts/browser_speed.ts [--steps N >= 10] [--runs N >= 1]");
    Deno.exit(2);
  }
  const digits = decodeDigits(encodeDigits(demoDigits(await loadMnist())));
  const server = await startDemoServer(0);
  const browser = await Chromium.launch();
  const rows: string[] = [];
  try {
    const page = await browser.newPage();
    await page.goto(server.url);
    for (const backend of DEMO_BACKENDS) {
      const chromium: Timing[] = [], deno: Timing[] = [];
      for (let run = 0; run < runs; run++) {
        chromium.push(await inChromium(page, backend, steps));
        deno.push(await inDeno(backend, steps, digits));
      }
      const cell = (t: Timing[]) =>
        `${median(t.map((x) => x.stepsPerSecond)).toFixed(0)} | ${
          median(t.map((x) => x.seconds)).toFixed(1)
        }`;
      rows.push(
        `| ${DEMO_BACKEND_NAMES[backend]} | ${chromium[0].description} | ${cell(chromium)} | ` +
          `${deno[0].description} | ${cell(deno)} |`,
      );
      console.error(`done: ${backend}`);
    }
    const response = await fetch(new URL("magnet.js", server.url));
    const bundle = new Uint8Array(await response.arrayBuffer());
    console.log(
      `The demo's training, ${steps} steps (median of ${runs} run${runs === 1 ? "" : "s"}):\n`,
    );
    console.log(
      "| backend | in Chromium | steps/s | run s | in Deno | steps/s | run s |\n" +
        "| ------- | ----------- | ------- | ----- | ------- | ------- | ----- |",
    );
    for (const row of rows) console.log(row);
    const kb = (n: number) => `${(n / 1024).toFixed(0)} KB`;
    console.log(
      `\nmagnet.js (web.ts bundled, minified): ${kb(bundle.length)}, ` +
        `${kb(await gzipSize(bundle))} gzipped; demo.js ${kb(server.bundleBytes["/demo.js"])}, ` +
        `demo_worker.js ${kb(server.bundleBytes["/demo_worker.js"])}`,
    );
  } finally {
    await browser.close();
    await server.close();
  }
}

if (import.meta.main) await main();
