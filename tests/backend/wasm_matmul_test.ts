import assert from "node:assert/strict";
import fc from "fast-check";
import {
  buildMatmulModule,
  defaultMatmulConfig,
  matmulScratchBytes,
  relaxedSimdSupported,
  TRANSPOSE_A,
  TRANSPOSE_B,
  WasmMatmul,
} from "../../src/backend/wasm/matmul_kernel.ts";
import { Random } from "../../src/util/random.ts";
import { matmulReference as reference } from "../helpers/matmul_reference.ts";

const COMBOS: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];

/** Both arithmetic paths; the relaxed one only where the host validates relaxed SIMD. */
const PATHS: { name: string; relaxed: boolean; ignore: boolean }[] = [
  { name: "relaxed_madd", relaxed: true, ignore: !relaxedSimdSupported() },
  { name: "mul + add", relaxed: false, ignore: false },
];

function randomArray(rng: Random, length: number): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = rng.normal();
  return out;
}

/**
 * Runs the raw kernel on bands of rows, with its operands at offsets that are not multiples of
 * 16 bytes (v128 accesses must not assume alignment), NaN in `out` and 64 floats past it, and
 * NaN in the scratch area: an entry left unwritten, a write outside `out`, or padding read from
 * stale scratch, shows up as NaN. Returns `out` and checks the guard after it.
 */
function runBands(
  w: WasmMatmul,
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
  transposeA: boolean,
  transposeB: boolean,
  bands: [number, number][],
): Float32Array {
  const aAt = 4;
  const bAt = aAt + 4 * m * k + 8;
  const outAt = bAt + 4 * k * n + 4;
  const guard = 64;
  const scratchAt = outAt + 4 * (m * n + guard) + 12;
  const end = scratchAt + matmulScratchBytes(m, n, k, w.config);
  const have = w.memory.buffer.byteLength;
  if (end > have) w.memory.grow(Math.ceil((end - have) / 65536));
  const f32 = new Float32Array(w.memory.buffer);
  f32.set(a, aAt / 4);
  f32.set(b, bAt / 4);
  f32.fill(NaN, outAt / 4, end / 4);
  const flags = (transposeA ? TRANSPOSE_A : 0) | (transposeB ? TRANSPOSE_B : 0);
  for (const [begin, end] of bands) {
    w.kernel(aAt, bAt, outAt, m, n, k, flags, scratchAt, begin, end);
  }
  const after = new Float32Array(w.memory.buffer, outAt + 4 * m * n, guard);
  assert.ok(after.every(Number.isNaN), "the kernel wrote past the end of out");
  return new Float32Array(w.memory.buffer, outAt, m * n).slice();
}

/**
 * Checks a float32 product against the float64 reference. The bound is the classic one for
 * float32 summation of k exact terms, (k + 2) u sum |a||b| with u = 2^-24, which holds whatever
 * the order or blocking of the sums; a wrong or missing term is orders of magnitude beyond it.
 */
function assertClose(
  out: Float32Array,
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
  transposeA: boolean,
  transposeB: boolean,
  label: string,
): void {
  const { value, scale } = reference(a, b, m, n, k, transposeA, transposeB);
  const u = 2 ** -24;
  for (let i = 0; i < m * n; i++) {
    const error = Math.abs(out[i] - value[i]);
    if (!(error <= (k + 2) * u * scale[i] + 1e-30)) {
      const row = Math.floor(i / n);
      assert.fail(
        `${label}: out[${row}][${i % n}] = ${out[i]}, expected ${value[i]} (scale ${scale[i]})`,
      );
    }
  }
}

function check(
  w: WasmMatmul,
  rng: Random,
  m: number,
  n: number,
  k: number,
  transposeA: boolean,
  transposeB: boolean,
): void {
  const a = randomArray(rng, m * k);
  const b = randomArray(rng, k * n);
  const out = runBands(w, a, b, m, n, k, transposeA, transposeB, [[0, m]]);
  const label = `${m}x${n}x${k} tA=${transposeA} tB=${transposeB}`;
  assertClose(out, a, b, m, n, k, transposeA, transposeB, label);
}

/** Edge cases: single rows and columns, k = 1, sizes around the 6 x 8 tile, the MLP's shapes. */
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 1, 37],
  [1, 256, 784],
  [1, 5, 3],
  [2, 300, 7],
  [3, 17, 1],
  [40, 1, 29],
  [257, 2, 64],
  [19, 3, 5],
  [4, 4, 4],
  [5, 7, 1],
  [6, 8, 1],
  [7, 9, 2],
  [17, 33, 5],
  [33, 17, 300],
  [13, 19, 301],
  [100, 37, 260],
  [48, 784, 256],
  [784, 48, 256],
  [48, 256, 784],
  [784, 256, 48],
  [48, 128, 256],
  [256, 128, 48],
  [48, 64, 128],
  [130, 2100, 3],
];

for (const path of PATHS) {
  Deno.test({
    name: `wasm matmul (${path.name}) matches a float64 reference`,
    ignore: path.ignore,
    fn: async (t) => {
      const w = new WasmMatmul({ relaxed: path.relaxed });
      const rng = new Random(7);

      await t.step("fixed shapes, all transpose cases", () => {
        for (const [m, n, k] of SHAPES) {
          for (const [ta, tb] of COMBOS) check(w, rng, m, n, k, ta, tb);
        }
      });

      await t.step("random shapes (fast-check)", () => {
        fc.assert(
          fc.property(
            fc.integer({ min: 1, max: 70 }),
            fc.integer({ min: 1, max: 70 }),
            fc.integer({ min: 1, max: 600 }),
            fc.boolean(),
            fc.boolean(),
            fc.integer(),
            (m, n, k, ta, tb, seed) => check(w, new Random(seed), m, n, k, ta, tb),
          ),
          { numRuns: 150 },
        );
      });

      await t.step("bands of rows give the whole product", () => {
        fc.assert(
          fc.property(
            fc.integer({ min: 1, max: 90 }),
            fc.integer({ min: 1, max: 50 }),
            fc.integer({ min: 1, max: 300 }),
            fc.boolean(),
            fc.boolean(),
            fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 5 }),
            fc.integer(),
            (m, n, k, ta, tb, cuts, seed) => {
              const r = new Random(seed);
              const a = randomArray(r, m * k);
              const b = randomArray(r, k * n);
              const points = [0, m, ...cuts.map((c) => Math.floor(c * m))].sort((x, y) => x - y);
              const bands = points.slice(1).map((end, i): [number, number] => [points[i], end]);
              const whole = runBands(w, a, b, m, n, k, ta, tb, [[0, m]]);
              const split = runBands(w, a, b, m, n, k, ta, tb, bands.reverse());
              assertClose(split, a, b, m, n, k, ta, tb, `bands ${JSON.stringify(bands)}`);
              // Each entry's sum runs in the same order whatever band it is in (the path is chosen
              // by the whole product), so threads never change a result. Only the direct path of
              // products with at most 3 rows or columns, which the device never splits, differs.
              if (m > 3 && n > 3) assert.deepEqual(split, whole);
            },
          ),
          { numRuns: 100 },
        );
      });

      await t.step("the multiply wrapper", () => {
        const a = randomArray(rng, 20 * 30);
        const b = randomArray(rng, 30 * 10);
        for (const [ta, tb] of COMBOS) {
          const out = w.multiply(a, b, 20, 10, 30, ta, tb);
          assertClose(out, a, b, 20, 10, 30, ta, tb, `multiply tA=${ta} tB=${tb}`);
        }
      });
    },
  });
}

Deno.test("wasm matmul: both modules validate, and the empty sum (k = 0) is zero", () => {
  assert.equal(typeof relaxedSimdSupported(), "boolean");
  assert.ok(WebAssembly.validate(buildMatmulModule({ relaxed: false })));
  if (relaxedSimdSupported()) assert.ok(WebAssembly.validate(buildMatmulModule({ relaxed: true })));
  const w = new WasmMatmul({ relaxed: false });
  const out = runBands(w, new Float32Array(0), new Float32Array(0), 3, 5, 0, false, false, [[
    0,
    3,
  ]]);
  assert.deepEqual(Array.from(out), new Array(15).fill(0));
});

Deno.test("a row band never writes past matmulScratchBytes(m, n, k) of scratch", () => {
  // Threads each compute a band of rows with their own scratch sized by the whole product's m;
  // a write beyond it would land in another tensor.
  const module = new WebAssembly.Module(buildMatmulModule({ relaxed: relaxedSimdSupported() }));
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
  const kernel = new WebAssembly.Instance(module, { env: { memory } }).exports.matmul as (
    ...args: number[]
  ) => void;
  const config = defaultMatmulConfig(relaxedSimdSupported());
  for (const [m, n, k] of [[27, 12, 33], [130, 9, 257], [48, 256, 784], [13, 5, 40]]) {
    for (const flags of [0, TRANSPOSE_A, TRANSPOSE_B, TRANSPOSE_A | TRANSPOSE_B]) {
      for (
        const [begin, end] of [[0, m], [0, Math.ceil(m / 2)], [Math.ceil(m / 2), m], [m - 1, m]]
      ) {
        const scratchBytes = matmulScratchBytes(m, n, k, config);
        const a = 64, b = a + 4 * m * k + 64, out = b + 4 * k * n + 64;
        const scratch = Math.ceil((out + 4 * m * n) / 64) * 64;
        const guard = new Int32Array(memory.buffer, scratch + scratchBytes, 1024);
        guard.fill(0x7eadbeef);
        kernel(a, b, out, m, n, k, flags, scratch, begin, end);
        assert.ok(
          guard.every((v) => v === 0x7eadbeef),
          `${m}x${n}x${k} flags ${flags} rows [${begin}, ${end}) wrote past its scratch`,
        );
      }
    }
  }
});
