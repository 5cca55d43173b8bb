/**
 * Every primitive op (and the composites built from them): a hand-checkable forward case on every
 * backend, the gradient against float64 finite differences, and WebGPU / CPU float32 against the
 * float64 CPU reference, on random shapes (dims 1, 7, 33, 257 among them) with broadcasting.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import * as ops from "../../src/graph/ops.ts";
import * as fns from "../../src/graph/functions.ts";
import * as conv from "../../src/graph/conv.ts";
import * as windows from "../../src/graph/windows.ts";
import { resizeImages } from "../../src/graph/resize.ts";
import { concat, slice } from "../../src/graph/slices.ts";
import { clip, hardSigmoid, hardSwish } from "../../src/graph/activations.ts";
import { opNames } from "../../src/graph/ops.ts";
import { type Shape, sizeOf, type Tensor } from "../../src/graph/tensor.ts";
import { Graph } from "../../src/graph/tensor.ts";
import { assertGradcheck, type CheckInput, crossCheck } from "../../src/check/gradcheck.ts";
import { Random } from "../../src/util/random.ts";
import { assertClose, gpuTestOptions, openAllBackends } from "../helpers/backends.ts";

type Values = (rng: Random, size: number, shape: Shape) => number[];

/** Values that keep away from kinks (0) so finite differences are smooth. */
const awayFromZero: Values = (rng, n) =>
  Array.from({ length: n }, () => (rng.next() < 0.5 ? -1 : 1) * (0.1 + rng.next() * 1.5));
const normal: Values = (rng, n) => Array.from({ length: n }, () => rng.normal());
const positive: Values = (rng, n) => Array.from({ length: n }, () => 0.3 + rng.next() * 2);
/** Distinct values on a 0.1 grid with small jitter: no ties, no near-ties. */
const distinct: Values = (rng, n) => {
  const grid = rng.shuffle(Array.from({ length: n }, (_, i) => (i - n / 2) * 0.1));
  return grid.map((v) => v + rng.next() * 0.01);
};
/** Odd / even grid points: two inputs drawn with these never come within 0.05 of each other. */
const oddGrid: Values = (rng, n) =>
  Array.from({ length: n }, () => (2 * rng.int(40) - 39) * 0.1 + rng.next() * 0.02);
const evenGrid: Values = (rng, n) =>
  Array.from({ length: n }, () => (2 * rng.int(40) - 40) * 0.1 + rng.next() * 0.02);
/** Values in [-5, 5] at least 0.1 from each of `kinks` (where a piecewise function bends). */
const awayFrom = (kinks: number[]): Values => (rng, n) =>
  Array.from({ length: n }, () => {
    for (;;) {
      const v = rng.next() * 10 - 5;
      if (kinks.every((k) => Math.abs(v - k) > 0.1)) return v;
    }
  });
const zeroOne: Values = (rng, n) => Array.from({ length: n }, () => (rng.next() < 0.5 ? 0 : 1));

/** A random shape of the given rank with dims from {1, 2, 7, 33, 257}, at most `cap` elements. */
function randomShape(rng: Random, rank: number, cap = 4000): number[] {
  const dims = [1, 2, 7, 33, 257];
  for (;;) {
    const shape = Array.from({ length: rank }, () => dims[rng.int(dims.length)]);
    if (sizeOf(shape) <= cap) return shape;
  }
}

/** A shape that broadcasts to `out`: itself, some dims set to 1, a suffix, or a scalar. */
function broadcastable(rng: Random, out: Shape): number[] {
  switch (rng.int(4)) {
    case 0:
      return [...out];
    case 1:
      return out.map((d) => (rng.next() < 0.5 ? 1 : d));
    case 2:
      return out.slice(rng.int(out.length + 1));
    default:
      return [];
  }
}

interface OpCase {
  /** The op's name (for primitives, the registry name it covers). */
  name: string;
  build: (xs: Tensor[]) => Tensor;
  /** A forward case small enough to check by hand. */
  hand: { shapes: Shape[]; data: number[][]; expected: number[]; ints?: boolean[] };
  /** Random shapes of the inputs. */
  shapes: (rng: Random) => Shape[];
  /** Values per input. */
  values: Values[];
  /** int32 inputs (indices), by position; their values come from `indexValues`. */
  ints?: boolean[];
  indexValues?: (rng: Random, shapes: Shape[]) => number[];
  /** Skip the finite-difference check (ops with no gradient). */
  noGrad?: boolean;
  /** Tolerance of the float32 backends against float64. */
  rtol?: number;
}

const unaryShapes = (rng: Random) => [randomShape(rng, 1 + rng.int(3))];
function binaryShapes(rng: Random): Shape[] {
  const out = randomShape(rng, 1 + rng.int(3));
  const a = broadcastable(rng, out);
  const b = rng.next() < 0.5 ? [...out] : broadcastable(rng, out);
  return rng.next() < 0.5 ? [a, b] : [b, a];
}

function unaryCase(
  name: string,
  f: (x: Tensor) => Tensor,
  input: number[],
  expected: number[],
  values: Values,
  noGrad = false,
): OpCase {
  return {
    name,
    build: ([x]) => f(x),
    hand: { shapes: [[input.length]], data: [input], expected },
    shapes: unaryShapes,
    values: [values],
    noGrad,
  };
}

function binaryCase(
  name: string,
  f: (a: Tensor, b: Tensor) => Tensor,
  expected: number[],
  values: [Values, Values],
  noGrad = false,
): OpCase {
  // [2,3] (op) [3]: exercises broadcasting in the hand case too.
  return {
    name,
    build: ([a, b]) => f(a, b),
    hand: { shapes: [[2, 3], [3]], data: [[1, -2, 3, 0.5, 4, -1], [2, -2, 0.5]], expected },
    shapes: binaryShapes,
    values,
    noGrad,
  };
}

const E = Math.E;
const cases: OpCase[] = [
  unaryCase("neg", ops.neg, [1, -2, 0], [-1, 2, -0], normal),
  unaryCase("exp", ops.exp, [0, 1, -1], [1, E, 1 / E], normal),
  unaryCase("log", ops.log, [1, E, 0.5], [0, 1, Math.log(0.5)], positive),
  unaryCase("sqrt", ops.sqrt, [4, 9, 2], [2, 3, Math.SQRT2], positive),
  unaryCase("square", ops.square, [3, -2, 0.5], [9, 4, 0.25], normal),
  unaryCase("relu", ops.relu, [-1, 0.5, 2], [0, 0.5, 2], awayFromZero),
  unaryCase("step", ops.step, [-1, 0.5, 0], [0, 1, 0], awayFromZero, true),
  unaryCase("abs", ops.abs, [-1.5, 2, -0.25], [1.5, 2, 0.25], awayFromZero),
  unaryCase("sign", ops.sign, [-3, 2, 0], [-1, 1, 0], awayFromZero, true),
  unaryCase(
    "isFinite",
    ops.isFinite,
    [1, Infinity, NaN, -Infinity, -3e38],
    [1, 0, 0, 0, 1],
    normal,
    true,
  ),
  unaryCase("tanh", ops.tanh, [0, 1, -30], [0, Math.tanh(1), -1], normal),
  unaryCase(
    "sigmoid",
    ops.sigmoid,
    [0, 2, -2],
    [0.5, 1 / (1 + Math.exp(-2)), 1 / (1 + E * E)],
    normal,
  ),
  binaryCase("add", ops.add, [3, -4, 3.5, 2.5, 2, -0.5], [normal, normal]),
  binaryCase("sub", ops.sub, [-1, 0, 2.5, -1.5, 6, -1.5], [normal, normal]),
  binaryCase("mul", ops.mul, [2, 4, 1.5, 1, -8, -0.5], [normal, normal]),
  binaryCase("div", ops.div, [0.5, 1, 6, 0.25, -2, -2], [normal, awayFromZero]),
  binaryCase("maximum", ops.maximum, [2, -2, 3, 2, 4, 0.5], [oddGrid, evenGrid]),
  binaryCase("minimum", ops.minimum, [1, -2, 0.5, 0.5, -2, -1], [oddGrid, evenGrid]),
  binaryCase("greater", ops.greater, [0, 0, 1, 0, 1, 0], [oddGrid, evenGrid], true),
  binaryCase("greaterEqual", ops.greaterEqual, [0, 1, 1, 0, 1, 0], [oddGrid, evenGrid], true),
  binaryCase("equal", ops.equal, [0, 1, 0, 0, 0, 0], [zeroOne, zeroOne], true),
  {
    name: "where",
    build: ([c, a, b]) => ops.where(c, a, b),
    hand: {
      shapes: [[2, 1], [2, 2], [2]],
      data: [[1, 0], [1, 2, 3, 4], [-1, -2]],
      expected: [1, 2, -1, -2],
    },
    shapes: (rng) => {
      const out = randomShape(rng, 1 + rng.int(3));
      return [broadcastable(rng, out), [...out], broadcastable(rng, out)];
    },
    values: [zeroOne, normal, normal],
  },
  {
    name: "broadcastTo",
    build: ([x]) => ops.broadcastTo(x, [2, 2, 3]),
    hand: {
      shapes: [[2, 1, 3]],
      data: [[1, 2, 3, 4, 5, 6]],
      expected: [1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6],
    },
    shapes: () => [[2, 1, 3]],
    values: [normal],
  },
  {
    name: "broadcastTo (random)",
    build: ([x]) => ops.broadcastTo(x, [7, 33, 2]),
    hand: { shapes: [[1]], data: [[5]], expected: new Array(7 * 33 * 2).fill(5) },
    shapes: (rng) => [broadcastable(rng, [7, 33, 2])],
    values: [normal],
  },
  {
    name: "transpose",
    build: ([x]) => ops.transpose(x),
    hand: { shapes: [[2, 3]], data: [[1, 2, 3, 4, 5, 6]], expected: [1, 4, 2, 5, 3, 6] },
    shapes: (rng) => [randomShape(rng, 2)],
    values: [normal],
  },
  {
    name: "transpose (rank 3)",
    build: ([x]) => ops.transpose(x, [1, 2, 0]),
    hand: {
      shapes: [[2, 2, 2]],
      data: [[0, 1, 2, 3, 4, 5, 6, 7]],
      expected: [0, 4, 1, 5, 2, 6, 3, 7],
    },
    shapes: (rng) => [randomShape(rng, 3)],
    values: [normal],
  },
  {
    name: "reshape",
    build: ([x]) => ops.mul(ops.reshape(x, [-1]), 2),
    hand: { shapes: [[2, 2]], data: [[1, 2, 3, 4]], expected: [2, 4, 6, 8] },
    shapes: unaryShapes,
    values: [normal],
  },
  ...[0, 1, -1].flatMap((axis) =>
    [false, true].map((keepDims): OpCase => ({
      name: `sum (axis ${axis}${keepDims ? ", keepDims" : ""})`,
      build: ([x]) => ops.sum(x, axis, keepDims),
      hand: {
        shapes: [[2, 3]],
        data: [[1, 2, 3, 4, 5, 6]],
        expected: axis === 0 ? [5, 7, 9] : [6, 15],
      },
      shapes: (rng) => [randomShape(rng, 2 + rng.int(2))],
      values: [normal],
    }))
  ),
  ...[0, 1].map((axis): OpCase => ({
    name: `max (axis ${axis})`,
    build: ([x]) => ops.max(x, axis),
    hand: {
      shapes: [[2, 3]],
      data: [[1, 5, 3, 4, -2, 6]],
      expected: axis === 0 ? [4, 5, 6] : [5, 6],
    },
    shapes: (rng) => [randomShape(rng, 2 + rng.int(2))],
    values: [distinct],
  })),
  {
    name: "max (long axis)",
    build: ([x]) => ops.max(x, 0),
    hand: { shapes: [[3]], data: [[1, 7, 3]], expected: [7] },
    shapes: () => [[3000]],
    values: [distinct],
  },
  {
    name: "sum (long axis)",
    build: ([x]) => ops.sum(x, 1),
    hand: { shapes: [[1, 4]], data: [[1, 2, 3, 4]], expected: [10] },
    shapes: () => [[3, 1500]],
    values: [normal],
    rtol: 1e-3,
  },
  ...[[false, false], [true, false], [false, true], [true, true]].map(([tA, tB]): OpCase => ({
    name: `matmul (${tA ? "Aᵀ" : "A"} ${tB ? "Bᵀ" : "B"})`,
    build: ([a, b]) => ops.matmul(a, b, tA, tB),
    hand: {
      // A = [[1,2],[3,4]], B = [[5,6],[7,8]] stored so that op(A) op(B) is always A B.
      shapes: [[2, 2], [2, 2]],
      data: [tA ? [1, 3, 2, 4] : [1, 2, 3, 4], tB ? [5, 7, 6, 8] : [5, 6, 7, 8]],
      expected: [19, 22, 43, 50],
    },
    shapes: (rng) => {
      const pick = () => [1, 7, 33][rng.int(3)];
      const [m, k, n] = [pick(), pick(), pick()];
      const big = rng.int(4); // one dimension sometimes 257
      const dims = [m, k, n].map((d, i) => (i === big ? 257 : d));
      const [mm, kk, nn] = dims;
      return [tA ? [kk, mm] : [mm, kk], tB ? [nn, kk] : [kk, nn]];
    },
    values: [normal, normal],
    rtol: 1e-4,
  })),
  {
    name: "gather",
    build: ([x, i]) => ops.gather(x, i),
    hand: {
      shapes: [[3, 2], [4]],
      data: [[1, 2, 3, 4, 5, 6], [2, 0, 2, 1]],
      expected: [5, 6, 1, 2, 5, 6, 3, 4],
      ints: [false, true],
    },
    shapes: (rng) => [randomShape(rng, 1 + rng.int(2)), [[1, 7, 33, 257][rng.int(4)]]],
    values: [normal, normal],
    ints: [false, true],
    indexValues: (rng, [x, i]) => Array.from({ length: i[0] }, () => rng.int(x[0])),
  },
  {
    name: "segmentSum",
    build: ([x, s]) => ops.segmentSum(x, s, 3),
    hand: {
      shapes: [[4, 2], [4]],
      data: [[1, 2, 3, 4, 5, 6, 7, 8], [2, 0, 2, 1]],
      expected: [3, 4, 7, 8, 6, 8],
      ints: [false, true],
    },
    shapes: (rng) => {
      const x = randomShape(rng, 1 + rng.int(2));
      return [x, [x[0]]];
    },
    values: [normal, normal],
    ints: [false, true],
    indexValues: (rng, [, s]) => Array.from({ length: s[0] }, () => rng.int(3)),
  },
  {
    name: "oneHot",
    build: ([i]) => ops.oneHot(i, 4),
    hand: {
      shapes: [[3]],
      data: [[2, 0, 5]], // 5 is outside [0, 4): a row of zeros
      expected: [0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0],
      ints: [true],
    },
    shapes: (rng) => [[[1, 7, 33, 257][rng.int(4)]]],
    values: [normal],
    ints: [true],
    indexValues: (rng, [i]) => Array.from({ length: i[0] }, () => rng.int(5) - 1),
    noGrad: true,
  },
  ...([[3, 1, "same"], [2, 2, "valid"], [3, 2, "same"], [1, 1, "valid"]] as const).map((
    [k, stride, padding],
  ): OpCase => ({
    name: `patches (${k}x${k}, stride ${stride}, ${padding})`,
    build: ([x]) =>
      ops.patches(x, ops.patchGeometry(x.shape[1], x.shape[2], k, k, stride, padding)),
    // Hand case (whatever the variant's own geometry): 2x2 windows of a 3x3 image, stride 1.
    hand: {
      shapes: [[1, 3, 3, 1]],
      data: [[1, 2, 3, 4, 5, 6, 7, 8, 9]],
      expected: k === 2 && stride === 2
        ? [1, 2, 4, 5]
        : k === 1
        ? [1, 2, 3, 4, 5, 6, 7, 8, 9]
        : k === 3 && stride === 1
        ? [
          0,
          0,
          0,
          0,
          1,
          2,
          0,
          4,
          5,
          0,
          0,
          0,
          1,
          2,
          3,
          4,
          5,
          6,
          0,
          0,
          0,
          2,
          3,
          0,
          5,
          6,
          0,
          0,
          1,
          2,
          0,
          4,
          5,
          0,
          7,
          8,
          1,
          2,
          3,
          4,
          5,
          6,
          7,
          8,
          9,
          2,
          3,
          0,
          5,
          6,
          0,
          8,
          9,
          0,
          0,
          4,
          5,
          0,
          7,
          8,
          0,
          0,
          0,
          4,
          5,
          6,
          7,
          8,
          9,
          0,
          0,
          0,
          5,
          6,
          0,
          8,
          9,
          0,
          0,
          0,
          0,
        ]
        : [
          0,
          0,
          0,
          0,
          1,
          2,
          0,
          4,
          5,
          0,
          0,
          0,
          2,
          3,
          0,
          5,
          6,
          0,
          0,
          4,
          5,
          0,
          7,
          8,
          0,
          0,
          0,
          5,
          6,
          0,
          8,
          9,
          0,
          0,
          0,
          0,
        ],
    },
    shapes: (
      rng,
    ) => [[1 + rng.int(2), [3, 5, 7][rng.int(3)], [3, 4, 6][rng.int(3)], [1, 3][rng.int(2)]]],
    values: [normal],
  })),
  {
    name: "unpatches",
    // Every window entry of a 3x3 image's 2x2 windows counts back onto its pixel.
    build: ([cols]) => ops.unpatches(cols, ops.patchGeometry(3, 3, 2, 2, 1, "valid"), 1, 1),
    hand: {
      shapes: [[4, 4]],
      data: [new Array(16).fill(1)],
      expected: [1, 2, 1, 2, 4, 2, 1, 2, 1],
    },
    shapes: () => [[4, 4]],
    values: [normal],
  },
  {
    name: "unpatches (3x3 same stride 2 over [2,5,6,3])",
    build: ([cols]) => ops.unpatches(cols, ops.patchGeometry(5, 6, 3, 3, 2, "same"), 2, 3),
    hand: {
      shapes: [[2 * 3 * 3, 27]],
      data: [new Array(18 * 27).fill(0)],
      expected: new Array(180).fill(0),
    },
    shapes: () => [[2 * 3 * 3, 27]],
    values: [normal],
  },
  {
    name: "takeAlongRows",
    build: ([x, idx]) => ops.takeAlongRows(x, idx),
    hand: {
      shapes: [[2, 3], [2, 2]],
      data: [[1, 2, 3, 4, 5, 6], [2, 2, 0, 1]],
      expected: [3, 3, 4, 5],
      ints: [false, true],
    },
    shapes: (rng) => {
      const rows = 1 + rng.int(4);
      return [[rows, [1, 7, 33][rng.int(3)]], [rows, 1 + rng.int(5)]];
    },
    values: [normal, normal],
    ints: [false, true],
    // Columns may repeat: their gradients add up.
    indexValues: (rng, [x, i]) => Array.from({ length: i[0] * i[1] }, () => rng.int(x[1])),
  },
  {
    name: "conv2d (composite: patches x kernel + bias)",
    build: ([x, k, b]) => conv.conv2d(x, k, b, { stride: 1, padding: "same" }),
    hand: {
      // One channel in, one out, kernel of ones: sums of 3x3 neighbourhoods, plus 1.
      shapes: [[1, 3, 3, 1], [3, 3, 1, 1], [1]],
      data: [[1, 2, 3, 4, 5, 6, 7, 8, 9], new Array(9).fill(1), [1]],
      expected: [13, 22, 17, 28, 46, 34, 25, 40, 29],
    },
    shapes: () => [[2, 6, 5, 3], [3, 3, 3, 4], [4]],
    values: [normal, normal, normal],
  },
  {
    name: "maxPool2d / avgPool2d / globalAvgPool (composites)",
    build: ([x]) =>
      ops.add(
        ops.reshape(conv.maxPool2d(x, 2), [-1]),
        ops.mul(ops.reshape(conv.avgPool2d(x, 2), [-1]), 0.5),
      ),
    hand: {
      shapes: [[1, 2, 2, 1]],
      data: [[1, 5, 3, 2]],
      expected: [5 + 0.5 * 2.75],
    },
    shapes: () => [[2, 4, 6, 3]],
    values: [distinct],
  },
  {
    name: "globalAvgPool (composite)",
    build: ([x]) => conv.globalAvgPool(x),
    hand: { shapes: [[1, 2, 1, 2]], data: [[1, 10, 3, 20]], expected: [2, 15] },
    shapes: () => [[3, 4, 5, 2]],
    values: [normal],
  },
  {
    name: "convolution (grouped, dilated, strides 2x1, asymmetric pads; composite)",
    build: ([x, k, b]) =>
      windows.convolution(x, k, b, {
        groups: 2,
        dilations: [2, 1],
        strides: [2, 1],
        pads: [0, 1, 2, 0],
      }),
    // Hand: 1x1 kernel over one pixel of 4 channels in 2 groups of 2: out0 = x0 k00 + x1 k10,
    // out1 = x2 k01 + x3 k11 (kernel [1, 1, 2 per group, 2 out], row-major (c, o)).
    hand: {
      shapes: [[1, 1, 1, 4], [1, 1, 2, 2], [2]],
      data: [[1, 2, 3, 4], [1, 10, 100, 1000], [0, 0.5]],
      expected: [0, 0.5, 201, 4030.5, 0, 0.5, 0, 0.5],
    },
    shapes: () => [[2, 6, 5, 4], [3, 2, 2, 6], [6]],
    values: [normal, normal, normal],
  },
  {
    name: "convolution (depthwise, multiplier 2, stride 2, bottom/right pads; composite)",
    build: ([x, k]) =>
      windows.convolution(x, k, null, { groups: 3, strides: [2, 2], pads: [0, 0, 1, 1] }),
    // Hand: one pixel of channels [1, 2, 3], a 1x1 kernel with two outputs per channel.
    hand: {
      shapes: [[1, 1, 1, 3], [1, 1, 1, 6]],
      data: [[1, 2, 3], [1, 2, 3, 4, 5, 6]],
      expected: [1, 2, 6, 8, 15, 18],
    },
    shapes: () => [[2, 7, 6, 3], [3, 3, 1, 6]],
    values: [normal, normal],
  },
  {
    name: "maxPool (padding reads below every value, ceil mode; composite)",
    build: ([x]) =>
      windows.maxPool(x, 2, 2, { pads: [1, 1, 0, 0], ceilMode: true, strides: [1, 1] }),
    hand: { shapes: [[1, 2, 2, 1]], data: [[-4, -1, -3, -2]], expected: [-4, -1, -3, -1] },
    shapes: () => [[2, 5, 6, 3]],
    values: [distinct],
  },
  {
    name: "maxPool (3x3 stride 2 pad 1, dilation 2; composite)",
    build: ([x]) =>
      windows.maxPool(x, 3, 3, { pads: [1, 1, 1, 1], strides: [2, 2], dilations: [2, 1] }),
    hand: {
      shapes: [[1, 3, 3, 1]],
      data: [[1, 2, 3, 4, 5, 6, 7, 8, 9]],
      // Window rows oy*2 - 1 + {0, 2, 4}, columns ox*2 - 1 + {0, 1, 2}.
      expected: [5, 6],
    },
    shapes: () => [[2, 6, 5, 2]],
    values: [distinct],
  },
  ...[false, true].map((include): OpCase => ({
    name: `avgPool (padding ${include ? "counted" : "not counted"}, ceil mode; composite)`,
    build: ([x]) =>
      windows.avgPool(x, 2, 2, {
        pads: [1, 1, 0, 0],
        ceilMode: true,
        strides: [1, 1],
        countIncludePad: include,
      }),
    hand: {
      shapes: [[1, 2, 2, 1]],
      data: [[-4, -1, -3, -2]],
      expected: include ? [-1, -1.25, -1.75, -2.5] : [-4, -2.5, -3.5, -2.5],
    },
    shapes: () => [[2, 5, 6, 3]],
    values: [normal],
  })),
  {
    name: "resizeImages (composite)",
    build: ([x]) => resizeImages(x, x.shape[1] === 1 ? 1 : 7, 4),
    hand: { shapes: [[1, 1, 2, 1]], data: [[0, 4]], expected: [0, 1, 3, 4] },
    shapes: () => [[2, 5, 9, 3]],
    values: [normal],
  },
  {
    name: "slice / concat (composites)",
    build: ([x]) => concat([slice(x, 1, 0, x.shape[1], 2), x], 1),
    hand: {
      shapes: [[2, 3]],
      data: [[1, 2, 3, 4, 5, 6]],
      expected: [1, 3, 1, 2, 3, 4, 6, 4, 5, 6],
    },
    shapes: (rng) => [randomShape(rng, 2 + rng.int(2))],
    values: [normal],
  },
  {
    name: "clip (composite)",
    build: ([x]) => clip(x, -1, 2),
    hand: { shapes: [[3]], data: [[-5, 0.5, 4]], expected: [-1, 0.5, 2] },
    shapes: unaryShapes,
    values: [awayFrom([-1, 2])],
  },
  {
    name: "hardSigmoid (composite)",
    build: ([x]) => hardSigmoid(x),
    hand: { shapes: [[3]], data: [[-5, 0.5, 4]], expected: [0, 0.6, 1] },
    shapes: unaryShapes,
    values: [awayFrom([-2.5, 2.5])],
  },
  {
    name: "hardSwish (composite)",
    build: ([x]) => hardSwish(x),
    hand: { shapes: [[3]], data: [[-5, 0.5, 4]], expected: [0, 0.5 * (0.5 / 6 + 0.5), 4] },
    shapes: unaryShapes,
    values: [awayFrom([-3, 3])],
  },
  // Composites: no kernels of their own, but their gradients and numerics are checked all the same.
  {
    name: "logSumExp",
    build: ([x]) => fns.logSumExp(x, -1),
    hand: {
      shapes: [[2, 2]],
      data: [[0, 0, 1000, 1000]],
      expected: [Math.LN2, 1000 + Math.LN2],
    },
    shapes: (rng) => [randomShape(rng, 2)],
    values: [normal],
  },
  {
    name: "maskedLogSumExp",
    build: ([x, m]) => fns.maskedLogSumExp(x, m, 1),
    hand: {
      shapes: [[2, 3], [2, 3]],
      data: [[1, 2, 3, -50, -60, 7], [1, 0, 1, 1, 1, 0]],
      expected: [Math.log(Math.exp(1) + Math.exp(3)), -50 + Math.log(1 + Math.exp(-10))],
    },
    shapes: (rng) => {
      const s = randomShape(rng, 2);
      return [s, s];
    },
    // Every row keeps its first entry: an empty row has no log-sum.
    values: [
      normal,
      (rng, n, shape) =>
        Array.from({ length: n }, (_, i) => (i % shape[1] === 0 || rng.next() < 0.5 ? 1 : 0)),
    ],
  },
  {
    name: "segmentMean",
    build: ([x, s]) => fns.segmentMean(x, s, 3),
    hand: {
      shapes: [[4, 2], [4]],
      data: [[1, 2, 3, 4, 5, 6, 7, 8], [2, 0, 2, 0]],
      expected: [5, 6, 0, 0, 3, 4],
      ints: [false, true],
    },
    shapes: () => [[7, 33], [7]],
    values: [normal, normal],
    ints: [false, true],
    indexValues: (rng, [, s]) => Array.from({ length: s[0] }, () => rng.int(3)),
  },
  {
    name: "squaredDistances",
    build: ([a, b]) => fns.squaredDistances(a, b),
    hand: {
      shapes: [[2, 2], [1, 2]],
      data: [[0, 0, 3, 4], [0, 1]],
      expected: [1, 18],
    },
    shapes: (rng) => {
      const d = [1, 7, 33][rng.int(3)];
      return [[[1, 7, 33][rng.int(3)], d], [[1, 7, 33][rng.int(3)], d]];
    },
    values: [normal, normal],
    rtol: 1e-3,
  },
  {
    name: "squaredDistancesExact",
    build: ([a, b]) => fns.squaredDistancesExact(a, b),
    hand: {
      shapes: [[2, 2], [1, 2]],
      data: [[0, 0, 3, 4], [0, 1]],
      expected: [1, 18],
    },
    shapes: (rng) => {
      const d = [1, 7, 33][rng.int(3)];
      return [[[1, 7, 33][rng.int(3)], d], [[1, 7, 33][rng.int(3)], d]];
    },
    values: [normal, normal],
  },
  {
    name: "mean / min",
    build: ([x]) => ops.add(fns.mean(x), fns.min(x, 0)),
    hand: { shapes: [[2, 2]], data: [[1, 2, 3, 6]], expected: [3 + 1, 3 + 2] },
    shapes: (rng) => [randomShape(rng, 2)],
    values: [distinct],
  },
];

function feedsFor(c: OpCase, shapes: Shape[], data: number[][]): CheckInput[] {
  return shapes.map((shape, j) => ({
    name: `x${j}`,
    shape,
    data: data[j],
    dtype: (c.ints ?? [])[j] ? "int32" : "float",
  }));
}

function randomInputs(c: OpCase, rng: Random): CheckInput[] {
  const shapes = c.shapes(rng);
  const data = shapes.map((s, j) =>
    (c.ints ?? [])[j] ? c.indexValues!(rng, shapes) : c.values[j](rng, sizeOf(s), s)
  );
  return feedsFor(c, shapes, data);
}

function buildFrom(c: OpCase) {
  return (inputs: Readonly<Record<string, Tensor>>) =>
    c.build(Object.keys(inputs).sort().map((k) => inputs[k]));
}

Deno.test("a computation added twice is one node; sources are never merged", () => {
  const g = new Graph();
  const x = g.input("x", [3, 2]);
  const m = ops.div(ops.sum(x, 0, true), 3);
  assert.equal(ops.sub(x, m), ops.sub(x, m));
  assert.notEqual(ops.sub(x, m), ops.sub(m, x));
  assert.notEqual(ops.sum(x, 0), ops.sum(x, 1));
  assert.notEqual(g.constant([1, 2], [2]), g.constant([1, 2], [2]));
  const before = g.nodes.length;
  ops.relu(ops.sub(x, m));
  ops.relu(ops.sub(x, m));
  assert.equal(g.nodes.length, before + 1);
});

Deno.test("every declared op has a test case here", () => {
  const covered = new Set(cases.map((c) => c.name.split(" ")[0]));
  // argmax and argSmallestK (int32, no gradient) have tests of their own.
  for (
    const extra of ["input", "constant", "variable", "stopGradient", "argmax", "argSmallestK"]
  ) {
    covered.add(extra);
  }
  assert.deepEqual(opNames().filter((op) => !covered.has(op)), []);
});

Deno.test("ops", gpuTestOptions, async (t) => {
  const backends = await openAllBackends();
  try {
    for (const c of cases) {
      await t.step(c.name, async (t) => {
        for (const backend of backends) {
          await t.step(`forward by hand on ${backend.description}`, async () => {
            const g = new Graph();
            const xs = c.hand.shapes.map((s, j) =>
              g.input(`x${j}`, s, (c.hand.ints ?? [])[j] ? "int32" : "float")
            );
            const y = c.build(xs);
            const feeds = Object.fromEntries(c.hand.data.map((d, j) => [`x${j}`, d]));
            const [out] = await backend.run([y], feeds);
            assertClose(out, c.hand.expected, 1e-5, `${c.name} on ${backend.description}`);
          });
        }
        if (!c.noGrad) {
          await t.step("gradient against float64 finite differences (random shapes)", async () => {
            await fc.assert(
              fc.asyncProperty(fc.integer({ min: 1, max: 1 << 30 }), async (seed) => {
                const inputs = randomInputs(c, new Random(seed));
                await assertGradcheck(buildFrom(c), inputs, { maxElementsPerInput: 48, seed });
              }),
              { numRuns: 4, seed: 7 },
            );
          });
        }
        for (const backend of backends) {
          await t.step(
            `${backend.description} float32 against float64 CPU (random shapes)`,
            async () => {
              await fc.assert(
                fc.asyncProperty(fc.integer({ min: 1, max: 1 << 30 }), async (seed) => {
                  const inputs = randomInputs(c, new Random(seed));
                  const report = await crossCheck(backend, buildFrom(c), inputs, {
                    rtol: c.rtol ?? 2e-5,
                    seed,
                  });
                  assert.ok(
                    report.ok,
                    `${c.name}: shapes ${inputs.map((i) => `[${i.shape}]`).join(" ")}: ${
                      JSON.stringify(report.comparisons)
                    }`,
                  );
                }),
                { numRuns: 4, seed: 11 },
              );
            },
          );
        }
      });
    }

    await t.step("argmax picks the first maximum, as int32", async () => {
      for (const backend of backends) {
        const g = new Graph();
        const x = g.input("x", [2, 4]);
        const [rows, cols] = await backend.run([ops.argmax(x, 1), ops.argmax(x, 0)], {
          x: [1, 9, 9, 2, -5, -1, -3, -1],
        });
        assert.ok(rows instanceof Int32Array);
        assert.deepEqual([...rows], [1, 1], backend.description);
        assert.deepEqual([...cols], [0, 0, 0, 0], backend.description);
        const long = g.input("long", [3000]);
        const values = new Float32Array(3000).map((_, i) => Math.sin(i));
        values[1234] = 5;
        const [at] = await backend.run([ops.argmax(long, 0)], { long: values });
        assert.equal(at[0], 1234, backend.description);
      }
    });

    await t.step("NaN survives relu, maximum, minimum and max on every backend", async () => {
      // WGSL compilers may assume no NaN and fold these into instructions that drop it; a NaN that
      // vanishes would hide a diverged loss.
      for (const backend of backends) {
        const g = new Graph();
        const x = g.input("x", [4]);
        const outs = [ops.relu(x), ops.maximum(x, 0), ops.minimum(0, x), ops.max(x, 0)];
        for (const values of [[NaN, 1, -1, 2], [1, -1, NaN, 2], [-NaN, -1, 5, 2]]) {
          const results = await backend.run(outs, { x: values });
          const at = values.findIndex((v) => Number.isNaN(v));
          for (const [k, r] of results.entries()) {
            assert.ok(
              Number.isNaN(r[k === 3 ? 0 : at]),
              `${backend.description} output ${k}: ${[...r]}`,
            );
          }
        }
      }
    });

    await t.step("stopGradient passes values and blocks gradients", async () => {
      const { gradients } = await import("../../src/graph/autodiff.ts");
      for (const backend of backends) {
        const g = new Graph();
        const x = g.input("x", [3]);
        const y = fns.sumAll(ops.mul(ops.stopGradient(x), x)); // d/dx = stop(x) = x
        const [dx] = gradients(y, [x]);
        const [value, grad] = await backend.run([y, dx], { x: [1, 2, 3] });
        assertClose(value, [14]);
        assertClose(grad, [1, 2, 3]);
      }
    });
  } finally {
    for (const b of backends) b.dispose();
  }
});
