/**
 * The primitive ops. Each op is declared once here: its shape rule (checked when the node is created),
 * its gradient, written in terms of other ops so that every backend differentiates it for free, and,
 * for elementwise ops, its value as an expression (expr.ts) that every device renders for itself.
 * Devices implement kernels per op kind, not per op.
 *
 * The file is long by design: it is the op table, and each primitive's shape rule, gradient and
 * value standing side by side is what lets a reader check them against each other.
 */
import { ShapeError } from "../errors.ts";
import { E, type NumExpr } from "./expr.ts";
import {
  type ElementwiseOp,
  formatShape,
  type OpName,
  type PatchGeometry,
  type Shape,
  sizeOf,
  type Tensor,
} from "./tensor.ts";

/** A tensor, or a number that becomes a scalar constant of the other operand's graph. */
export type TensorLike = Tensor | number;

/** How the executor runs an op. */
export type OpKind =
  | "source" // input, constant, variable: storage only
  | "view" // reshape, stopGradient: the input's storage, seen with another shape
  | "elementwise" // one output element from one element of each input (broadcast or permuted)
  | "reduce" // sum / max / argmax along one axis
  | "matmul"
  | "gather"
  | "segmentSum"
  | "oneHot"
  | "patches"
  | "unpatches"
  | "argSmallestK"
  | "takeAlongRows";

/** Gradients with respect to each input given the output's gradient `dy`; null where none flows. */
type GradFn = (dy: Tensor, y: Tensor) => (Tensor | null)[];

/** The declaration of one primitive op. */
export type OpDefinition =
  | {
    readonly kind: "elementwise";
    /** Number of inputs. */
    readonly arity: number;
    /** The value of one output element from one element of each input (see expr.ts). */
    readonly expr: (...args: NumExpr[]) => NumExpr;
    /** Absent for ops without a gradient (comparisons, step...): their inputs receive none. */
    readonly grad?: GradFn;
  }
  | { readonly kind: Exclude<OpKind, "elementwise">; readonly grad?: GradFn };

const definitions = new Map<OpName, OpDefinition>();

function define(name: OpName, def: OpDefinition): void {
  definitions.set(name, def);
}

/** The declaration of op `name` (every op of {@link OpName} has one). */
export function opDefinition(name: OpName): OpDefinition {
  return definitions.get(name)!;
}

/** The value expression of an elementwise op. */
export function elementwiseExpr(name: OpName): (...args: NumExpr[]) => NumExpr {
  const def = definitions.get(name);
  if (def?.kind !== "elementwise") throw new Error(`op "${name}" is not elementwise`);
  return def.expr;
}

/** Names of all declared ops (the tests check that each has a case). */
export function opNames(): OpName[] {
  return [...definitions.keys()];
}

// ---------------------------------------------------------------------------------------------------
// Shape helpers

/** The broadcast of two shapes (NumPy rules, aligned on the right), or null if they do not broadcast. */
export function broadcastShapes(a: Shape, b: Shape): number[] | null {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    out.push(Math.max(da, db));
  }
  return out;
}

function graphOf(op: string, args: readonly TensorLike[]): Tensor["graph"] {
  for (const a of args) if (typeof a !== "number") return a.graph;
  throw new ShapeError(op, "at least one operand must be a tensor");
}

function lift(op: string, args: readonly TensorLike[]): Tensor[] {
  const g = graphOf(op, args);
  return args.map((a) => {
    if (typeof a === "number") return g.scalar(a);
    if (a.dtype !== "float") {
      throw new ShapeError(op, `expects float tensors, got ${a.dtype} tensor ${a}`);
    }
    return a;
  });
}

function elementwise(op: Exclude<ElementwiseOp, "transpose">, args: readonly TensorLike[]): Tensor {
  const inputs = lift(op, args);
  let shape: Shape = [];
  for (const t of inputs) {
    const next = broadcastShapes(shape, t.shape);
    if (next === null) {
      throw new ShapeError(
        op,
        `shapes ${inputs.map((x) => formatShape(x.shape)).join(" and ")} do not broadcast`,
      );
    }
    shape = next;
  }
  return inputs[0].graph.addNode({ op }, inputs, shape, "float");
}

/**
 * `dy` (shaped like a broadcast result) summed down to `shape`: the gradient of a broadcast.
 */
export function sumToShape(dy: Tensor, shape: Shape): Tensor {
  if (dy.shape.length === shape.length && dy.shape.every((d, i) => d === shape[i])) return dy;
  let t = dy;
  const lead = dy.rank - shape.length;
  for (let axis = dy.rank - 1; axis >= 0; axis--) {
    const target = axis < lead ? 1 : shape[axis - lead];
    if (t.shape[axis] !== target) t = sum(t, axis, true);
  }
  return reshape(t, shape);
}

// ---------------------------------------------------------------------------------------------------
// Sources (created through Graph: input, constant, variable)

define("input", { kind: "source" });
define("constant", { kind: "source" });
define("variable", { kind: "source" });

// ---------------------------------------------------------------------------------------------------
// Unary elementwise

function unary(
  name: Exclude<ElementwiseOp, "transpose">,
  expr: (x: NumExpr) => NumExpr,
  grad?: (dy: Tensor, y: Tensor, x: Tensor) => Tensor | null,
) {
  define(name, {
    kind: "elementwise",
    arity: 1,
    expr,
    grad: grad && ((dy, y) => [grad(dy, y, y.inputs[0])]),
  });
  return (x: Tensor): Tensor => elementwise(name, [x]);
}

const nanOr = (x: NumExpr, value: NumExpr): NumExpr => E.select(E.test("isNan", x), x, value);
const bool = (cond: ReturnType<typeof E.compare>): NumExpr => E.select(cond, 1, 0);

/** -x */
export const neg: (x: Tensor) => Tensor = unary("neg", (x) => E.unary("neg", x), (dy) => neg(dy));
/** e^x */
export const exp: (x: Tensor) => Tensor = unary(
  "exp",
  (x) => E.unary("exp", x),
  (dy, y) => mul(dy, y),
);
/** Natural logarithm. */
export const log: (x: Tensor) => Tensor = unary(
  "log",
  (x) => E.unary("log", x),
  (dy, _y, x) => div(dy, x),
);
/** Square root. */
export const sqrt: (x: Tensor) => Tensor = unary(
  "sqrt",
  (x) => E.unary("sqrt", x),
  (dy, y) => div(dy, mul(y, 2)),
);
/** x^2 */
export const square: (x: Tensor) => Tensor = unary(
  "square",
  (x) => E.binary("mul", x, x),
  (dy, _y, x) => mul(dy, mul(x, 2)),
);
/**
 * max(x, 0); NaN stays NaN, so that a broken loss shows. The gradient reads the output (y > 0
 * exactly where x > 0), so the input need not be kept: it fuses into whatever computed it.
 */
export const relu: (x: Tensor) => Tensor = unary(
  "relu",
  (x) => nanOr(x, E.select(E.compare("lt", x, 0), 0, x)),
  (dy, y) => mul(dy, step(y)),
);
/** 1 where x > 0, else 0 (no gradient). */
export const step: (x: Tensor) => Tensor = unary("step", (x) => bool(E.compare("gt", x, 0)));
/** |x| */
export const abs: (x: Tensor) => Tensor = unary(
  "abs",
  (x) => E.unary("abs", x),
  (dy, _y, x) => mul(dy, sign(x)),
);
/** -1, 0 or 1 (no gradient). */
export const sign: (x: Tensor) => Tensor = unary(
  "sign",
  (x) => E.select(E.compare("gt", x, 0), 1, E.select(E.compare("lt", x, 0), -1, 0)),
);
/**
 * 1 where x is finite, 0 where it is NaN or infinite (no gradient). Decided from the bits of the
 * value, so it holds on devices whose compilers assume arithmetic never meets a NaN.
 */
export const isFinite: (x: Tensor) => Tensor = unary(
  "isFinite",
  (x) => E.select(E.test("isFinite", x), 1, 0),
);
/** Hyperbolic tangent. */
export const tanh: (x: Tensor) => Tensor = unary(
  "tanh",
  (x) => E.unary("tanh", x),
  (dy, y) => mul(dy, sub(1, square(y))),
);
/** 1 / (1 + e^-x) */
export const sigmoid: (x: Tensor) => Tensor = unary(
  "sigmoid",
  (x) => E.binary("div", 1, E.binary("add", 1, E.unary("exp", E.unary("neg", x)))),
  (dy, y) => mul(dy, mul(y, sub(1, y))),
);

// ---------------------------------------------------------------------------------------------------
// Binary elementwise, broadcasting

function binary(
  name: Exclude<ElementwiseOp, "transpose">,
  expr: (a: NumExpr, b: NumExpr) => NumExpr,
  grad?: (dy: Tensor, y: Tensor, a: Tensor, b: Tensor) => [Tensor | null, Tensor | null],
) {
  define(name, {
    kind: "elementwise",
    arity: 2,
    expr,
    grad: grad &&
      ((dy, y) => {
        const [a, b] = y.inputs;
        const [ga, gb] = grad(dy, y, a, b);
        return [ga && sumToShape(ga, a.shape), gb && sumToShape(gb, b.shape)];
      }),
  });
  return (a: TensorLike, b: TensorLike): Tensor => elementwise(name, [a, b]);
}

/** `pick` when neither operand is NaN, else NaN (the sum of the two). */
const nanEither = (a: NumExpr, b: NumExpr, pick: NumExpr): NumExpr =>
  E.select(E.or(E.test("isNan", a), E.test("isNan", b)), E.binary("add", a, b), pick);

/** a + b (broadcasting) */
export const add: (a: TensorLike, b: TensorLike) => Tensor = binary(
  "add",
  (a, b) => E.binary("add", a, b),
  (dy) => [dy, dy],
);
// Where an operand was broadcast, its gradient is summed down to its shape; a negation is applied
// after that sum (to the small result) rather than before it (to the whole gradient).

/** a - b (broadcasting) */
export const sub: (a: TensorLike, b: TensorLike) => Tensor = binary(
  "sub",
  (a, b) => E.binary("sub", a, b),
  (dy, _y, _a, b) => [dy, neg(sumToShape(dy, b.shape))],
);
/** a * b (broadcasting) */
export const mul: (a: TensorLike, b: TensorLike) => Tensor = binary(
  "mul",
  (a, b) => E.binary("mul", a, b),
  (dy, _y, a, b) => [mul(dy, b), mul(dy, a)],
);
/** a / b (broadcasting) */
export const div: (a: TensorLike, b: TensorLike) => Tensor = binary(
  "div",
  (a, b) => E.binary("div", a, b),
  (dy, y, _a, b) => [div(dy, b), neg(sumToShape(div(mul(dy, y), b), b.shape))],
);
/** The larger of a and b (NaN if either is); on ties the gradient goes to a. */
export const maximum: (a: TensorLike, b: TensorLike) => Tensor = binary(
  "maximum",
  (a, b) => nanEither(a, b, E.select(E.compare("ge", a, b), a, b)),
  (dy, _y, a, b) => {
    const pickA = greaterEqual(a, b);
    return [mul(dy, pickA), mul(dy, sub(1, pickA))];
  },
);
/** The smaller of a and b (NaN if either is); on ties the gradient goes to a. */
export const minimum: (a: TensorLike, b: TensorLike) => Tensor = binary(
  "minimum",
  (a, b) => nanEither(a, b, E.select(E.compare("le", a, b), a, b)),
  (dy, _y, a, b) => {
    const pickA = greaterEqual(b, a);
    return [mul(dy, pickA), mul(dy, sub(1, pickA))];
  },
);
/** 1 where a > b, else 0 (no gradient). */
export const greater: (a: TensorLike, b: TensorLike) => Tensor = binary(
  "greater",
  (a, b) => bool(E.compare("gt", a, b)),
);
/** 1 where a >= b, else 0 (no gradient). */
export const greaterEqual: (a: TensorLike, b: TensorLike) => Tensor = binary(
  "greaterEqual",
  (a, b) => bool(E.compare("ge", a, b)),
);
/** 1 where a == b, else 0 (no gradient). */
export const equal: (a: TensorLike, b: TensorLike) => Tensor = binary(
  "equal",
  (a, b) => bool(E.compare("eq", a, b)),
);

define("where", {
  kind: "elementwise",
  arity: 3,
  expr: (cond, a, b) => E.select(E.compare("ne", cond, 0), a, b),
  grad: (dy, y) => {
    const [cond, a, b] = y.inputs;
    const zero = dy.graph.scalar(0);
    return [
      null,
      sumToShape(where(cond, dy, zero), a.shape),
      sumToShape(where(cond, zero, dy), b.shape),
    ];
  },
});
/** Elementwise choice: `a` where `cond` is nonzero, else `b` (broadcasting all three). */
export function where(cond: TensorLike, a: TensorLike, b: TensorLike): Tensor {
  return elementwise("where", [cond, a, b]);
}

// ---------------------------------------------------------------------------------------------------
// Layout: broadcast, transpose (elementwise copies), reshape and stopGradient (views)

define("broadcastTo", {
  kind: "elementwise",
  arity: 1,
  expr: (x) => x,
  grad: (dy, y) => [sumToShape(dy, y.inputs[0].shape)],
});
/** `x` repeated along broadcast dimensions to `shape`. */
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  const out = broadcastShapes(x.shape, shape);
  if (out === null || out.length !== shape.length || out.some((d, i) => d !== shape[i])) {
    throw new ShapeError(
      "broadcastTo",
      `cannot broadcast ${formatShape(x.shape)} to ${formatShape(shape)}`,
    );
  }
  if (x.rank === shape.length && x.shape.every((d, i) => d === shape[i])) return x;
  return x.graph.addNode({ op: "broadcastTo" }, [x], [...shape], x.dtype);
}

define("transpose", {
  kind: "elementwise",
  arity: 1,
  expr: (x) => x,
  grad: (dy, y) => {
    if (y.spec.op !== "transpose") throw new Error("transpose gradient of another op");
    const perm = y.spec.perm;
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [transpose(dy, inverse)];
  },
});
/** Permutes dimensions: output dimension i is input dimension `perm[i]` (default: reversed). */
export function transpose(x: Tensor, perm?: Shape): Tensor {
  const p = perm ?? x.shape.map((_, i) => x.rank - 1 - i);
  const sorted = [...p].sort((u, v) => u - v);
  if (p.length !== x.rank || sorted.some((v, i) => v !== i)) {
    throw new ShapeError(
      "transpose",
      `perm ${formatShape(p)} is not a permutation of the ${x.rank} axes of ${
        formatShape(x.shape)
      }`,
    );
  }
  return x.graph.addNode(
    { op: "transpose", perm: [...p] },
    [x],
    p.map((i) => x.shape[i]),
    x.dtype,
  );
}

define("reshape", { kind: "view", grad: (dy, y) => [reshape(dy, y.inputs[0].shape)] });
/** The same elements seen with another shape (no copy). One dimension may be -1 (inferred). */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const known = shape.filter((d) => d !== -1);
  const inferred = shape.length - known.length;
  let target = [...shape];
  if (inferred > 1) throw new ShapeError("reshape", `more than one -1 in ${formatShape(shape)}`);
  if (inferred === 1) {
    const rest = sizeOf(known);
    target = shape.map((d) => (d === -1 ? x.size / rest : d));
  }
  if (sizeOf(target) !== x.size || target.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new ShapeError(
      "reshape",
      `cannot reshape ${formatShape(x.shape)} (${x.size} elements) to ${formatShape(shape)}`,
    );
  }
  if (target.length === x.rank && target.every((d, i) => d === x.shape[i])) return x;
  return x.graph.addNode({ op: "reshape", shape: target }, [x], target, x.dtype);
}

define("stopGradient", { kind: "view", grad: () => [null] });
/** `x` itself, through which no gradient flows. */
export function stopGradient(x: Tensor): Tensor {
  return x.graph.addNode({ op: "stopGradient" }, [x], x.shape, x.dtype);
}

// ---------------------------------------------------------------------------------------------------
// Reductions along one axis

function normalizeAxis(op: string, x: Tensor, axis: number): number {
  const a = axis < 0 ? axis + x.rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= x.rank) {
    throw new ShapeError(op, `axis ${axis} is out of range for shape ${formatShape(x.shape)}`);
  }
  return a;
}

function reduced(x: Tensor, axis: number, keepDims: boolean): number[] {
  return keepDims
    ? x.shape.map((d, i) => (i === axis ? 1 : d))
    : x.shape.filter((_, i) => i !== axis);
}

/** The axis of a reduction node. */
function axisOf(y: Tensor): number {
  const spec = y.spec;
  if (spec.op !== "sum" && spec.op !== "max" && spec.op !== "argmax") {
    throw new Error(`${y} is not a reduction`);
  }
  return spec.axis;
}

define("sum", {
  kind: "reduce",
  grad: (dy, y) => {
    const x = y.inputs[0];
    return [broadcastTo(reshape(dy, reduced(x, axisOf(y), true)), x.shape)];
  },
});
/** Sum along `axis` (negative counts from the end); `keepDims` keeps it as size 1. */
export function sum(x: Tensor, axis: number, keepDims = false): Tensor {
  if (x.dtype !== "float") throw new ShapeError("sum", `expects a float tensor, got ${x}`);
  const a = normalizeAxis("sum", x, axis);
  return x.graph.addNode({ op: "sum", axis: a, keepDims }, [x], reduced(x, a, keepDims), "float");
}

define("max", {
  kind: "reduce",
  grad: (dy, y) => {
    const x = y.inputs[0];
    const keep = reduced(x, axisOf(y), true);
    const mask = equal(x, reshape(y, keep));
    return [mul(mask, reshape(dy, keep))];
  },
});
/** Maximum along `axis`; on ties every maximal element receives the gradient. */
export function max(x: Tensor, axis: number, keepDims = false): Tensor {
  if (x.dtype !== "float") throw new ShapeError("max", `expects a float tensor, got ${x}`);
  const a = normalizeAxis("max", x, axis);
  return x.graph.addNode({ op: "max", axis: a, keepDims }, [x], reduced(x, a, keepDims), "float");
}

define("argmax", { kind: "reduce" });
/** Index of the (first) maximum along `axis`, as int32 (no gradient). */
export function argmax(x: Tensor, axis: number): Tensor {
  if (x.dtype !== "float") throw new ShapeError("argmax", `expects a float tensor, got ${x}`);
  const a = normalizeAxis("argmax", x, axis);
  return x.graph.addNode(
    { op: "argmax", axis: a, keepDims: false },
    [x],
    reduced(x, a, false),
    "int32",
  );
}

// ---------------------------------------------------------------------------------------------------
// Matrix product

define("matmul", {
  kind: "matmul",
  grad: (dy, y) => {
    const [a, b] = y.inputs;
    if (y.spec.op !== "matmul") throw new Error("matmul gradient of another op");
    const { transposeA: tA, transposeB: tB } = y.spec;
    if (!tA && !tB) return [matmul(dy, b, false, true), matmul(a, dy, true, false)];
    if (tA && !tB) return [matmul(b, dy, false, true), matmul(a, dy, false, false)];
    if (!tA && tB) return [matmul(dy, b, false, false), matmul(dy, a, true, false)];
    return [matmul(b, dy, true, true), matmul(dy, a, true, true)];
  },
});
/**
 * The matrix product op(a) op(b) of two rank-2 tensors, where op transposes when the flag is set:
 * op(a) is [m, k], op(b) is [k, n], the result [m, n].
 */
export function matmul(a: Tensor, b: Tensor, transposeA = false, transposeB = false): Tensor {
  if (a.rank !== 2 || b.rank !== 2 || a.dtype !== "float" || b.dtype !== "float") {
    throw new ShapeError(
      "matmul",
      `expects two rank-2 float tensors, got ${a.dtype} ${formatShape(a.shape)} and ${b.dtype} ${
        formatShape(b.shape)
      }`,
    );
  }
  const [m, ka] = transposeA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [kb, n] = transposeB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  if (ka !== kb) {
    throw new ShapeError(
      "matmul",
      `inner dimensions differ: ${formatShape(a.shape)}${transposeA ? "ᵀ" : ""} x ${
        formatShape(b.shape)
      }${transposeB ? "ᵀ" : ""} (${ka} vs ${kb})`,
    );
  }
  return a.graph.addNode({ op: "matmul", transposeA, transposeB }, [a, b], [m, n], "float");
}

// ---------------------------------------------------------------------------------------------------
// Row gather and segment sum: each is the other's gradient

function checkIndices(op: string, indices: Tensor, length: number | null): void {
  if (indices.dtype !== "int32" || indices.rank !== 1) {
    throw new ShapeError(
      op,
      `indices must be a rank-1 int32 tensor, got ${indices.dtype} ${formatShape(indices.shape)}`,
    );
  }
  if (length !== null && indices.size !== length) {
    throw new ShapeError(
      op,
      `indices have ${indices.size} entries but the data has ${length} rows`,
    );
  }
}

define("gather", {
  kind: "gather",
  grad: (dy, y) => {
    const [x, indices] = y.inputs;
    return [segmentSum(dy, indices, x.shape[0]), null];
  },
});
/**
 * Rows of `x` picked by `indices` (int32, rank 1): the result's row i is `x[indices[i]]`.
 * Every index must lie in [0, x.shape[0]); backends check fed indices before running.
 */
export function gather(x: Tensor, indices: Tensor): Tensor {
  if (x.rank < 1 || x.dtype !== "float") {
    throw new ShapeError("gather", `expects a float tensor of rank >= 1, got ${x}`);
  }
  checkIndices("gather", indices, null);
  return x.graph.addNode(
    { op: "gather" },
    [x, indices],
    [indices.size, ...x.shape.slice(1)],
    "float",
  );
}

define("segmentSum", {
  kind: "segmentSum",
  grad: (dy, y) => {
    const [, ids] = y.inputs;
    return [gather(dy, ids), null];
  },
});
/**
 * Sums rows of `x` into `numSegments` rows: result row s is the sum of the rows i with
 * `segmentIds[i] == s`. Every id must lie in [0, numSegments).
 */
export function segmentSum(x: Tensor, segmentIds: Tensor, numSegments: number): Tensor {
  if (x.rank < 1 || x.dtype !== "float") {
    throw new ShapeError("segmentSum", `expects a float tensor of rank >= 1, got ${x}`);
  }
  checkIndices("segmentSum", segmentIds, x.shape[0]);
  if (!Number.isInteger(numSegments) || numSegments < 1) {
    throw new ShapeError(
      "segmentSum",
      `numSegments must be a positive integer, got ${numSegments}`,
    );
  }
  return x.graph.addNode(
    { op: "segmentSum", numSegments },
    [x, segmentIds],
    [numSegments, ...x.shape.slice(1)],
    "float",
  );
}

define("oneHot", { kind: "oneHot" });
/**
 * Rows of `depth` zeros with a 1 at column `indices[i]` (int32, rank 1), as float [n, depth]; an
 * index outside [0, depth) gives a row of zeros. No gradient.
 */
export function oneHot(indices: Tensor, depth: number): Tensor {
  checkIndices("oneHot", indices, null);
  if (!Number.isInteger(depth) || depth < 1) {
    throw new ShapeError("oneHot", `depth must be a positive integer, got ${depth}`);
  }
  return indices.graph.addNode({ op: "oneHot", depth }, [indices], [indices.size, depth], "float");
}

// ---------------------------------------------------------------------------------------------------
// Image patches (im2col) and their adjoint: what convolution and pooling are made of

/** "same": the output grid covers the image (ceil(size / stride)); "valid": windows inside it only. */
export type Padding = "same" | "valid";

/** The geometry of kh x kw windows every `stride` pixels over an [N, H, W, C] image. */
export function patchGeometry(
  height: number,
  width: number,
  kh: number,
  kw: number,
  stride: number,
  padding: Padding,
): PatchGeometry {
  for (const [name, v] of [["kernel height", kh], ["kernel width", kw], ["stride", stride]]) {
    if (!Number.isInteger(v) || (v as number) < 1) {
      throw new ShapeError("patches", `${name} must be a positive integer, got ${v}`);
    }
  }
  if (padding !== "same" && padding !== "valid") {
    throw new ShapeError("patches", `padding must be "same" or "valid", got ${padding}`);
  }
  if (padding === "valid") {
    if (kh > height || kw > width) {
      throw new ShapeError(
        "patches",
        `a ${kh}x${kw} window does not fit a ${height}x${width} image without padding`,
      );
    }
    return {
      height,
      width,
      kh,
      kw,
      stride,
      padTop: 0,
      padLeft: 0,
      outHeight: Math.floor((height - kh) / stride) + 1,
      outWidth: Math.floor((width - kw) / stride) + 1,
    };
  }
  const outHeight = Math.ceil(height / stride), outWidth = Math.ceil(width / stride);
  const padRows = Math.max((outHeight - 1) * stride + kh - height, 0);
  const padCols = Math.max((outWidth - 1) * stride + kw - width, 0);
  return {
    height,
    width,
    kh,
    kw,
    stride,
    padTop: Math.floor(padRows / 2),
    padLeft: Math.floor(padCols / 2),
    outHeight,
    outWidth,
  };
}

function geometryOf(y: Tensor): PatchGeometry {
  const spec = y.spec;
  if (spec.op !== "patches" && spec.op !== "unpatches") throw new Error(`${y} has no patches`);
  return spec;
}

define("patches", {
  kind: "patches",
  grad: (dy, y) => [unpatches(dy, geometryOf(y), y.inputs[0].shape[0], y.inputs[0].shape[3])],
});
/**
 * The windows of `x` [N, H, W, C] as rows (im2col): [N * outHeight * outWidth, kh * kw * C], row
 * (n, oy, ox) holding its window pixel by pixel (row-major over the window), each pixel's C values
 * together; pixels in the padding are 0. A convolution is this times the kernel matrix.
 */
export function patches(x: Tensor, geometry: PatchGeometry): Tensor {
  if (x.rank !== 4 || x.dtype !== "float") {
    throw new ShapeError("patches", `expects a float image [N, H, W, C], got ${x}`);
  }
  const [n, h, w, c] = x.shape;
  const g = geometry;
  if (g.height !== h || g.width !== w) {
    throw new ShapeError("patches", `geometry for ${g.height}x${g.width} images, got ${x}`);
  }
  return x.graph.addNode(
    { ...g, op: "patches" },
    [x],
    [n * g.outHeight * g.outWidth, g.kh * g.kw * c],
    "float",
  );
}

define("unpatches", {
  kind: "unpatches",
  grad: (dy, y) => [patches(dy, geometryOf(y))],
});
/**
 * The adjoint of {@link patches}: every window row of `cols` [N * outHeight * outWidth,
 * kh * kw * C] added back onto the pixels it came from, as an image [N, H, W, C] (the gradient of
 * `patches`).
 */
export function unpatches(cols: Tensor, geometry: PatchGeometry, n: number, c: number): Tensor {
  const g = geometry;
  if (
    cols.rank !== 2 || cols.shape[0] !== n * g.outHeight * g.outWidth ||
    cols.shape[1] !== g.kh * g.kw * c
  ) {
    throw new ShapeError(
      "unpatches",
      `expects [${n * g.outHeight * g.outWidth}, ${g.kh * g.kw * c}] window rows, got ${cols}`,
    );
  }
  return cols.graph.addNode({ ...g, op: "unpatches" }, [cols], [n, g.height, g.width, c], "float");
}

// ---------------------------------------------------------------------------------------------------
// Selection within rows: the k smallest entries of each row, and values picked per row

define("argSmallestK", { kind: "argSmallestK" });
/**
 * For each row of `x` [rows, n], the columns of its `k` smallest values, smallest first, as int32
 * [rows, k]: equal values come lowest column first, -0 equals 0, and NaN ranks as +Infinity (after
 * every number, before no infinity of a lower column). The selection of nearest-neighbour search
 * (with {@link takeAlongRows} for the values); no gradient.
 */
export function argSmallestK(x: Tensor, k: number): Tensor {
  if (x.rank !== 2 || x.dtype !== "float") {
    throw new ShapeError("argSmallestK", `expects a float matrix [rows, n], got ${x}`);
  }
  if (!Number.isInteger(k) || k < 1 || k > x.shape[1]) {
    throw new ShapeError(
      "argSmallestK",
      `k must be an integer in [1, ${x.shape[1]}] for rows of ${x.shape[1]}, got ${k}`,
    );
  }
  return x.graph.addNode({ op: "argSmallestK", k }, [x], [x.shape[0], k], "int32");
}

define("takeAlongRows", {
  kind: "takeAlongRows",
  grad: (dy, y) => {
    // Each picked value's gradient goes back to its column: one-hot rows weighted by dy, summed
    // per row of x.
    const [x, indices] = y.inputs;
    const [rows, n] = x.shape;
    const k = indices.shape[1];
    const picks = mul(oneHot(reshape(indices, [rows * k]), n), reshape(dy, [rows * k, 1]));
    return [sum(reshape(picks, [rows, k, n]), 1), null];
  },
});
/**
 * Values picked in each row: out[r, j] = x[r, indices[r, j]] for `x` [rows, n] and int32 `indices`
 * [rows, k] (an index outside [0, n) gives 0), as [rows, k].
 */
export function takeAlongRows(x: Tensor, indices: Tensor): Tensor {
  if (x.rank !== 2 || x.dtype !== "float") {
    throw new ShapeError("takeAlongRows", `expects a float matrix [rows, n], got ${x}`);
  }
  if (indices.rank !== 2 || indices.dtype !== "int32" || indices.shape[0] !== x.shape[0]) {
    throw new ShapeError(
      "takeAlongRows",
      `indices must be int32 [${x.shape[0]}, k] for ${x}, got ${indices.dtype} ${
        formatShape(indices.shape)
      }`,
    );
  }
  return x.graph.addNode({ op: "takeAlongRows" }, [x, indices], [...indices.shape], "float");
}
