/**
 * The values an ONNX graph computes, as the importer holds them: graph tensors, or constants
 * known at import (shapes, axes, small initializers, and what the exporters compute from them,
 * which is folded here rather than run).
 *
 * ONNX images are channels first (NCHW); this engine's are channels last (NHWC). A rank-4 tensor
 * may therefore be held channels last, its logical (ONNX) shape [N, C, H, W] stored as
 * [N, H, W, C]: convolutions, pools and elementwise ops keep it so, and it is put back in ONNX's
 * order only where the order matters (a flatten, a reshape, a transpose, a product) and the two
 * orders differ (not when H = W = 1 or C = 1).
 */
import { ShapeError } from "../../errors.ts";
import { rowMajorStrides } from "../../backend/layout.ts";
import { reshape, transpose } from "../../graph/ops.ts";
import type { Graph, Tensor } from "../../graph/tensor.ts";

/** A tensor of the graph; `channelsLast`: a logical [N, C, H, W] stored as [N, H, W, C]. */
export interface TensorValue {
  readonly kind: "tensor";
  readonly tensor: Tensor;
  readonly channelsLast: boolean;
}

/** A value known at import: row-major data, integer or float. */
export interface ConstValue {
  readonly kind: "const";
  readonly data: Float64Array;
  readonly shape: readonly number[];
  readonly integer: boolean;
}

/** Any value. */
export type Value = TensorValue | ConstValue;

/** NCHW axes in the order NHWC stores them, and the inverse. */
export const TO_CHANNELS_LAST = [0, 2, 3, 1] as const;
export const TO_CHANNELS_FIRST = [0, 3, 1, 2] as const;

/** A tensor value. */
export function tensorValue(tensor: Tensor, channelsLast = false): TensorValue {
  return { kind: "tensor", tensor, channelsLast };
}

/** A constant value. */
export function constValue(
  data: ArrayLike<number>,
  shape: readonly number[],
  integer: boolean,
): ConstValue {
  const values = Float64Array.from(data);
  if (values.length !== shape.reduce((a, b) => a * b, 1)) {
    throw new ShapeError("constant", `${values.length} values for shape [${shape}]`);
  }
  return { kind: "const", data: values, shape: [...shape], integer };
}

/** The value's ONNX (logical) shape. */
export function logicalShape(v: Value): number[] {
  if (v.kind === "const") return [...v.shape];
  const s = v.tensor.shape;
  return v.channelsLast ? [s[0], s[3], s[1], s[2]] : [...s];
}

/** Whether NCHW and NHWC orders of a [N, C, H, W] shape lay the values out alike. */
function sameOrder(shape: readonly number[]): boolean {
  return shape[1] === 1 || shape[2] * shape[3] === 1;
}

/** The value as a graph tensor in ONNX's order (constants become graph constants). */
export function plain(g: Graph, v: Value): Tensor {
  if (v.kind === "const") return g.constant(v.data, v.shape);
  if (!v.channelsLast) return v.tensor;
  const logical = logicalShape(v);
  return sameOrder(logical) ? reshape(v.tensor, logical) : transpose(v.tensor, TO_CHANNELS_FIRST);
}

/** A rank-4 value as a channels-last tensor [N, H, W, C]. */
export function channelsLast(g: Graph, v: Value, op: string): Tensor {
  if (v.kind === "tensor" && v.channelsLast) return v.tensor;
  const shape = logicalShape(v);
  if (shape.length !== 4) {
    throw new ShapeError(op, `expects images [N, C, H, W], got a value of shape [${shape}]`);
  }
  const stored = [shape[0], shape[2], shape[3], shape[1]];
  if (v.kind === "const") return g.constant(permute(v.data, shape, TO_CHANNELS_LAST), stored);
  return sameOrder(shape) ? reshape(v.tensor, stored) : transpose(v.tensor, TO_CHANNELS_LAST);
}

/**
 * A value of rank at most 4 as an operand broadcast against a channels-last rank-4 value: its
 * shape aligned on the right with [N, C, H, W] (as ONNX broadcasts), then stored as NHWC.
 */
export function channelsLastOperand(g: Graph, v: Value, op: string): Tensor {
  if (v.kind === "tensor" && v.channelsLast) return v.tensor;
  const shape = logicalShape(v);
  if (shape.length > 4) {
    throw new ShapeError(op, `a rank-${shape.length} operand cannot broadcast against images`);
  }
  const padded = [...new Array(4 - shape.length).fill(1), ...shape];
  const stored = [padded[0], padded[2], padded[3], padded[1]];
  if (v.kind === "const") return g.constant(permute(v.data, padded, TO_CHANNELS_LAST), stored);
  const t = reshape(v.tensor, padded);
  return sameOrder(padded) ? reshape(t, stored) : transpose(t, TO_CHANNELS_LAST);
}

/** `data` of `shape` with its axes permuted: output axis i is input axis perm[i]. */
export function permute(
  data: ArrayLike<number>,
  shape: readonly number[],
  perm: readonly number[],
): Float64Array {
  const out = new Float64Array(data.length);
  const inStrides = rowMajorStrides(shape);
  const outShape = perm.map((p) => shape[p]);
  const index = new Array<number>(shape.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let offset = 0;
    for (let i = 0; i < perm.length; i++) offset += index[i] * inStrides[perm[i]];
    out[o] = data[offset];
    for (let i = perm.length - 1; i >= 0; i--) {
      if (++index[i] < outShape[i]) break;
      index[i] = 0;
    }
  }
  return out;
}

/** `data` of `perm`-ed values (float32 precision kept): see {@link permute}. */
export function permute32(
  data: Float32Array,
  shape: readonly number[],
  perm: readonly number[],
): Float32Array {
  return Float32Array.from(permute(data, shape, perm));
}

/** NumPy broadcasting of two shapes, or null. */
export function broadcast(a: readonly number[], b: readonly number[]): number[] | null {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1, db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    out.push(Math.max(da, db));
  }
  return out;
}

/** An elementwise function of constants, broadcasting. */
export function constElementwise(
  op: string,
  values: readonly ConstValue[],
  f: (...xs: number[]) => number,
): ConstValue {
  let shape: number[] = [];
  for (const v of values) {
    const next = broadcast(shape, v.shape);
    if (next === null) {
      throw new ShapeError(
        op,
        `shapes ${values.map((x) => `[${x.shape}]`).join(" and ")} do not broadcast`,
      );
    }
    shape = next;
  }
  const size = shape.reduce((a, b) => a * b, 1);
  const outStrides = rowMajorStrides(shape);
  const readers = values.map((v) => {
    const own = rowMajorStrides(v.shape);
    const lead = shape.length - v.shape.length;
    return shape.map((_, i) => (i < lead || v.shape[i - lead] === 1 ? 0 : own[i - lead]));
  });
  const data = new Float64Array(size);
  const args = new Array<number>(values.length);
  for (let o = 0; o < size; o++) {
    for (let k = 0; k < values.length; k++) {
      let offset = 0, rest = o;
      for (let i = 0; i < shape.length; i++) {
        const c = Math.floor(rest / outStrides[i]);
        rest -= c * outStrides[i];
        offset += c * readers[k][i];
      }
      args[k] = values[k].data[offset];
    }
    data[o] = f(...args);
  }
  return { kind: "const", data, shape, integer: values.every((v) => v.integer) };
}
