/**
 * The general convolution and pooling (strides per axis, asymmetric pads, dilation, groups, ceil
 * mode, counting the padding or not), image resizing, slices and concatenation: forward against
 * float64 loops of their definitions on random settings, on every backend.
 */
import assert from "node:assert/strict";
import { Graph } from "../../src/graph/tensor.ts";
import { avgPool, convolution, maxPool } from "../../src/graph/windows.ts";
import { resizeImages, resizeMatrix } from "../../src/graph/resize.ts";
import { concat, slice } from "../../src/graph/slices.ts";
import { Random } from "../../src/util/random.ts";
import { assertClose, gpuTestOptions, openBackends } from "../helpers/backends.ts";
import { convReference, poolReference, type RefWindow } from "../helpers/conv_reference.ts";
import type { Backend } from "../../src/backend/backend.ts";

function randomWindow(rng: Random, h: number, w: number): RefWindow {
  for (;;) {
    const kh = 1 + rng.int(3), kw = 1 + rng.int(3);
    const win: RefWindow = {
      kh,
      kw,
      strides: [1 + rng.int(3), 1 + rng.int(3)],
      pads: [rng.int(kh), rng.int(kw), rng.int(kh), rng.int(kw)],
      dilations: [1 + rng.int(2), 1 + rng.int(2)],
      ceilMode: rng.next() < 0.5,
    };
    const eh = (kh - 1) * win.dilations[0] + 1, ew = (kw - 1) * win.dilations[1] + 1;
    if (eh <= h + win.pads[0] + win.pads[2] && ew <= w + win.pads[1] + win.pads[3]) return win;
  }
}

const normal = (rng: Random, n: number) => Float64Array.from({ length: n }, () => rng.normal());

async function run(
  backend: Backend,
  build: (g: Graph) => ReturnType<typeof convolution>,
  feeds: Record<string, Float64Array>,
) {
  const g = new Graph();
  const y = build(g);
  const [out] = await backend.run([y], feeds);
  return { out, shape: y.shape };
}

Deno.test("general windows against float64 loops", gpuTestOptions, async (t) => {
  const backends = await openBackends();
  try {
    for (const backend of backends) {
      await t.step(
        `convolution (groups, dilation, strides, pads) on ${backend.description}`,
        async () => {
          const rng = new Random(3);
          for (let trial = 0; trial < 24; trial++) {
            const groups = [1, 2, 3][rng.int(3)];
            const depthwise = rng.next() < 0.3;
            const cin = depthwise ? 2 + rng.int(4) : groups * (1 + rng.int(3));
            const g = depthwise ? cin : groups;
            const cout = g * (1 + rng.int(3));
            const shape = [1 + rng.int(2), 3 + rng.int(6), 3 + rng.int(6), cin];
            const win = randomWindow(rng, shape[1], shape[2]);
            const x = normal(rng, shape.reduce((a, b) => a * b));
            const kernel = normal(rng, win.kh * win.kw * (cin / g) * cout);
            const bias = normal(rng, cout);
            const expected = convReference(x, shape, kernel, cout, bias, win, g);
            const { out, shape: got } = await run(backend, (graph) =>
              convolution(
                graph.input("x", shape),
                graph.input("k", [win.kh, win.kw, cin / g, cout]),
                graph.input("b", [cout]),
                { ...win, groups: g },
              ), { x, k: kernel, b: bias });
            const what = `trial ${trial}: ${JSON.stringify({ shape, win, groups: g, cout })}`;
            assert.deepEqual([...got], expected.shape, what);
            assertClose(out, expected.data, 1e-4, what);
          }
        },
      );
      await t.step(`max and average pooling on ${backend.description}`, async () => {
        const rng = new Random(5);
        for (let trial = 0; trial < 24; trial++) {
          const shape = [1 + rng.int(2), 3 + rng.int(6), 3 + rng.int(6), 1 + rng.int(3)];
          const win = randomWindow(rng, shape[1], shape[2]);
          const x = normal(rng, shape.reduce((a, b) => a * b));
          for (const kind of ["max", "avg"] as const) {
            const include = rng.next() < 0.5;
            const expected = poolReference(x, shape, win, kind, include);
            const { out, shape: got } = await run(backend, (graph) => {
              const input = graph.input("x", shape);
              return kind === "max"
                ? maxPool(input, win.kh, win.kw, win)
                : avgPool(input, win.kh, win.kw, { ...win, countIncludePad: include });
            }, { x });
            const what = `trial ${trial} ${kind}: ${JSON.stringify({ shape, win, include })}`;
            assert.deepEqual([...got], expected.shape, what);
            assertClose(out, expected.data, 1e-5, what);
          }
        }
      });
      await t.step(`resize, slice and concat on ${backend.description}`, async () => {
        const rng = new Random(7);
        const shape = [2, 5, 7, 3];
        const x = normal(rng, 2 * 5 * 7 * 3);
        for (const [h, w] of [[10, 14], [3, 4], [5, 3], [1, 1]]) {
          const rh = resizeMatrix(5, h), rw = resizeMatrix(7, w);
          const expected = new Float64Array(2 * h * w * 3);
          for (let b = 0; b < 2; b++) {
            for (let i = 0; i < h; i++) {
              for (let j = 0; j < w; j++) {
                for (let c = 0; c < 3; c++) {
                  let acc = 0;
                  for (let a = 0; a < 5; a++) {
                    for (let e = 0; e < 7; e++) {
                      acc += rh[i * 5 + a] * rw[j * 7 + e] * x[((b * 5 + a) * 7 + e) * 3 + c];
                    }
                  }
                  expected[((b * h + i) * w + j) * 3 + c] = acc;
                }
              }
            }
          }
          const { out } = await run(backend, (g) => resizeImages(g.input("x", shape), h, w), { x });
          assertClose(out, expected, 1e-5, `resize to ${h}x${w}`);
        }
        const { out: sliced } = await run(backend, (g) => slice(g.input("x", shape), 2, 1, 7, 2), {
          x,
        });
        const want: number[] = [];
        for (let b = 0; b < 2; b++) {
          for (let i = 0; i < 5; i++) {
            for (const j of [1, 3, 5]) {
              for (let c = 0; c < 3; c++) want.push(x[((b * 5 + i) * 7 + j) * 3 + c]);
            }
          }
        }
        assertClose(sliced, want, 1e-6, "slice axis 2 [1:7:2]");
        const y = normal(rng, 2 * 5 * 7 * 2);
        const { out: joined } = await run(
          backend,
          (g) => concat([g.input("x", shape), g.input("y", [2, 5, 7, 2])], 3),
          { x, y },
        );
        const both: number[] = [];
        for (let p = 0; p < 70; p++) {
          both.push(...x.subarray(p * 3, p * 3 + 3), ...y.subarray(p * 2, p * 2 + 2));
        }
        assertClose(joined, both, 1e-6, "concat on channels");
      });
    }
  } finally {
    for (const b of backends) b.dispose();
  }
});

Deno.test("resize matrices: bilinear when enlarging, an average when shrinking; rows sum to 1", () => {
  // Doubling 2 pixels: half-pixel centres at 0.25 and 0.75 of each input pixel.
  assertClose(resizeMatrix(2, 4), [1, 0, 0.75, 0.25, 0.25, 0.75, 0, 1]);
  // Halving 4 pixels: a triangle twice as wide, centred between each output's two pixels.
  const half = resizeMatrix(4, 2);
  assertClose(half.slice(0, 4), [0.75, 0.75, 0.25, 0].map((v) => v / 1.75), 1e-9);
  for (const [a, b] of [[5, 3], [3, 11], [224, 64]]) {
    const m = resizeMatrix(a, b);
    for (let i = 0; i < b; i++) {
      let s = 0;
      for (let j = 0; j < a; j++) s += m[i * a + j];
      assert.ok(Math.abs(s - 1) < 1e-12);
    }
  }
});
