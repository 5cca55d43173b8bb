import assert from "node:assert/strict";
import fc from "fast-check";
import { type FloatArray, matmul } from "../../src/backend/js/matmul.ts";
import { Random } from "../../src/util/random.ts";
import { matmulReference as reference } from "../helpers/matmul_reference.ts";

type ArrayType = Float32ArrayConstructor | Float64ArrayConstructor;

const TYPES: [string, ArrayType, number][] = [
  ["Float32Array", Float32Array, 1e-5],
  ["Float64Array", Float64Array, 1e-12],
];
const COMBOS: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];

/** A view of `length` normal samples that starts `offset` elements into a larger buffer. */
function randomView(Type: ArrayType, rng: Random, length: number, offset: number): FloatArray {
  const buffer = new Type(offset + length + 3);
  for (let i = 0; i < buffer.length; i++) buffer[i] = rng.normal();
  return buffer.subarray(offset, offset + length);
}

/**
 * Multiplies random matrices held in views at the given offsets and checks the product against
 * the reference. `out` starts as NaN and runs 3 elements past m * n, so an entry left unwritten,
 * or a write past the product, shows up.
 */
function check(
  Type: ArrayType,
  tolerance: number,
  rng: Random,
  m: number,
  n: number,
  k: number,
  transposeA: boolean,
  transposeB: boolean,
  offsets: [number, number, number] = [0, 0, 0],
): void {
  const a = randomView(Type, rng, m * k, offsets[0]);
  const b = randomView(Type, rng, k * n, offsets[1]);
  const outBuffer = new Type(offsets[2] + m * n + 3).fill(NaN);
  outBuffer.fill(7, 0, offsets[2]);
  outBuffer.fill(9, offsets[2] + m * n);
  const out = outBuffer.subarray(offsets[2]);
  const aBefore = a.slice();
  const bBefore = b.slice();

  matmul(a, b, out, m, n, k, transposeA, transposeB);

  const label = `m=${m} n=${n} k=${k} tA=${transposeA} tB=${transposeB} offsets=${offsets}`;
  const { value, scale } = reference(a, b, m, n, k, transposeA, transposeB);
  for (let i = 0; i < m * n; i++) {
    const error = Math.abs(out[i] - value[i]);
    if (!(error <= tolerance * scale[i])) {
      assert.fail(`${label}: out[${i}] = ${out[i]}, expected ${value[i]} (error ${error})`);
    }
  }
  for (let i = 0; i < offsets[2]; i++) assert.equal(outBuffer[i], 7, `${label}: wrote before out`);
  for (let i = 0; i < 3; i++) assert.equal(out[m * n + i], 9, `${label}: wrote past m * n`);
  assert.deepEqual(a, aBefore, `${label}: changed a`);
  assert.deepEqual(b, bBefore, `${label}: changed b`);
}

Deno.test("cpu matmul", async (t) => {
  await t.step("every size from {1, 2, 7, 33, 64, 257} in m, n and k, every transpose", () => {
    const sizes = [1, 2, 7, 33, 64, 257];
    for (const [, Type, tolerance] of TYPES) {
      const rng = new Random(1);
      for (const m of sizes) {
        for (const n of sizes) {
          for (const k of sizes) {
            for (const [tA, tB] of COMBOS) check(Type, tolerance, rng, m, n, k, tA, tB);
          }
        }
      }
    }
  });

  await t.step("subarray views at nonzero offsets", () => {
    for (const [, Type, tolerance] of TYPES) {
      const rng = new Random(2);
      const shapes = [[1, 1, 1], [3, 5, 2], [7, 33, 64], [64, 7, 33], [33, 257, 9], [130, 70, 300]];
      for (const [m, n, k] of shapes) {
        for (const [tA, tB] of COMBOS) {
          check(Type, tolerance, rng, m, n, k, tA, tB, [1 + rng.int(5), 1 + rng.int(5), 1]);
          check(Type, tolerance, rng, m, n, k, tA, tB, [0, 3, 2]);
        }
      }
    }
  });

  await t.step("shapes spanning several blocks in each dimension", () => {
    // k past one 256-deep block, m past one 128-row block, n past one 2048-column block, and
    // the tall and wide shapes of a small MLP's forward and backward products.
    const shapes = [[300, 5, 600], [5, 2100, 3], [4, 2049, 5], [129, 4, 513], [48, 256, 784]];
    for (const [, Type, tolerance] of TYPES) {
      const rng = new Random(3);
      for (const [m, n, k] of shapes) {
        for (const [tA, tB] of COMBOS) check(Type, tolerance, rng, m, n, k, tA, tB);
      }
    }
  });

  await t.step("random shapes and offsets (property)", () => {
    const arbitrary = fc.record({
      m: fc.integer({ min: 1, max: 80 }),
      n: fc.integer({ min: 1, max: 80 }),
      k: fc.integer({ min: 1, max: 300 }),
      tA: fc.boolean(),
      tB: fc.boolean(),
      offsets: fc.tuple(fc.nat(6), fc.nat(6), fc.nat(6)),
      double: fc.boolean(),
      seed: fc.nat(),
    });
    fc.assert(
      fc.property(arbitrary, ({ m, n, k, tA, tB, offsets, double, seed }) => {
        const [, Type, tolerance] = TYPES[double ? 1 : 0];
        check(Type, tolerance, new Random(seed), m, n, k, tA, tB, offsets);
      }),
      { seed: 4, numRuns: 300 },
    );
  });

  await t.step("exact on small integers, where float32 has no rounding to do", () => {
    const m = 9, n = 10, k = 11;
    const a = Float32Array.from({ length: m * k }, (_, i) => (i % 7) - 3);
    const b = Float32Array.from({ length: k * n }, (_, i) => (i % 5) - 2);
    for (const [tA, tB] of COMBOS) {
      const out = new Float32Array(m * n);
      matmul(a, b, out, m, n, k, tA, tB);
      assert.deepEqual(Array.from(out), Array.from(reference(a, b, m, n, k, tA, tB).value));
    }
  });

  await t.step("the same scratch serves float32 and float64 calls in turn", () => {
    const rng = new Random(5);
    for (let round = 0; round < 3; round++) {
      check(Float64Array, 1e-12, rng, 70, 90, 300, round === 1, false);
      check(Float32Array, 1e-5, rng, 130, 20, 40, false, round === 2);
    }
  });

  await t.step("rejects bad sizes and arrays too short for them", () => {
    const x = new Float32Array(12);
    assert.throws(() => matmul(x, x, x.slice(), 0, 2, 2, false, false), RangeError);
    assert.throws(() => matmul(x, x, x.slice(), 2, 1.5, 2, false, false), RangeError);
    assert.throws(() => matmul(x, x, x.slice(), 2, 2, NaN, false, false), RangeError);
    assert.throws(() => matmul(x, x, new Float32Array(11), 3, 4, 3, false, false), RangeError);
    assert.throws(() => matmul(x, x.subarray(1), x.slice(), 3, 4, 3, false, false), RangeError);
    assert.throws(() => matmul(x, x, x.slice(), 4, 4, 4, false, false), RangeError);
  });
});
