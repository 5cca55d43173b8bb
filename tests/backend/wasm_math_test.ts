import assert from "node:assert/strict";
import fc from "fast-check";
import { mathTestModule } from "../../src/backend/wasm/math.ts";

type Name = "exp" | "log" | "tanh";
const NAMES: Name[] = ["exp", "log", "tanh"];
const REFERENCE: Record<Name, (x: number) => number> = {
  exp: Math.exp,
  log: Math.log,
  tanh: Math.tanh,
};

/** The most values one call handles (the splat form stores 16 bytes per value after them). */
const CAPACITY = 1 << 18;
const memory = new WebAssembly.Memory({
  initial: (CAPACITY * 4) / 65536 + 1,
  maximum: 1024,
  shared: true,
});
const kernels = new WebAssembly.Instance(new WebAssembly.Module(mathTestModule().toBytes()), {
  env: { memory },
}).exports as Record<string, (...args: number[]) => void>;

/** `name` applied to each of `xs` (as float32), four lanes at a time, neighbours unrelated. */
function apply(name: Name, xs: ArrayLike<number>): Float32Array {
  const out = new Float32Array(xs.length);
  for (let begin = 0; begin < xs.length; begin += CAPACITY) {
    const n = Math.min(CAPACITY, xs.length - begin);
    const padded = Math.ceil(n / 4) * 4;
    const view = new Float32Array(memory.buffer, 0, padded);
    view.fill(0);
    for (let i = 0; i < n; i++) view[i] = xs[begin + i];
    kernels[`${name}4`](0, padded);
    out.set(view.subarray(0, n), begin);
  }
  return out;
}

/** `name` applied to a vector holding xs[i] in all four lanes: result i in 4i..4i+3. */
function applySplat(name: Name, xs: ArrayLike<number>): Float32Array {
  const n = xs.length;
  assert.ok(n * 20 <= memory.buffer.byteLength);
  new Float32Array(memory.buffer, 0, n).set(xs);
  const dst = Math.ceil(n / 4) * 16;
  const out = new Float32Array(memory.buffer, dst, 4 * n);
  out.fill(NaN);
  kernels[`${name}_splat`](0, dst, n);
  return out.slice();
}

const bitsOut = new Int32Array(1);
const floatOut = new Float32Array(bitsOut.buffer);

/** The float32 bits of x (x rounded to float32 first). */
function bitsOf(x: number): number {
  floatOut[0] = x;
  return bitsOut[0];
}

function fromBits(bits: number): number {
  bitsOut[0] = bits;
  return floatOut[0];
}

/** The float32 values in order as integers (+0 and -0 both 0), so that ulp steps are differences. */
function ordinal(x: number): number {
  const bits = bitsOf(x);
  return bits >= 0 ? bits : -2147483648 - bits;
}

/**
 * Float32 steps between `got` and `want` (both float32): 0 if equal or both NaN, Infinity if one
 * is NaN. FLT_MAX and Infinity are one step apart.
 */
function ulpSteps(got: number, want: number): number {
  if (Number.isNaN(want) || Number.isNaN(got)) {
    return Number.isNaN(want) && Number.isNaN(got) ? 0 : Infinity;
  }
  return Math.abs(ordinal(got) - ordinal(want));
}

/** A float32 `Math.*` result: the double-precision reference rounded to float32. */
function reference(name: Name, x: number): number {
  return Math.fround(REFERENCE[name](x));
}

/** Deterministic 32-bit generator (mulberry32). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** `count` floats from uniformly random bit patterns: every binade and sign equally likely. */
function randomBits(count: number, seed: number): Float32Array {
  const next = random(seed);
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) out[i] = next() | 0;
  return new Float32Array(out.buffer);
}

/** `count` evenly spaced values over [lo, hi]. */
function uniform(lo: number, hi: number, count: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = lo + ((hi - lo) * i) / (count - 1);
  return out;
}

/** The `count` consecutive float32 values centred on `center` (across zero if it is 0). */
function around(center: number, count: number): Float32Array {
  const out = new Float32Array(count);
  const mid = ordinal(center);
  for (let i = 0; i < count; i++) {
    const o = mid - count / 2 + i;
    out[i] = fromBits(o >= 0 ? o : -2147483648 - o);
  }
  return out;
}

/** Magnitudes spread evenly in log scale over [lo, hi], both signs unless `positive`. */
function logUniform(lo: number, hi: number, count: number, positive = false): Float32Array {
  const out = new Float32Array(count);
  const a = Math.log2(lo);
  const b = Math.log2(hi);
  for (let i = 0; i < count; i++) {
    const v = 2 ** (a + ((b - a) * i) / (count - 1));
    out[i] = positive || i % 2 === 0 ? v : -v;
  }
  return out;
}

const FLT_MAX = fromBits(0x7f7fffff);
const FLT_MIN = 2 ** -126;
const DENORM_MIN = 2 ** -149;

const SWEEP_SIZE = 1 << 20;

/** Prepends random bit patterns to `sets` so that they hold `SWEEP_SIZE` values in all. */
function sweep(seed: number, sets: [string, Float32Array][]): [string, Float32Array][] {
  const rest = SWEEP_SIZE - sets.reduce((sum, [, xs]) => sum + xs.length, 0);
  return [["random bits", randomBits(rest, seed)], ...sets];
}

/** The sweep for each function: labelled input sets, SWEEP_SIZE values in all per function. */
const SWEEPS: Record<Name, [string, Float32Array][]> = {
  exp: sweep(1, [
    ["[-104, 89]", uniform(-104, 89, 1 << 18)],
    ["[-1, 1]", uniform(-1, 1, 1 << 16)],
    ["|x| in [2^-30, 1]", logUniform(2 ** -30, 1, 1 << 16)],
    ["around 0 (incl. denormals)", around(0, 1 << 14)],
    ["around ln2/2 (reduction edge)", around(Math.LN2 / 2, 1 << 14)],
    ["around 88.72 (overflow)", around(88.7228394, 1 << 16)],
    ["around -87.34 (denormal results begin)", around(-87.336544, 1 << 16)],
    ["around -103.97 (results reach 0)", around(-103.972084, 1 << 16)],
    ["around -104", around(-104, 1 << 16)],
    ["around -88", around(-88, 1 << 15)],
    ["around 88", around(88, 1 << 15)],
    ["[-150, 150]", uniform(-150, 150, 1 << 16)],
  ]),
  log: sweep(2, [
    ["positive, log-uniform over the whole range", logUniform(DENORM_MIN, FLT_MAX, 1 << 18, true)],
    ["denormals", uniform(0, FLT_MIN, 1 << 16)],
    ["around FLT_MIN", around(FLT_MIN, 1 << 14)],
    ["[0.5, 2]", uniform(0.5, 2, 1 << 16)],
    ["around 1", around(1, 1 << 16)],
    ["around sqrt(1/2) (reduction edge)", around(Math.SQRT1_2, 1 << 16)],
    ["around sqrt(2) (reduction edge)", around(Math.SQRT2, 1 << 16)],
    ["around 0.5", around(0.5, 1 << 14)],
    ["around 2", around(2, 1 << 14)],
    ["around FLT_MAX", around(fromBits(0x7f7fc000), 1 << 15)],
  ]),
  tanh: sweep(3, [
    ["[-10, 10]", uniform(-10, 10, 1 << 18)],
    ["|x| in [2^-30, 1]", logUniform(2 ** -30, 1, 1 << 16)],
    ["around 0 (incl. denormals)", around(0, 1 << 14)],
    ["around 1e-4", around(1e-4, 1 << 14)],
    [
      "around ±0.875 (method switch)",
      new Float32Array([...around(0.875, 1 << 15), ...around(-0.875, 1 << 15)]),
    ],
    ["[-2, 2]", uniform(-2, 2, 1 << 16)],
    ["around 9.01 (results reach 1)", around(9.010913, 1 << 15)],
    ["around 10 (clamp)", around(10, 1 << 14)],
    ["[-1e4, 1e4]", uniform(-1e4, 1e4, 1 << 15)],
  ]),
};

/** The maximum ulp error of `name` over `xs`, with where it occurred. */
function maxError(name: Name, xs: Float32Array): { steps: number; at: number; got: number } {
  const got = apply(name, xs);
  let worst = { steps: 0, at: NaN, got: NaN };
  for (let i = 0; i < xs.length; i++) {
    const steps = ulpSteps(got[i], reference(name, xs[i]));
    if (steps > worst.steps) worst = { steps, at: xs[i], got: got[i] };
  }
  return worst;
}

Deno.test("wasm math: special values are exactly IEEE's", async (t) => {
  /** [input, expected] pairs, compared with Object.is (so -0 and NaN are exact). */
  const cases: Record<Name, [number, number][]> = {
    exp: [
      [NaN, NaN],
      [Infinity, Infinity],
      [-Infinity, 0],
      [0, 1],
      [-0, 1],
      [1e-30, 1],
      [-1e-30, 1],
      [DENORM_MIN, 1],
      [88.72284, Infinity],
      [89, Infinity],
      [100, Infinity],
      [1e30, Infinity],
      [FLT_MAX, Infinity],
      [-104, 0],
      [-104.5, 0],
      [-150, 0],
      [-1e30, 0],
      [-FLT_MAX, 0],
      [1, Math.fround(Math.E)],
      [Math.fround(Math.LN2), 2],
    ],
    log: [
      [0, -Infinity],
      [-0, -Infinity],
      [-DENORM_MIN, NaN],
      [-1, NaN],
      [-FLT_MAX, NaN],
      [-Infinity, NaN],
      [NaN, NaN],
      [Infinity, Infinity],
      [1, 0],
      [2, Math.fround(Math.LN2)],
      [0.5, -Math.fround(Math.LN2)],
      [DENORM_MIN, Math.fround(Math.log(DENORM_MIN))],
      [FLT_MIN, Math.fround(Math.log(FLT_MIN))],
      [FLT_MAX, Math.fround(Math.log(FLT_MAX))],
    ],
    tanh: [
      [NaN, NaN],
      [Infinity, 1],
      [-Infinity, -1],
      [0, 0],
      [-0, -0],
      [DENORM_MIN, DENORM_MIN],
      [-DENORM_MIN, -DENORM_MIN],
      [1e-30, Math.fround(1e-30)],
      [-1e-30, Math.fround(-1e-30)],
      [1e-4, Math.fround(Math.tanh(Math.fround(1e-4)))],
      [-1e-4, Math.fround(Math.tanh(Math.fround(-1e-4)))],
      [9.1, 1],
      [-9.1, -1],
      [10, 1],
      [20, 1],
      [-88.8, -1],
      [FLT_MAX, 1],
      [-FLT_MAX, -1],
    ],
  };
  for (const name of NAMES) {
    await t.step(name, () => {
      const got = apply(name, cases[name].map(([x]) => x));
      cases[name].forEach(([x, want], i) => {
        assert.ok(Object.is(got[i], want), `${name}(${x}) = ${got[i]}, expected ${want}`);
      });
    });
  }

  await t.step("exp: overflow and underflow thresholds match Math.exp rounded to float32", () => {
    // Every float32 input within 2^12 steps of where the result becomes +Inf, a denormal and 0.
    for (const edge of [88.7228394, -87.336544, -103.972084]) {
      const xs = around(edge, 1 << 13);
      const got = apply("exp", xs);
      for (let i = 0; i < xs.length; i++) {
        const want = reference("exp", xs[i]);
        assert.ok(
          (want === Infinity) === (got[i] === Infinity) && (want === 0) === (got[i] === 0),
          `exp(${xs[i]}) = ${got[i]}, expected ${want}`,
        );
        if (i > 0) assert.ok(got[i] >= got[i - 1], `exp not monotone at ${xs[i]}`);
      }
    }
    // Below -104 the result is 0 (not -0, not a denormal).
    const far = uniform(-1e4, -104, 1 << 12);
    for (const y of apply("exp", far)) assert.ok(Object.is(y, 0), `exp gave ${y} below -104`);
  });

  await t.step("exp and log are monotone, tanh is odd, on consecutive floats", () => {
    for (
      const [name, xs] of [
        ["exp", around(-100, 1 << 14)],
        ["exp", around(0, 1 << 14)],
        ["log", around(1, 1 << 14)],
        ["log", around(FLT_MIN, 1 << 14)],
      ] as [Name, Float32Array][]
    ) {
      const got = apply(name, xs);
      for (let i = 1; i < xs.length; i++) {
        assert.ok(got[i] >= got[i - 1], `${name} not monotone at ${xs[i]}`);
      }
    }
    const xs = randomBits(1 << 14, 4);
    const plus = apply("tanh", xs);
    const minus = apply("tanh", xs.map((x) => -x));
    for (let i = 0; i < xs.length; i++) {
      assert.ok(Object.is(minus[i], -plus[i]) || Number.isNaN(plus[i]), `tanh(-${xs[i]})`);
    }
  });
});

Deno.test("wasm math: at most 2 ulp from Math.* rounded to float32 over a dense sweep", async (t) => {
  for (const name of NAMES) {
    await t.step(name, () => {
      const report: string[] = [];
      let overall = 0;
      let count = 0;
      for (const [label, xs] of SWEEPS[name]) {
        const { steps, at, got } = maxError(name, xs);
        count += xs.length;
        overall = Math.max(overall, steps);
        report.push(
          `  ${label}: ${steps} ulp` +
            (steps > 0 ? ` (at x = ${at}: ${got}, want ${reference(name, at)})` : ""),
        );
      }
      const message = `${name}: max error ${overall} ulp over ${count} values\n${
        report.join("\n")
      }`;
      assert.ok(overall <= 2, message);
      assert.equal(count, SWEEP_SIZE);
    });
  }
});

Deno.test("wasm math: each lane's result depends only on its own value", async (t) => {
  const specials = [0, -0, NaN, Infinity, -Infinity, 1, -1, DENORM_MIN, FLT_MAX, -FLT_MAX, 1e-4];
  const xs = new Float32Array([
    ...specials,
    ...randomBits(1 << 14, 5),
    ...uniform(-120, 120, 4096),
  ]);
  for (const name of NAMES) {
    await t.step(name, () => {
      // Packed: x[i] sits in lane i % 4 next to unrelated values. Splat: all four lanes hold x[i].
      const packed = apply(name, xs);
      const splat = applySplat(name, xs);
      for (let i = 0; i < xs.length; i++) {
        for (let lane = 0; lane < 4; lane++) {
          assert.ok(
            Object.is(splat[4 * i + lane], packed[i]),
            `${name}(${xs[i]}): lane ${lane} of the splat gave ${splat[4 * i + lane]}, ` +
              `packed ${packed[i]}`,
          );
        }
      }
    });
  }
});

Deno.test("wasm math: property over random float32 bit patterns", async (t) => {
  for (const name of NAMES) {
    await t.step(name, () => {
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: -0x80000000, max: 0x7fffffff }), {
            minLength: 1,
            maxLength: 64,
          }),
          (bits) => {
            const xs = new Float32Array(new Int32Array(bits).buffer);
            const got = apply(name, xs);
            for (let i = 0; i < xs.length; i++) {
              const want = reference(name, xs[i]);
              const steps = ulpSteps(got[i], want);
              if (steps > 2) {
                throw new Error(`${name}(${xs[i]}) = ${got[i]}, want ${want}: ${steps} ulp`);
              }
            }
          },
        ),
        { numRuns: 500 },
      );
    });
  }
});
