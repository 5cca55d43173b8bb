/**
 * Float32 `exp`, `log` and `tanh` on the four lanes of an f32x4, emitted into a
 * {@link ModuleBuilder} as internal functions `(x: v128) -> v128`. They are branch-free SIMD (every
 * lane goes through the same instructions; special cases are masks and `v128.bitselect`), touch no
 * memory and call nothing, so a kernel can call them, or copy their pattern, inside its loops.
 *
 * All three follow the classic float32 recipe: reduce the argument exactly, approximate on the
 * small reduced interval with a polynomial, and rebuild the result with exact operations.
 *
 * - `exp`: `x = n ln2 + r` with `n = nearest(x log2 e)` and `|r| <= ln2 / 2`; `ln2` is split into
 *   a 9-bit head (so `n * head` and `x - n * head` are exact) and a tail. `e^r = 1 + r + r^2 P(r)`
 *   with `P` of degree 4, then `e^x = e^r 2^n`, with `2^n` built in the exponent bits as two
 *   factors `2^(n >> 1)` and `2^(n - (n >> 1))` so that `n` in [-152, 128] (from denormal results
 *   to overflow) needs no special case: overflow and gradual underflow come out of the final
 *   multiplication, rounded once. `x` is first clamped to [-105, 89], beyond which the result is
 *   0 or +Inf anyway, with `pmin(x, c)`/`pmax(x, c)`: with `x` first these return a NaN `x`
 *   unchanged, and on x64 they are one instruction where `f32x4.min`/`max` take about seven.
 * - `log`: denormals are scaled by 2^23; then `x = m 2^k` with `m` in [sqrt(1/2), sqrt(2)), found
 *   with integer operations on the bits, and `f = m - 1` (exact). `log(1 + f) = f + f^2 Q(f)` with
 *   `Q` of degree 8, and `log x = k ln2 + log(1 + f)`, summed smallest first with the same split
 *   of `ln2`. Zero, negative, infinite and NaN inputs are selected at the end.
 * - `tanh`: on `a = |x|`, `a + a^3 T(a^2)` with `T` of degree 6 for `a < 0.875` (relative
 *   accuracy down to denormals), else `1 - 2 / (e^(2a) + 1)` with `a` clamped to 10, past which the
 *   float32 result is 1; the sign of `x` is put back last, so `tanh(-0) = -0`.
 *
 * The polynomial coefficients are weighted minimax (Remez) fits for the relative error of the
 * final result, made for this file and rounded to float32. Measured against `Math.exp`, `Math.log`
 * and `Math.tanh` rounded to float32, the results are within 1 ulp, for every float32 input (an
 * exhaustive check, outside the test suite; `tests/backend/wasm_math_test.ts` samples 2^20 inputs
 * per function). Each takes about 4 to 8 ns per four lanes (exp 4.4, log 7.6, tanh 7.8 on a Zen 5
 * core, Deno 2.9.6), mostly arithmetic: calling them costs about the same as inlining them.
 *
 * @module
 */

import {
  type Func,
  type FunctionBuilder,
  type Local,
  ModuleBuilder,
  type Value,
} from "./assembler.ts";

/** The functions {@link emitMath} adds; each maps an f32x4 to an f32x4, lane by lane. */
export interface MathFuncs {
  /** `e^x`. */
  exp: Func;
  /** Natural logarithm. */
  log: Func;
  /** Hyperbolic tangent. */
  tanh: Func;
}

/** `ln 2 = LN2_HI + LN2_LO`, the head with 9 significant bits so that `n * LN2_HI` is exact. */
const LN2_HI = 0.693359375;
const LN2_LO = -2.12194440e-4;
const LOG2E = 1.44269504;

/** `e^r = 1 + r + r^2 P(r)` on |r| <= 0.3467 (relative error of the fit 3e-9). */
const EXP_P = [0.49999994, 0.16666521, 0.04166839, 0.008368735, 0.001381456];
/** `log(1 + f) = f + f^2 Q(f)` on [sqrt(1/2) - 1, sqrt(2) - 1] (relative error 4e-9). */
const LOG_Q = [
  -0.49999988,
  0.33333325,
  -0.25001583,
  0.20001973,
  -0.16609083,
  0.14181826,
  -0.13242988,
  0.12904434,
  -0.07621778,
];
/** `tanh(a) = a + a^3 T(a^2)` on a < 0.875 (relative error 7e-10). */
const TANH_T = [
  -0.33333325,
  0.13333066,
  -0.05393717,
  0.021696042,
  -0.008331941,
  0.0026510102,
  -0.00048241802,
];
/** Below this |x|, tanh uses its polynomial. */
const TANH_SMALL = 0.875;
/** tanh(x) rounds to 1 in float32 for x > 9.011; larger arguments are clamped to this. */
const TANH_CLAMP = 10;
/** `sqrt(1/2)` rounded down to float32: the bits where `m`'s range starts. */
const SQRT_HALF_BITS = 0x3f3504f3;

/** A float constant in all four lanes. */
function splat(b: FunctionBuilder, value: number): Value {
  return b.f32x4.const(value, value, value, value);
}

/** An integer constant in all four lanes. */
function isplat(b: FunctionBuilder, value: number): Value {
  return b.i32x4.const(value, value, value, value);
}

/** `c[0] + x (c[1] + x (c[2] + ...))`, by Horner's rule. */
function horner(b: FunctionBuilder, x: Local, c: readonly number[]): Value {
  let acc = splat(b, c[c.length - 1]);
  for (let i = c.length - 2; i >= 0; i--) acc = b.f32x4.add(b.f32x4.mul(acc, x), splat(b, c[i]));
  return acc;
}

/** `2^n` for integer lanes `n` in [-126, 127], through the exponent bits. */
function pow2(b: FunctionBuilder, n: Local | Value): Value {
  return b.i32x4.shl(b.i32x4.add(n, isplat(b, 127)), 23);
}

/**
 * `e^x` of a local. With `wide`, for any x (clamped, two-factor scaling); without it, only for
 * x in [-87, 88] (one factor), as tanh needs. Leaves the result on the stack.
 */
function emitExp(b: FunctionBuilder, x: Local, wide: boolean): Value {
  const xc = b.local("exp_x", "v128");
  const t = b.local("exp_t", "v128");
  const r = b.local("exp_r", "v128");
  const p = b.local("exp_p", "v128");
  const n = b.local("exp_n", "v128");
  // pmin(x, c) = c < x ? c : x and pmax(x, c) = x < c ? c : x return x itself when it is NaN (the
  // comparison is false), and are one instruction each on x64, where min/max take seven.
  if (wide) b.set(xc, b.f32x4.pmax(b.f32x4.pmin(x, splat(b, 89)), splat(b, -105)));
  else b.set(xc, x);
  b.set(t, b.f32x4.nearest(b.f32x4.mul(xc, splat(b, LOG2E))));
  // x - t LN2_HI is exact (t has at most 8 bits, and the difference is small); the tail's
  // rounding error is far below the result's ulp.
  b.set(
    r,
    b.f32x4.sub(
      b.f32x4.sub(xc, b.f32x4.mul(t, splat(b, LN2_HI))),
      b.f32x4.mul(t, splat(b, LN2_LO)),
    ),
  );
  // e^r = (r^2 P(r) + r) + 1.
  b.set(p, b.f32x4.mul(b.f32x4.mul(r, r), horner(b, r, EXP_P)));
  b.set(p, b.f32x4.add(b.f32x4.add(p, r), splat(b, 1)));
  b.set(n, b.i32x4.trunc_sat_f32x4_s(t));
  if (!wide) return b.f32x4.mul(p, pow2(b, n));
  // 2^n = 2^h 2^(n - h) with h = n >> 1: both factors are normal for n in [-152, 128], the first
  // product is exact and the second rounds once, to +Inf or to a denormal as the case may be.
  const h = b.local("exp_h", "v128");
  b.set(h, b.i32x4.shr_s(n, 1));
  return b.f32x4.mul(b.f32x4.mul(p, pow2(b, h)), pow2(b, b.i32x4.sub(n, h)));
}

/** Natural log of a local, with IEEE special values. Leaves the result on the stack. */
function emitLog(b: FunctionBuilder, x: Local): Value {
  const den = b.local("log_den", "v128");
  const xs = b.local("log_xs", "v128");
  const k = b.local("log_k", "v128");
  const f = b.local("log_f", "v128");
  const e = b.local("log_e", "v128");
  const y = b.local("log_y", "v128");
  // Denormals (and zero and negatives, whose lanes are replaced at the end) times 2^23.
  b.set(den, b.i32x4.lt_s(x, isplat(b, 0x00800000)));
  b.set(xs, b.v128.bitselect(b.f32x4.mul(x, splat(b, 2 ** 23)), x, den));
  // k = floor(log2(xs / sqrt(1/2))) from the bits; m = xs 2^-k lies in [sqrt(1/2), sqrt(2)).
  b.set(k, b.i32x4.shr_s(b.i32x4.sub(xs, isplat(b, SQRT_HALF_BITS)), 23));
  b.set(f, b.f32x4.sub(b.i32x4.sub(xs, b.i32x4.shl(k, 23)), splat(b, 1)));
  b.set(e, b.f32x4.convert_i32x4_s(b.i32x4.sub(k, b.v128.and(den, isplat(b, 23)))));
  // log(1 + f) - f = f^2 Q(f).
  b.set(y, b.f32x4.mul(b.f32x4.mul(f, f), horner(b, f, LOG_Q)));
  // e LN2_LO + y + f + e LN2_HI, smallest first; e LN2_HI is exact.
  b.set(
    y,
    b.f32x4.add(
      b.f32x4.add(b.f32x4.add(b.f32x4.mul(e, splat(b, LN2_LO)), y), f),
      b.f32x4.mul(e, splat(b, LN2_HI)),
    ),
  );
  // Negative and NaN: NaN; +Inf: +Inf; ±0: -Inf.
  b.set(y, b.v128.bitselect(splat(b, NaN), y, b.v128.not(b.f32x4.ge(x, splat(b, 0)))));
  b.set(y, b.v128.bitselect(splat(b, Infinity), y, b.f32x4.eq(x, splat(b, Infinity))));
  return b.v128.bitselect(splat(b, -Infinity), y, b.f32x4.eq(x, splat(b, 0)));
}

/** tanh of a local. Leaves the result on the stack. */
function emitTanh(b: FunctionBuilder, x: Local): Value {
  const a = b.local("tanh_a", "v128");
  const z = b.local("tanh_z", "v128");
  const small = b.local("tanh_small", "v128");
  const twice = b.local("tanh_2a", "v128");
  b.set(a, b.f32x4.abs(x));
  // a + a^3 T(a^2), for a < TANH_SMALL.
  b.set(z, b.f32x4.mul(a, a));
  b.set(small, b.f32x4.add(a, b.f32x4.mul(a, b.f32x4.mul(z, horner(b, z, TANH_T)))));
  // 1 - 2 / (e^(2a) + 1), otherwise (a NaN `a` stays NaN through pmin(a, c)).
  b.set(twice, b.f32x4.mul(b.f32x4.pmin(a, splat(b, TANH_CLAMP)), splat(b, 2)));
  const large = b.f32x4.sub(
    splat(b, 1),
    b.f32x4.div(splat(b, 2), b.f32x4.add(emitExp(b, twice, false), splat(b, 1))),
  );
  const magnitude = b.v128.bitselect(small, large, b.f32x4.lt(a, splat(b, TANH_SMALL)));
  // The sign of x, also for -0 and NaN.
  return b.v128.or(magnitude, b.v128.and(x, isplat(b, 0x80000000)));
}

/**
 * Adds `math_exp`, `math_log` and `math_tanh` to `mod` (not exported), each taking and returning
 * a v128 of four float32, and returns them for `b.call`.
 */
export function emitMath(mod: ModuleBuilder): MathFuncs {
  const params = { x: "v128" } as const;
  const results: ["v128"] = ["v128"];
  return {
    exp: mod.func({ name: "math_exp", params, results }, (b, { x }) => emitExp(b, x, true)),
    log: mod.func({ name: "math_log", params, results }, (b, { x }) => emitLog(b, x)),
    tanh: mod.func({ name: "math_tanh", params, results }, (b, { x }) => emitTanh(b, x)),
  };
}

/**
 * A module for tests and benchmarks: it imports a shared `env.memory` (any size) and exports, for
 * each `f` of exp, log and tanh,
 *
 * - `f4(ptr, n)`: applies `f` in place to the `n` floats at byte address `ptr` (n a multiple of
 *   4), four at a time;
 * - `f_splat(src, dst, n)`: for each of the `n` floats at `src`, applies `f` to a vector holding
 *   it in all four lanes and stores the four results at `dst + 16 i`.
 */
export function mathTestModule(): ModuleBuilder {
  const mod = new ModuleBuilder();
  mod.importMemory({ initial: 1, maximum: 65536, shared: true });
  const funcs = emitMath(mod);
  for (const [name, func] of Object.entries(funcs)) {
    const params = { ptr: "i32", n: "i32" } as const;
    mod.func({ name: `${name}4`, params, export: true }, (b, { ptr, n }) => {
      const i = b.local("i", "i32");
      const at = b.local("at", "i32");
      b.for(i, 0, n, 4, () => {
        b.set(at, b.i32.add(ptr, b.i32.shl(i, 2)));
        b.v128.store(at, b.call(func, b.v128.load(at))!);
      });
    });
    const splatParams = { src: "i32", dst: "i32", n: "i32" } as const;
    mod.func({ name: `${name}_splat`, params: splatParams, export: true }, (b, { src, dst, n }) => {
      const i = b.local("i", "i32");
      b.for(i, 0, n, 1, () => {
        b.v128.store(
          b.i32.add(dst, b.i32.shl(i, 4)),
          b.call(func, b.v128.load32_splat(b.i32.add(src, b.i32.shl(i, 2))))!,
        );
      });
    });
  }
  return mod;
}
