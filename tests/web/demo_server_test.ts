/**
 * The demo's pieces that need no browser: the digits file keeps every value of the MNIST subset
 * and names what is wrong with a damaged one; the server sends the isolation headers, the page,
 * the bundles and the digits; `deno task demo` reads its flags as the other commands do.
 */
import assert from "node:assert/strict";
import { loadMnist } from "../../src/data/mnist.ts";
import { MagnetInputError } from "../../src/errors.ts";
import { decodeDigits, DEMO_DIGITS, demoDigits, encodeDigits } from "../../src/web/digits.ts";
import { startDemoServer } from "../../src/cli/demo.ts";
import { ROOT } from "../helpers/cli.ts";

Deno.test("the digits file keeps the MNIST subset bit for bit", async (t) => {
  const mnist = await loadMnist();
  const digits = demoDigits(mnist);
  const rows = digits.train.labels.length + digits.test.labels.length;
  assert.ok(Math.abs(rows - DEMO_DIGITS) <= 10, `${rows} digits`);
  assert.ok(Math.abs(digits.test.labels.length / rows - 0.2) < 0.01);
  const bytes = encodeDigits(digits);
  // A byte per pixel and per label, and a small header and palette.
  assert.ok(bytes.length < rows * 785 + 2048, `${bytes.length} bytes`);
  const decoded = decodeDigits(bytes);
  for (const part of ["train", "test"] as const) {
    assert.deepEqual(decoded[part].features, digits[part].features, part);
    assert.deepEqual(decoded[part].labels, digits[part].labels, part);
    assert.deepEqual(decoded[part].classNames, mnist.classNames);
    assert.deepEqual(decoded[part].imageShape, [28, 28, 1]);
  }
  // Every class in both parts, in MNIST's proportions.
  for (let digit = 0; digit < 10; digit++) {
    assert.ok(decoded.test.labels.includes(digit) && decoded.train.labels.includes(digit));
  }
  assert.deepEqual(demoDigits(mnist).test.labels, digits.test.labels, "deterministic");

  await t.step("a damaged file is named as such", () => {
    const damaged = (b: Uint8Array, pattern: RegExp) =>
      assert.throws(() => decodeDigits(b), (e: unknown) => {
        assert.ok(e instanceof MagnetInputError);
        assert.match(e.message, pattern);
        return true;
      });
    damaged(bytes.subarray(0, 10), /damaged: only 10 bytes/);
    damaged(bytes.subarray(0, bytes.length - 1), /damaged: \d+ bytes, expected \d+/);
    const foreign = bytes.slice();
    foreign[0] = 0x50;
    damaged(foreign, /does not start with MGDG/);
    const badLabel = bytes.slice();
    const view = new DataView(badLabel.buffer);
    badLabel[4 + 4 * 7 + 4 * view.getUint32(4 + 4 * 6, true)] = 10;
    damaged(badLabel, /a label is not below the class count/);
  });
});

Deno.test("the demo server sends the page isolated, its bundles and the digits", async () => {
  const server = await startDemoServer(0);
  try {
    const get = (path: string) => fetch(new URL(path, server.url));
    const page = await get("/");
    assert.equal(page.headers.get("cross-origin-opener-policy"), "same-origin");
    assert.equal(page.headers.get("cross-origin-embedder-policy"), "require-corp");
    const html = await page.text();
    assert.match(html, /<script type="module" src="demo.js"><\/script>/);
    assert.match(html, /on 4,0\d\d MNIST digits and is tested on \d{3,4} others/);
    for (const path of ["/magnet.js", "/demo.js", "/demo_worker.js"]) {
      const response = await get(path);
      assert.equal(response.headers.get("content-type"), "text/javascript");
      assert.equal(response.headers.get("cross-origin-resource-policy"), "same-origin");
      const text = await response.text();
      assert.equal(text.length, server.bundleBytes[path]);
      // Deno's API, or a node: module imported (an object key named "node" is neither).
      assert.ok(!/\bDeno\.|["']node:/.test(text), `${path} is free of Deno and node:`);
    }
    assert.ok(server.bundleBytes["/magnet.js"] < 1024 * 1024, "the library bundle stays small");
    const digits = await get("/digits.bin");
    assert.equal(digits.headers.get("content-encoding"), "gzip");
    const decoded = decodeDigits(new Uint8Array(await digits.arrayBuffer()));
    assert.ok(decoded.train.labels.length > 3900);
    const plain = await get("/blank.html?isolated=0");
    assert.equal(plain.headers.get("cross-origin-embedder-policy"), null);
    await plain.body?.cancel();
    const missing = await get("/nothing");
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    await server.close();
  }
});

Deno.test("deno task demo: help, and flags it cannot use", async () => {
  const run = async (...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}src/cli/demo.ts`, ...args],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
  };
  const help = await run("--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: deno task demo \[flags\]/);
  assert.match(help.stdout, /--port VALUE .*\(default: 8023\)/);
  const bad = await run("--port", "http");
  assert.deepEqual([bad.code, bad.stderr.trim()], [
    2,
    'error: --port must be an integer, got "http"',
  ]);
  const far = await run("--port", "70000");
  assert.deepEqual([far.code, far.stderr.trim()], [
    2,
    "error: --port must be 0 to 65535, got 70000",
  ]);
  const unknown = await run("--host", "0.0.0.0");
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown flag --host/);
  // A port in use is the environment's problem: exit 1, one line naming it.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const busy = await run("--port", String((listener.addr as Deno.NetAddr).port));
    assert.equal(busy.code, 1);
    assert.match(busy.stderr.trim().split("\n").pop()!, /port \d+ on 127\.0\.0\.1 is in use/);
  } finally {
    listener.close();
  }
});
