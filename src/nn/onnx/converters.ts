/**
 * The ONNX operators this importer reads, each as a function from a node's input values to its
 * output values in our graph (see values.ts for the layouts). Ops on constants are folded here
 * (the shape arithmetic exporters write); ops on tensors become graph ops, composed where ONNX's
 * op is a composite of ours (convolution, pooling, normalisation, activations).
 *
 * One long file on purpose: the converter table is read as a whole, one entry per operator,
 * beside the small helpers they share.
 */
import { clip, hardSigmoid, hardSwish } from "../../graph/activations.ts";
import { columnMoments, normalize } from "../../graph/conv.ts";
import { mean } from "../../graph/functions.ts";
import {
  add,
  broadcastTo,
  div,
  exp,
  matmul,
  max,
  mul,
  neg,
  relu,
  reshape,
  sigmoid,
  sqrt,
  sub,
  sum,
  tanh,
  transpose,
} from "../../graph/ops.ts";
import { concat, take } from "../../graph/slices.ts";
import type { Graph, Tensor, Variable } from "../../graph/tensor.ts";
import { avgPool, convolution, maxPool, type WindowOptions } from "../../graph/windows.ts";
import type { Update } from "../../backend/backend.ts";
import type { NodeProto } from "./onnx_proto.ts";
import { tensorValues } from "./onnx_proto.ts";
import { attribute } from "./source.ts";
import {
  channelsLast,
  channelsLastOperand,
  constElementwise,
  type ConstValue,
  constValue,
  logicalShape,
  permute,
  plain,
  tensorValue,
  type Value,
} from "./values.ts";

/** What a converter works with: the node, its inputs, the graph and the mode. */
export interface ConvertContext {
  readonly graph: Graph;
  readonly node: NodeProto;
  /** Opset of the default domain. */
  readonly opset: number;
  /** Training mode: batch normalisation uses and updates batch statistics. */
  readonly training: boolean;
  /** The batch size the network's input was declared with (null when symbolic) and ours. */
  readonly batch: { readonly declared: number | null; readonly actual: number };
  /** Input `i`, or undefined when absent (or named ""). */
  input(i: number): Value | undefined;
  /** A convolution kernel input as [kh, kw, Cin / groups, Cout], however it is stored. */
  kernel(i: number): Tensor;
  /** The variable behind input `i` (a weight or statistic), or null. */
  variable(i: number): Variable | null;
  /** Collects an update of a variable (running statistics in training). */
  update(update: Update): void;
}

/** Turns a node into its outputs. */
type Converter = (ctx: ConvertContext) => Value[];

/** A converter's failure: the importer names the node. */
export class ConvertError extends Error {}

function fail(message: string): never {
  throw new ConvertError(message);
}

function need(ctx: ConvertContext, i: number, what = `input ${i}`): Value {
  const v = ctx.input(i);
  if (v === undefined) fail(`needs its ${what}`);
  return v;
}

function constant(ctx: ConvertContext, i: number, what: string): ConstValue | undefined {
  const v = ctx.input(i);
  if (v === undefined) return undefined;
  if (v.kind !== "const") fail(`its ${what} (input ${i}) must be known when the model is read`);
  return v;
}

function ints(ctx: ConvertContext, name: string): number[] | undefined {
  const a = attribute(ctx.node, name);
  if (a === undefined) return undefined;
  if (!Array.isArray(a)) fail(`attribute ${name} should be a list of integers`);
  return a as number[];
}

function int(ctx: ConvertContext, name: string, fallback: number): number {
  const a = attribute(ctx.node, name);
  return typeof a === "number" ? a : fallback;
}

function float(ctx: ConvertContext, name: string, fallback: number): number {
  const a = attribute(ctx.node, name);
  return typeof a === "number" ? a : fallback;
}

function text(ctx: ConvertContext, name: string, fallback: string): string {
  const a = attribute(ctx.node, name);
  return typeof a === "string" ? a : fallback;
}

const isChannelsLast = (v: Value) => v.kind === "tensor" && v.channelsLast;
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const normAxis = (axis: number, rank: number) => {
  const a = axis < 0 ? axis + rank : axis;
  if (!(a >= 0 && a < rank)) fail(`axis ${axis} is out of range for rank ${rank}`);
  return a;
};
/** Where a logical NCHW axis lies in NHWC storage. */
const STORED_AXIS = [0, 3, 1, 2];

/** An elementwise op of one input: folded on constants, else applied keeping the layout. */
function unary(f: (t: Tensor) => Tensor, c?: (x: number) => number): Converter {
  return (ctx) => {
    const x = need(ctx, 0);
    if (x.kind === "const" && c !== undefined) return [constElementwise(ctx.node.opType!, [x], c)];
    const t = x.kind === "const" ? plain(ctx.graph, x) : x.tensor;
    return [tensorValue(f(t), isChannelsLast(x))];
  };
}

/** An elementwise op of two inputs, broadcasting as ONNX does (channels last if either is). */
function binary(
  f: (a: Tensor, b: Tensor) => Tensor,
  c: (a: number, b: number, integer: boolean) => number,
): Converter {
  return (ctx) => {
    const a = need(ctx, 0), b = need(ctx, 1);
    if (a.kind === "const" && b.kind === "const") {
      const integer = a.integer && b.integer;
      return [constElementwise(ctx.node.opType!, [a, b], (x, y) => c(x, y, integer))];
    }
    const g = ctx.graph;
    if (isChannelsLast(a) || isChannelsLast(b)) {
      const op = ctx.node.opType!;
      return [tensorValue(f(channelsLastOperand(g, a, op), channelsLastOperand(g, b, op)), true)];
    }
    return [tensorValue(f(plain(g, a), plain(g, b)))];
  };
}

/** Pads [top, left, bottom, right] of a window op from its attributes (auto_pad included). */
function windowOptions(
  ctx: ConvertContext,
  height: number,
  width: number,
  k: [number, number],
): WindowOptions {
  const strides = (ints(ctx, "strides") ?? [1, 1]) as [number, number];
  const dilations = (ints(ctx, "dilations") ?? [1, 1]) as [number, number];
  if (strides.length !== 2 || dilations.length !== 2) fail("only 2-D windows are supported");
  const autoPad = text(ctx, "auto_pad", "NOTSET");
  let pads = (ints(ctx, "pads") ?? [0, 0, 0, 0]) as [number, number, number, number];
  if (pads.length !== 4) fail(`pads [${pads}] are not those of a 2-D window`);
  if (autoPad === "VALID") pads = [0, 0, 0, 0];
  else if (autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER") {
    const total = [height, width].map((size, i) => {
      const out = Math.ceil(size / strides[i]);
      return Math.max((out - 1) * strides[i] + (k[i] - 1) * dilations[i] + 1 - size, 0);
    });
    const before = total.map((
      t,
    ) => (autoPad === "SAME_UPPER" ? Math.floor(t / 2) : Math.ceil(t / 2)));
    pads = [before[0], before[1], total[0] - before[0], total[1] - before[1]];
  } else if (autoPad !== "NOTSET") fail(`auto_pad "${autoPad}" is not one ONNX defines`);
  return { strides, dilations, pads, ceilMode: int(ctx, "ceil_mode", 0) === 1 };
}

function pool(kind: "max" | "avg"): Converter {
  return (ctx) => {
    if (ctx.node.output.length > 1 && ctx.node.output[1] !== "") {
      fail("its Indices output is not supported");
    }
    const x = channelsLast(ctx.graph, need(ctx, 0), ctx.node.opType!);
    const k = ints(ctx, "kernel_shape");
    if (k === undefined || k.length !== 2) fail("needs a 2-D kernel_shape");
    const options = windowOptions(ctx, x.shape[1], x.shape[2], [k[0], k[1]]);
    const y = kind === "max" ? maxPool(x, k[0], k[1], options) : avgPool(x, k[0], k[1], {
      ...options,
      countIncludePad: int(ctx, "count_include_pad", 0) === 1,
    });
    return [tensorValue(y, true)];
  };
}

function globalPool(kind: "max" | "avg"): Converter {
  return (ctx) => {
    const x = channelsLast(ctx.graph, need(ctx, 0), ctx.node.opType!);
    const [n, h, w, c] = x.shape;
    const flat = reshape(x, [n, h * w, c]);
    const y = kind === "max" ? max(flat, 1) : mean(flat, 1);
    return [tensorValue(reshape(y, [n, 1, 1, c]), true)];
  };
}

/** Axes from an attribute (old opsets) or a constant input (newer ones). */
function axesOf(ctx: ConvertContext, inputIndex: number, sinceOpset: number): number[] | undefined {
  if (ctx.opset >= sinceOpset) {
    const v = constant(ctx, inputIndex, "axes");
    return v === undefined ? undefined : Array.from(v.data);
  }
  return ints(ctx, "axes");
}

function reduce(kind: "mean" | "sum" | "max", sinceOpset: number): Converter {
  return (ctx) => {
    const xv = need(ctx, 0);
    const shape = logicalShape(xv);
    const rank = shape.length;
    let axes = axesOf(ctx, 1, sinceOpset);
    if (axes === undefined || axes.length === 0) {
      if (int(ctx, "noop_with_empty_axes", 0) === 1) return [xv];
      axes = shape.map((_, i) => i);
    }
    const logical = [...new Set(axes.map((a) => normAxis(a, rank)))];
    const keep = int(ctx, "keepdims", 1) === 1;
    const cl = isChannelsLast(xv);
    let t = cl ? (xv as { tensor: Tensor }).tensor : plain(ctx.graph, xv);
    for (const a of logical) {
      const stored = cl ? STORED_AXIS[a] : a;
      t = kind === "sum"
        ? sum(t, stored, true)
        : kind === "max"
        ? max(t, stored, true)
        : mean(t, stored, true);
    }
    if (keep) return [tensorValue(t, cl)];
    const flat = cl ? plain(ctx.graph, tensorValue(t, true)) : t;
    return [tensorValue(reshape(flat, shape.filter((_, i) => !logical.includes(i))))];
  };
}

function batchNormalization(ctx: ConvertContext): Value[] {
  const xv = need(ctx, 0);
  const shape = logicalShape(xv);
  if (shape.length < 2) fail(`expects [N, C, ...], got [${shape}]`);
  const c = shape[1];
  const g = ctx.graph;
  // Channels last, so that the statistics are over rows of C values.
  let x: Tensor, back: (t: Tensor) => Value;
  if (shape.length === 4) {
    x = channelsLast(g, xv, "BatchNormalization");
    back = (t) => tensorValue(t, true);
  } else if (shape.length === 2) {
    x = plain(g, xv);
    back = (t) => tensorValue(t);
  } else {
    const perm = [0, ...shape.slice(2).map((_, i) => i + 2), 1];
    x = transpose(plain(g, xv), perm);
    back = (t) => tensorValue(transpose(t, perm.map((_, i) => perm.indexOf(i))));
  }
  const stored = x.shape;
  const rows = reshape(x, [size(stored) / c, c]);
  const vector = (i: number, what: string) => reshape(plain(g, need(ctx, i, what)), [1, c]);
  const scale = vector(1, "scale"), bias = vector(2, "bias");
  const runningMean = vector(3, "mean"), runningVariance = vector(4, "variance");
  const epsilon = float(ctx, "epsilon", 1e-5);
  let moments = { mean: runningMean, variance: runningVariance };
  const meanVariable = ctx.variable(3), varianceVariable = ctx.variable(4);
  if (ctx.training && meanVariable !== null && varianceVariable !== null) {
    moments = columnMoments(rows);
    // ONNX's momentum weighs the running value: running = momentum running + (1 - momentum) batch,
    // the variance unbiased, as PyTorch keeps it.
    const momentum = float(ctx, "momentum", 0.9);
    const n = rows.shape[0];
    const unbiased = mul(moments.variance, n / Math.max(n - 1, 1));
    ctx.update([
      meanVariable,
      reshape(add(mul(runningMean, momentum), mul(moments.mean, 1 - momentum)), [c]),
    ]);
    ctx.update([
      varianceVariable,
      reshape(add(mul(runningVariance, momentum), mul(unbiased, 1 - momentum)), [c]),
    ]);
  }
  const y = normalize(rows, moments, reshape(scale, [c]), reshape(bias, [c]), epsilon);
  return [back(reshape(y, stored))];
}

function conv(ctx: ConvertContext): Value[] {
  const x = channelsLast(ctx.graph, need(ctx, 0), "Conv");
  const kernel = ctx.kernel(1);
  const [kh, kw] = kernel.shape;
  const declared = ints(ctx, "kernel_shape");
  if (declared !== undefined && (declared[0] !== kh || declared[1] !== kw)) {
    fail(`kernel_shape [${declared}] does not match its weights ${kh}x${kw}`);
  }
  const bias = ctx.input(2);
  const y = convolution(
    x,
    kernel,
    bias === undefined ? null : reshape(plain(ctx.graph, bias), [-1]),
    {
      ...windowOptions(ctx, x.shape[1], x.shape[2], [kh, kw]),
      groups: int(ctx, "group", 1),
    },
  );
  return [tensorValue(y, true)];
}

function gemm(ctx: ConvertContext): Value[] {
  const g = ctx.graph;
  const a = plain(g, need(ctx, 0)), b = plain(g, need(ctx, 1));
  if (a.rank !== 2 || b.rank !== 2) fail(`expects two matrices, got [${a.shape}] and [${b.shape}]`);
  let y = matmul(a, b, int(ctx, "transA", 0) === 1, int(ctx, "transB", 0) === 1);
  const alpha = float(ctx, "alpha", 1), beta = float(ctx, "beta", 1);
  if (alpha !== 1) y = mul(y, alpha);
  const cv = ctx.input(2);
  if (cv !== undefined && beta !== 0) {
    const c = plain(g, cv);
    y = add(y, beta === 1 ? c : mul(c, beta));
  }
  return [tensorValue(y)];
}

function matMul(ctx: ConvertContext): Value[] {
  const g = ctx.graph;
  const av = need(ctx, 0), bv = need(ctx, 1);
  const a = plain(g, av), b = plain(g, bv);
  if (b.rank > 2) fail(`products with a batched right operand [${b.shape}] are not supported`);
  const b2 = b.rank === 1 ? reshape(b, [b.shape[0], 1]) : b;
  const k = b2.shape[0], n = b2.shape[1];
  const lead = a.rank === 1 ? [] : a.shape.slice(0, -1);
  if (a.shape[a.rank - 1] !== k) fail(`inner dimensions differ: [${a.shape}] x [${b.shape}]`);
  const y = matmul(reshape(a, [size(lead), k]), b2);
  return [tensorValue(reshape(y, [...lead, ...(b.rank === 1 ? [] : [n])]))];
}

/** The value `v` seen with a new logical shape (constants folded). */
function reshaped(ctx: ConvertContext, v: Value, shape: readonly number[]): Value {
  if (v.kind === "const") return constValue(v.data, shape, v.integer);
  return tensorValue(reshape(plain(ctx.graph, v), shape));
}

function flatten(ctx: ConvertContext): Value[] {
  const v = need(ctx, 0);
  const shape = logicalShape(v);
  const axis = normAxis(int(ctx, "axis", 1), shape.length + 1);
  return [reshaped(ctx, v, [size(shape.slice(0, axis)), size(shape.slice(axis))])];
}

function reshapeOp(ctx: ConvertContext): Value[] {
  const v = need(ctx, 0);
  const input = logicalShape(v);
  const requested = ctx.opset >= 5
    ? Array.from(constant(ctx, 1, "shape")!.data)
    : ints(ctx, "shape")!;
  const allowZero = int(ctx, "allowzero", 0) === 1;
  let target = requested.map((d, i) => (d === 0 && !allowZero ? input[i] : d));
  const known = size(target.filter((d) => d !== -1));
  if (target.includes(-1)) target = target.map((d) => (d === -1 ? size(input) / known : d));
  // A shape written for the batch size the model was exported with follows the batch it gets.
  const { declared, actual } = ctx.batch;
  if (
    size(target) !== size(input) && declared !== null && target[0] === declared &&
    declared !== actual
  ) {
    target = [actual, ...target.slice(1)];
  }
  if (size(target) !== size(input) || target.some((d) => !Number.isInteger(d) || d < 0)) {
    fail(`cannot reshape [${input}] to [${requested}]`);
  }
  return [reshaped(ctx, v, target)];
}

function transposeOp(ctx: ConvertContext): Value[] {
  const v = need(ctx, 0);
  const shape = logicalShape(v);
  const perm = ints(ctx, "perm") ?? shape.map((_, i) => shape.length - 1 - i);
  if (v.kind === "const") {
    return [constValue(permute(v.data, v.shape, perm), perm.map((p) => v.shape[p]), v.integer)];
  }
  if (v.channelsLast) return [tensorValue(transpose(v.tensor, perm.map((p) => STORED_AXIS[p])))];
  return [tensorValue(transpose(v.tensor, perm))];
}

function concatOp(ctx: ConvertContext): Value[] {
  const values = ctx.node.input.map((_, i) => need(ctx, i));
  const rank = logicalShape(values[0]).length;
  const axis = normAxis(int(ctx, "axis", 0), rank);
  if (values.every((v) => v.kind === "const")) {
    const consts = values as ConstValue[];
    const shape = [...consts[0].shape];
    shape[axis] = consts.reduce((s, v) => s + v.shape[axis], 0);
    const outer = size(shape.slice(0, axis));
    const data: number[] = [];
    for (let o = 0; o < outer; o++) {
      for (const v of consts) {
        const inner = size(v.shape.slice(axis));
        data.push(...v.data.subarray(o * inner, (o + 1) * inner));
      }
    }
    return [constValue(data, shape, consts.every((v) => v.integer))];
  }
  const g = ctx.graph;
  if (rank === 4 && values.some(isChannelsLast)) {
    return [
      tensorValue(concat(values.map((v) => channelsLast(g, v, "Concat")), STORED_AXIS[axis]), true),
    ];
  }
  return [tensorValue(concat(values.map((v) => plain(g, v)), axis))];
}

/** Squeeze and Unsqueeze: a reshape by axes from an attribute or (opset 13) an input. */
function squeeze(kind: "squeeze" | "unsqueeze"): Converter {
  return (ctx) => {
    const v = need(ctx, 0);
    const shape = logicalShape(v);
    const axes = axesOf(ctx, 1, 13);
    let target: number[];
    if (kind === "squeeze") {
      const drop = axes === undefined
        ? shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0)
        : axes.map((a) => normAxis(a, shape.length));
      target = shape.filter((_, i) => !drop.includes(i));
    } else {
      if (axes === undefined) fail("needs axes");
      const rank = shape.length + axes.length;
      const at = axes.map((a) => normAxis(a, rank));
      target = [];
      let next = 0;
      for (let i = 0; i < rank; i++) target.push(at.includes(i) ? 1 : shape[next++]);
    }
    return [reshaped(ctx, v, target)];
  };
}

function shapeOp(ctx: ConvertContext): Value[] {
  const shape = logicalShape(need(ctx, 0));
  const rank = shape.length;
  const clamp = (i: number) => Math.min(Math.max(i < 0 ? i + rank : i, 0), rank);
  const dims = shape.slice(clamp(int(ctx, "start", 0)), clamp(int(ctx, "end", rank)));
  return [constValue(dims, [dims.length], true)];
}

function gatherOp(ctx: ConvertContext): Value[] {
  const data = need(ctx, 0);
  const indices = constant(ctx, 1, "indices")!;
  const shape = logicalShape(data);
  const axis = normAxis(int(ctx, "axis", 0), shape.length);
  const picked = Array.from(indices.data, (i) => (i < 0 ? i + shape[axis] : i));
  if (picked.some((i) => !(i >= 0 && i < shape[axis]))) {
    fail(`an index is outside axis ${axis} of [${shape}]`);
  }
  const outShape = [...shape.slice(0, axis), ...indices.shape, ...shape.slice(axis + 1)];
  if (data.kind === "const") {
    const outer = size(shape.slice(0, axis)), inner = size(shape.slice(axis + 1));
    const out: number[] = [];
    for (let o = 0; o < outer; o++) {
      for (const i of picked) {
        const at = (o * shape[axis] + i) * inner;
        out.push(...data.data.subarray(at, at + inner));
      }
    }
    return [constValue(out, outShape, data.integer)];
  }
  return [reshaped(ctx, tensorValue(take(plain(ctx.graph, data), axis, picked)), outShape)];
}

function sliceOp(ctx: ConvertContext): Value[] {
  const v = need(ctx, 0);
  const shape = logicalShape(v);
  const list = (i: number, name: string) =>
    ctx.opset >= 10
      ? (constant(ctx, i, name) ? Array.from(constant(ctx, i, name)!.data) : undefined)
      : ints(ctx, name);
  const starts = list(1, "starts")!, ends = list(2, "ends")!;
  const axes = (list(3, "axes") ?? starts.map((_, i) => i)).map((a) => normAxis(a, shape.length));
  const steps = list(4, "steps") ?? starts.map(() => 1);
  let picked: number[][] = shape.map((d) => Array.from({ length: d }, (_, i) => i));
  axes.forEach((axis, j) => {
    const d = shape[axis], step = steps[j];
    if (step === 0) fail("a step of 0");
    const clampStart = (s: number) => {
      const x = s < 0 ? s + d : s;
      return step > 0 ? Math.min(Math.max(x, 0), d) : Math.min(Math.max(x, -1), d - 1);
    };
    const start = clampStart(starts[j]), end = clampStart(ends[j]);
    const indices: number[] = [];
    for (let i = start; step > 0 ? i < end : i > end; i += step) indices.push(i);
    picked = picked.map((p, i) => (i === axis ? indices : p));
  });
  const outShape = picked.map((p) => p.length);
  if (outShape.some((d) => d === 0)) fail(`slices [${shape}] to nothing`);
  if (v.kind === "const") {
    const strides = shape.map((_, i) => size(shape.slice(i + 1)));
    const out: number[] = [];
    const walk = (axis: number, offset: number) => {
      if (axis === shape.length) return void out.push(v.data[offset]);
      for (const i of picked[axis]) walk(axis + 1, offset + i * strides[axis]);
    };
    walk(0, 0);
    return [constValue(out, outShape, v.integer)];
  }
  let t = plain(ctx.graph, v);
  picked.forEach((p, axis) => {
    if (p.length !== shape[axis] || p.some((i, k) => i !== k)) t = take(t, axis, p);
  });
  return [tensorValue(t)];
}

function castOp(ctx: ConvertContext): Value[] {
  const v = need(ctx, 0);
  const to = int(ctx, "to", 1);
  const toFloat = [1, 10, 11, 16].includes(to);
  if (v.kind === "const") {
    return [constValue(toFloat ? v.data : v.data.map(Math.trunc), v.shape, !toFloat)];
  }
  if (!toFloat) fail(`casts a tensor to element type ${to}; only floats flow through the network`);
  return [v];
}

function constantOfShape(ctx: ConvertContext): Value[] {
  const shape = Array.from(constant(ctx, 0, "shape")!.data);
  const t = attribute(ctx.node, "value");
  let value = 0, integer = false;
  if (t !== undefined && typeof t === "object" && !Array.isArray(t)) {
    const values = tensorValues(t, "ConstantOfShape value");
    value = values.data[0];
    integer = values.kind === "int";
  }
  return [constValue(new Float64Array(size(shape)).fill(value), shape, integer)];
}

function expandOp(ctx: ConvertContext): Value[] {
  const v = need(ctx, 0);
  const requested = Array.from(constant(ctx, 1, "shape")!.data);
  const shape = logicalShape(v);
  const rank = Math.max(shape.length, requested.length);
  const target = Array.from({ length: rank }, (_, i) => {
    const a = shape[shape.length - rank + i] ?? 1, b = requested[requested.length - rank + i] ?? 1;
    return a === 1 ? b : a;
  });
  if (v.kind === "const") {
    return [
      constElementwise(
        "Expand",
        [v, constValue(new Float64Array(size(target)), target, v.integer)],
        (x) => x,
      ),
    ];
  }
  return [tensorValue(broadcastTo(plain(ctx.graph, v), target))];
}

function clipOp(ctx: ConvertContext): Value[] {
  const bound = (i: number, name: string, fallback: number) => {
    if (ctx.opset < 11) return float(ctx, name, fallback);
    const v = constant(ctx, i, `${name} bound`);
    return v === undefined ? fallback : v.data[0];
  };
  const low = bound(1, "min", -Infinity), high = bound(2, "max", Infinity);
  return unary((t) => clip(t, low, high), (x) => Math.min(Math.max(x, low), high))(ctx);
}

function padOp(ctx: ConvertContext): Value[] {
  const v = need(ctx, 0);
  const shape = logicalShape(v);
  const mode = text(ctx, "mode", "constant");
  const pads = ctx.opset >= 11
    ? Array.from(constant(ctx, 1, "pads")!.data)
    : ints(ctx, "pads") ?? [];
  const value = ctx.opset >= 11
    ? constant(ctx, 2, "constant value")?.data[0] ?? 0
    : float(ctx, "value", 0);
  if (ctx.opset >= 18 && ctx.input(3) !== undefined) {
    fail("padding chosen axes (input 3) is not supported");
  }
  const nonSpatial = [0, 1, 4, 5].some((i) => pads[i] !== 0);
  if (
    mode !== "constant" || value !== 0 || shape.length !== 4 || nonSpatial ||
    pads.some((p) => p < 0)
  ) {
    fail("only zero padding of the height and width of images is supported");
  }
  // A 1x1 depthwise convolution by ones with those pads: the image, framed by zeros.
  const x = channelsLast(ctx.graph, v, "Pad");
  const c = x.shape[3];
  const ones = ctx.graph.constant(new Float64Array(c).fill(1), [1, 1, 1, c]);
  const y = convolution(x, ones, null, { groups: c, pads: [pads[2], pads[3], pads[6], pads[7]] });
  return [tensorValue(y, true)];
}

function passThrough(ctx: ConvertContext): Value[] {
  return [need(ctx, 0)];
}

const truncDiv = (a: number, b: number, integer: boolean) => (integer ? Math.trunc(a / b) : a / b);

/** Every supported operator, by ONNX name. */
export const CONVERTERS: Readonly<Record<string, Converter>> = {
  Add: binary(add, (a, b) => a + b),
  AveragePool: pool("avg"),
  BatchNormalization: batchNormalization,
  Cast: castOp,
  Clip: clipOp,
  Concat: concatOp,
  ConstantOfShape: constantOfShape,
  Conv: conv,
  Div: binary(div, truncDiv),
  Dropout: passThrough,
  Exp: unary(exp, Math.exp),
  Expand: expandOp,
  Flatten: flatten,
  Gather: gatherOp,
  Gemm: gemm,
  GlobalAveragePool: globalPool("avg"),
  GlobalMaxPool: globalPool("max"),
  HardSigmoid: (ctx) => {
    const alpha = float(ctx, "alpha", 0.2), beta = float(ctx, "beta", 0.5);
    return unary(
      (t) => hardSigmoid(t, alpha, beta),
      (x) => Math.min(Math.max(alpha * x + beta, 0), 1),
    )(ctx);
  },
  HardSwish: unary(hardSwish, (x) => x * Math.min(Math.max(x / 6 + 0.5, 0), 1)),
  Identity: passThrough,
  MatMul: matMul,
  MaxPool: pool("max"),
  Mul: binary(mul, (a, b) => a * b),
  Neg: unary(neg, (x) => -x),
  Pad: padOp,
  ReduceMax: reduce("max", 18),
  ReduceMean: reduce("mean", 18),
  ReduceSum: reduce("sum", 13),
  Relu: unary(relu, (x) => Math.max(x, 0)),
  Reshape: reshapeOp,
  Shape: shapeOp,
  Sigmoid: unary(sigmoid, (x) => 1 / (1 + Math.exp(-x))),
  Slice: sliceOp,
  Sqrt: unary(sqrt, Math.sqrt),
  Squeeze: squeeze("squeeze"),
  Sub: binary(sub, (a, b) => a - b),
  Tanh: unary(tanh, Math.tanh),
  Transpose: transposeOp,
  Unsqueeze: squeeze("unsqueeze"),
};

/** The names of the supported operators, sorted. */
export const SUPPORTED_OPS: readonly string[] = Object.keys(CONVERTERS).sort();
