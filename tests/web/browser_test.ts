/**
 * The library and the demo in a real browser: headless Chromium (Debian's `chromium`, driven over
 * the DevTools protocol by scripts/chromium.ts) on the demo server (`deno task demo`), WebGPU
 * through Dawn on SwiftShader, the CPU device's threads as Web Workers in a cross-origin isolated
 * page. Nothing here is skipped silently: without Chromium these tests fail, unless
 * MAGNET_SKIP_BROWSER=1 is set on purpose (which .ci/run refuses).
 *
 * - The magnet loss and its gradient in the page, on WebGPU and on the CPU with and without threads,
 *   equal Deno's CPU backend to 1e-5 (relative to max(|x|, 1)) on fixed batches.
 * - The demo's training (100 steps, its refreshes and evaluations) run by the demo's own worker in
 *   the page gives exactly the loss curve and test metrics of the same run in Deno: the same
 *   WebAssembly kernels in the same V8, so bit for bit.
 * - Every WGSL shader that training (the demo's MLP, and a CNN) and evaluation compile passes
 *   Dawn's validation: no compilation message, no uncaptured error, no console error.
 * - A page that is not cross-origin isolated runs the CPU device on one thread and says why.
 * - The demo page loads, trains, draws its map with its classes and centres, and shows the final
 *   metrics; its screenshot is not blank (set MAGNET_SCREENSHOT_DIR to keep it).
 */
import assert from "node:assert/strict";
import { Chromium, type ConsoleEntry, type Page } from "../../scripts/chromium.ts";
import { inspectPng } from "../../scripts/screenshot_report.ts";
import { startDemoServer } from "../../src/cli/demo.ts";
import { createBackend } from "../../src/backend/create.ts";
import type { Backend } from "../../src/backend/backend.ts";
import { computeMagnetLoss } from "../../src/losses/magnet_batch.ts";
import { loadMnist } from "../../src/data/mnist.ts";
import { decodeDigits, demoDigits, encodeDigits } from "../../src/web/digits.ts";
import type { DemoMessage } from "../../src/web/demo_run.ts";
import { trainDemo } from "../../src/web/demo_training.ts";
import { Random } from "../../src/util/random.ts";
import { assertClose } from "../helpers/backends.ts";

const skip = Deno.env.get("MAGNET_SKIP_BROWSER") === "1";
if (skip) console.warn("BROWSER TESTS SKIPPED: MAGNET_SKIP_BROWSER=1");

/** A magnet batch as plain arrays (what crosses into the page). */
interface Batch {
  name: string;
  embeddings: number[];
  dim: number;
  clusters: number[];
  classes: number[];
  alpha: number;
}

/** Fixed batches: the README's, the trainer's shape, the same far from the origin, uneven sizes. */
function batches(): Batch[] {
  const rng = new Random(23);
  const normal = (n: number, scale = 1, shift = 0) =>
    Array.from({ length: n }, () => Math.fround(shift + scale * rng.normal()));
  const trainer = {
    name: "12 clusters of 4 rows, 64 wide",
    embeddings: normal(48 * 64),
    dim: 64,
    clusters: Array.from({ length: 48 }, (_, i) => Math.floor(i / 4)),
    classes: Array.from({ length: 48 }, (_, i) => Math.floor(i / 8)),
    alpha: 1,
  };
  return [
    {
      name: "the README's batch",
      embeddings: [0, 2, 1, 5],
      dim: 1,
      clusters: [7, 7, 3, 3],
      classes: [0, 0, 1, 1],
      alpha: 1,
    },
    trainer,
    {
      ...trainer,
      name: "the same, scaled by 1e3 around 1e3",
      embeddings: normal(48 * 64, 1e3, 1e3),
    },
    {
      name: "uneven clusters, one of a single row",
      embeddings: normal(9 * 5, 2),
      dim: 5,
      clusters: [4, 4, 4, 9, 1, 1, 2, 2, 2],
      classes: [0, 0, 0, 0, 1, 1, 2, 2, 2],
      alpha: 0.5,
    },
  ];
}

interface LossResult {
  description: string;
  loss: number;
  losses: number[];
  gradient: number[];
}

/** Waits in the page until `condition` (an expression) holds. */
function waitFor(page: Page, condition: string, timeoutMs = 120_000): Promise<void> {
  return page.evaluate(
    `new Promise((resolve, reject) => {
      const deadline = performance.now() + ${timeoutMs};
      const check = () => {
        if (${condition}) resolve();
        else if (performance.now() > deadline) reject(new Error("timed out waiting for " + ${
      JSON.stringify(condition)
    }));
        else setTimeout(check, 50);
      };
      check();
    })`,
    timeoutMs + 5000,
  );
}

/** Console entries that are errors or warnings (what a broken kernel or page would print). */
function problems(entries: ConsoleEntry[]): ConsoleEntry[] {
  return entries.filter((e) => ["error", "warning", "exception", "assert"].includes(e.level));
}

/** Runs the demo's worker in the page and returns its messages (no maps: their arrays are big). */
const RUN_DEMO_WORKER = (backend: string, iterations: number) => `
  new Promise((resolve, reject) => {
    const worker = new Worker("/demo_worker.js", { type: "module" });
    const messages = [];
    worker.onerror = (e) => reject(new Error(e.message));
    worker.onmessage = ({ data }) => {
      if (data.kind === "eval") messages.push({ kind: "eval", iteration: data.iteration, metrics: data.metrics });
      else if (data.kind === "started") messages.push({ kind: "started", description: data.description });
      else if (data.kind !== "step") messages.push(data);
      if (data.kind === "done" || data.kind === "error") { worker.terminate(); resolve(messages); }
    };
    worker.postMessage({ backend: ${JSON.stringify(backend)}, iterations: ${iterations} });
  })`;

Deno.test({
  name: "in Chromium",
  ignore: skip,
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const server = await startDemoServer(0);
  let browser: Chromium | null = null;
  const deno: Backend = await createBackend({ kind: "cpu" });
  try {
    browser = await Chromium.launch({ windowSize: "1200,2600" });
    const page = await browser.newPage();
    await page.goto(`${server.url}blank.html`);
    await page.evaluate(`import("/magnet.js").then((m) => { globalThis.magnet = m; })`);

    await t.step("the page is cross-origin isolated and has a WebGPU adapter", async () => {
      const found = await page.evaluate<{ isolated: boolean; adapter: boolean }>(
        `(async () => ({ isolated: crossOriginIsolated, adapter: !!(await navigator.gpu?.requestAdapter()) }))()`,
      );
      assert.deepEqual(found, { isolated: true, adapter: true });
    });

    await t.step("the magnet loss and its gradient equal Deno's CPU backend", async () => {
      const cases = batches();
      const inPage = await page.evaluate<LossResult[][]>(`(async () => {
        const out = [];
        for (const options of [{ kind: "webgpu" }, { kind: "cpu", threads: 2 }, { kind: "cpu", threads: 1 }]) {
          const backend = await magnet.createBackend(options);
          const results = [];
          for (const b of ${JSON.stringify(cases)}) {
            const r = await magnet.computeMagnetLoss(backend, {
              embeddings: new Float32Array(b.embeddings), dim: b.dim,
              clusters: new Int32Array(b.clusters), classes: new Int32Array(b.classes), alpha: b.alpha,
            });
            results.push({ description: backend.description, loss: r.loss,
              losses: [...r.losses], gradient: [...r.gradient] });
          }
          backend.dispose();
          out.push(results);
        }
        return out;
      })()`);
      const descriptions = inPage.map((results) => results[0].description);
      assert.match(descriptions[0], /^WebGPU \(google swiftshader\)$/);
      assert.match(descriptions[1], /^CPU \(WebAssembly .*SIMD, 2 threads\)$/);
      assert.match(descriptions[2], /^CPU \(WebAssembly .*SIMD, 1 thread\)$/);
      for (const [c, batch] of cases.entries()) {
        const expected = await computeMagnetLoss(deno, {
          embeddings: new Float32Array(batch.embeddings),
          dim: batch.dim,
          clusters: new Int32Array(batch.clusters),
          classes: new Int32Array(batch.classes),
          alpha: batch.alpha,
        });
        assert.ok(expected.loss > 0, `${batch.name}: a batch with a loss to compare`);
        for (const results of inPage) {
          const got = results[c];
          const what = `${batch.name} on ${got.description}`;
          assertClose([got.loss], [expected.loss], 1e-5, `${what}: loss`);
          assertClose(got.losses, expected.losses, 1e-5, `${what}: per-row losses`);
          assertClose(got.gradient, expected.gradient, 1e-5, `${what}: gradient`);
        }
      }
    });

    await t.step("the demo's training in the page is Deno's, bit for bit", async () => {
      const iterations = 100;
      const digits = decodeDigits(encodeDigits(demoDigits(await loadMnist())));
      const messages: DemoMessage[] = [];
      await trainDemo(deno, digits, iterations, (m) => messages.push(m));
      const strip = (list: DemoMessage[]) =>
        list.filter((m) => m.kind === "eval" || m.kind === "done").map((m) =>
          m.kind === "eval"
            ? { iteration: m.iteration, metrics: m.metrics }
            : m.kind === "done"
            ? { history: m.history.map((h) => [h.iteration, h.loss]), metrics: m.metrics }
            : null
        );
      const expected = strip(messages);
      assert.equal(expected.length, 6, "four evaluations during the run, one at its end, the end");
      for (const backend of ["cpu", "cpu-single"]) {
        const got = await page.evaluate<DemoMessage[]>(RUN_DEMO_WORKER(backend, iterations));
        const error = got.find((m) => m.kind === "error");
        assert.equal(error, undefined, JSON.stringify(error));
        const started = got[0];
        assert.ok(started.kind === "started");
        assert.match(started.description, backend === "cpu" ? /2 threads/ : /1 thread/);
        assert.deepEqual(strip(got), expected, `the run on ${started.description}`);
      }
    });

    await t.step("the demo's worker trains on WebGPU in the page", async () => {
      // WebGPU sums in another order than the CPU, and the loss-weighted sampling turns small
      // differences into other batches within a few steps: the run is held to the CPU's first
      // losses, to learning, and to sound metrics, not to the CPU's curve.
      const iterations = 20;
      const digits = decodeDigits(encodeDigits(demoDigits(await loadMnist())));
      const messages: DemoMessage[] = [];
      await trainDemo(deno, digits, iterations, (m) => messages.push(m));
      const expected = messages.find((m) => m.kind === "done");
      const got = await page.evaluate<DemoMessage[]>(RUN_DEMO_WORKER("webgpu", iterations));
      const error = got.find((m) => m.kind === "error");
      assert.equal(error, undefined, JSON.stringify(error));
      const started = got[0];
      assert.ok(started.kind === "started");
      assert.match(started.description, /^WebGPU/);
      const done = got.find((m) => m.kind === "done");
      assert.ok(done?.kind === "done" && expected?.kind === "done", "the run ends");
      const maps = (list: DemoMessage[]) => list.filter((m) => m.kind === "eval").length;
      assert.equal(maps(got), 5, "four maps during the run, one at its end");
      const losses = (m: typeof done) => m.history.flatMap((h) => h.loss === null ? [] : [h.loss]);
      const curve = losses(done);
      assert.equal(curve.length, losses(expected).length);
      assertClose(curve.slice(0, 1), losses(expected).slice(0, 1), 1e-2, "the first losses");
      assert.ok(curve.every(Number.isFinite), `losses ${curve}`);
      assert.ok(curve.at(-1)! < curve[0], `the loss falls: ${curve}`);
      assert.ok(done.metrics !== null, "the run's test metrics");
      for (const [name, value] of Object.entries(done.metrics)) {
        assert.ok(Number.isFinite(value), `${name} is ${value}`);
      }
      const magnetError = done.metrics.magnetError ?? NaN;
      assert.ok(magnetError < 0.5, `magnet-rule error ${magnetError}`);
    });

    await t.step(
      "every WGSL shader of training and evaluation passes Dawn's validation",
      async () => {
        const before = page.console.length;
        const report = await page.evaluate<{
          shaders: number;
          messages: string[];
          uncaptured: string[];
          results: { model: string; finite: boolean; knnError: number }[];
        }>(
          `(async () => {
        // Every shader module and uncaptured error of every device, recorded as it is made.
        const modules = [], uncaptured = [];
        const create = GPUDevice.prototype.createShaderModule;
        GPUDevice.prototype.createShaderModule = function (descriptor) {
          const module = create.call(this, descriptor);
          modules.push(module);
          return module;
        };
        const request = GPUAdapter.prototype.requestDevice;
        GPUAdapter.prototype.requestDevice = async function (descriptor) {
          const device = await request.call(this, descriptor);
          device.addEventListener("uncapturederror", (e) => uncaptured.push(e.error.message));
          return device;
        };
        const rng = new magnet.Random(5);
        const data = (n) => {
          const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
          const features = Float32Array.from({ length: n * 784 }, (_, i) =>
            Math.max(0, Math.min(1, 0.5 + 0.3 * rng.normal() + 0.05 * labels[Math.floor(i / 784)])));
          return { features, dim: 784, labels, classNames: [..."0123456789"], imageShape: [28, 28, 1] };
        };
        const train = data(400), test = data(100);
        const backend = await magnet.createBackend({ kind: "webgpu" });
        const results = [];
        for (const [model, settings] of [
          ["the demo's MLP", { model: "mlp", hidden: [256, 128], embeddingDim: 64 }],
          ["a CNN", { model: "cnn", conv: [4, 8], hidden: [32], embeddingDim: 16 }],
        ]) {
          const result = await magnet.train({ backend, train, test }, {
            ...settings, iterations: 2, evalEvery: 0, logEvery: 1, seed: 1,
          });
          results.push({ model, finite: result.history.every((h) => h.loss === null || Number.isFinite(h.loss)),
            knnError: result.test.knnError });
        }
        await backend.synchronize();
        const messages = [];
        for (const module of modules) {
          for (const m of (await module.getCompilationInfo()).messages) {
            messages.push(m.type + ": " + m.message);
          }
        }
        backend.dispose();
        GPUDevice.prototype.createShaderModule = create;
        GPUAdapter.prototype.requestDevice = request;
        return { shaders: modules.length, messages, uncaptured, results };
      })()`,
          300_000,
        );
        assert.ok(report.shaders >= 20, `${report.shaders} shader modules compiled`);
        assert.deepEqual(report.messages, [], "Dawn's compilation messages");
        assert.deepEqual(report.uncaptured, [], "uncaptured WebGPU errors");
        for (const r of report.results) {
          assert.ok(r.finite, `${r.model}: finite losses`);
          assert.ok(r.knnError >= 0 && r.knnError <= 1, `${r.model}: an evaluation`);
        }
        assert.deepEqual(problems(page.console.slice(before)), [], "console errors and warnings");
      },
    );

    await t.step(
      "a page that is not cross-origin isolated runs the CPU on one thread",
      async () => {
        const plain = await browser!.newPage();
        await plain.goto(`${server.url}blank.html?isolated=0`);
        const found = await plain.evaluate<
          { isolated: boolean; description: string; loss: number }
        >(
          `(async () => {
          const magnet = await import("/magnet.js");
          const backend = await magnet.createBackend({ kind: "cpu" });
          const { loss } = await magnet.computeMagnetLoss(backend, {
            embeddings: new Float32Array([0, 2, 1, 5]), dim: 1,
            clusters: new Int32Array([7, 7, 3, 3]), classes: new Int32Array([0, 0, 1, 1]), alpha: 1,
          });
          const description = backend.description;
          backend.dispose();
          return { isolated: crossOriginIsolated, description, loss };
        })()`,
        );
        assert.equal(found.isolated, false);
        assert.match(found.description, /1 thread: the page is not cross-origin isolated/);
        assertClose([found.loss], [0.65], 1e-2);
        assert.deepEqual(problems(plain.console), []);
      },
    );

    await t.step("the demo page trains and draws its map", async () => {
      const demo = await browser!.newPage();
      await demo.goto(server.url);
      await waitFor(demo, `document.body.dataset.state === "idle"`);
      const options = await demo.evaluate<string[]>(
        `[...document.querySelectorAll("#backend option")].filter((o) => !o.disabled).map((o) => o.value)`,
      );
      assert.deepEqual(options, ["webgpu", "cpu", "cpu-single"]);
      await demo.evaluate(`document.getElementById("backend").value = "cpu";
        document.getElementById("steps").value = "100";
        document.getElementById("start").click();`);
      // While it trains (in its worker), the page answers at once.
      await waitFor(demo, `/step [1-9]/.test(document.getElementById("status").textContent)`);
      const asked = performance.now();
      const running = await demo.evaluate<string>(
        `new Promise((resolve) => setTimeout(() => resolve(document.body.dataset.state), 0))`,
      );
      const answered = performance.now() - asked;
      if (running === "running") {
        assert.ok(answered < 2000, `the page took ${answered} ms to answer`);
      }
      await waitFor(demo, `document.body.dataset.state !== "running"`, 300_000);
      const shown = await demo.evaluate<{
        state: string;
        status: string;
        dots: number;
        centres: number;
        legend: string;
        summary: string;
      }>(`({
        state: document.body.dataset.state,
        status: document.getElementById("status").textContent,
        dots: document.querySelectorAll("#map .dots circle").length,
        centres: document.querySelectorAll("#map .centres path").length,
        legend: document.querySelector("#map svg").textContent,
        summary: document.getElementById("summary").textContent,
      })`);
      assert.equal(shown.state, "done", shown.status);
      assert.match(shown.status, /^Done: 100 steps on CPU \(WebAssembly .*2 threads\)/);
      assert.equal(shown.dots, 999, "every test digit on the map");
      assert.equal(shown.centres, 80, "8 cluster centres for each of the 10 classes");
      for (let digit = 0; digit < 10; digit++) assert.ok(shown.legend.includes(String(digit)));
      assert.match(shown.summary, /magnet-rule error\s*\d+\.\d+%/);
      const png = await demo.screenshot();
      const check = inspectPng(png);
      assert.ok(check.colours !== null && check.colours > 50, `${check.colours} colours`);
      assert.ok((check.inked ?? 0) > 0.05, `${((check.inked ?? 0) * 100).toFixed(1)} % inked`);
      const keep = Deno.env.get("MAGNET_SCREENSHOT_DIR");
      if (keep) await Deno.writeFile(`${keep}/demo.png`, png);
      assert.deepEqual(problems(demo.console), []);
    });
  } finally {
    deno.dispose();
    await browser?.close();
    await server.close();
  }
});
