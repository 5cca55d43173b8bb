/**
 * Parts of a tensor along one axis and tensors joined along one: composed from `gather` (a slice
 * picks rows) and `segmentSum` (a concatenation places rows), each the other's gradient. The axis
 * is moved to the front and back by transposes, so any axis works at the cost of two copies.
 */
import { ShapeError } from "../errors.ts";
import { add, gather, reshape, segmentSum, transpose } from "./ops.ts";
import { formatShape, type Tensor } from "./tensor.ts";

function normalizeAxis(op: string, rank: number, axis: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new ShapeError(op, `axis ${axis} is out of range for rank ${rank}`);
  }
  return a;
}

/** `x` with `axis` first, as rows [length, rest], and how to put a result back. */
function asRows(x: Tensor, axis: number) {
  const perm = [axis, ...x.shape.map((_, i) => i).filter((i) => i !== axis)];
  const moved = axis === 0 ? x : transpose(x, perm);
  const rest = moved.shape.slice(1);
  const rows = reshape(moved, [moved.shape[0], rest.reduce((a, b) => a * b, 1)]);
  const back = (t: Tensor): Tensor => {
    const shaped = reshape(t, [t.shape[0], ...rest]);
    return axis === 0 ? shaped : transpose(shaped, perm.map((_, i) => perm.indexOf(i)));
  };
  return { rows, back };
}

/** The entries at `indices` (repeats allowed, any order) of `x` along `axis`. */
export function take(x: Tensor, axis: number, indices: readonly number[]): Tensor {
  const a = normalizeAxis("take", x.rank, axis);
  const length = x.shape[a];
  const bad = indices.find((i) => !(Number.isInteger(i) && i >= 0 && i < length));
  if (bad !== undefined) {
    throw new ShapeError("take", `index ${bad} lies outside axis ${a} of ${formatShape(x.shape)}`);
  }
  if (indices.length === 0) throw new ShapeError("take", "no indices");
  if (indices.length === length && indices.every((i, k) => i === k)) return x;
  const { rows, back } = asRows(x, a);
  return back(gather(rows, x.graph.constant(indices, [indices.length], "int32")));
}

/**
 * The entries `start`, `start + step`, ... before `end` of `x` along `axis` (a negative step walks
 * backwards from `start`, which must then lie above `end`).
 */
export function slice(x: Tensor, axis: number, start: number, end: number, step = 1): Tensor {
  if (!Number.isInteger(step) || step === 0) {
    throw new ShapeError("slice", `step must be a nonzero integer, got ${step}`);
  }
  const picked: number[] = [];
  for (let i = start; step > 0 ? i < end : i > end; i += step) picked.push(i);
  if (picked.length === 0) {
    throw new ShapeError("slice", `[${start}:${end}:${step}] of ${formatShape(x.shape)} is empty`);
  }
  return take(x, axis, picked);
}

/** `tensors` joined along `axis` (every other dimension equal). */
export function concat(tensors: readonly Tensor[], axis: number): Tensor {
  if (tensors.length === 0) throw new ShapeError("concat", "needs at least one tensor");
  const first = tensors[0];
  const a = normalizeAxis("concat", first.rank, axis);
  for (const t of tensors) {
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new ShapeError(
        "concat",
        `shapes ${tensors.map((u) => formatShape(u.shape)).join(", ")} differ beside axis ${a}`,
      );
    }
  }
  if (tensors.length === 1) return first;
  const total = tensors.reduce((s, t) => s + t.shape[a], 0);
  let joined: Tensor | null = null;
  let back: ((t: Tensor) => Tensor) | null = null;
  let offset = 0;
  for (const t of tensors) {
    const parts = asRows(t, a);
    back ??= parts.back;
    const ids = Array.from({ length: t.shape[a] }, (_, i) => offset + i);
    const placed = segmentSum(parts.rows, t.graph.constant(ids, [ids.length], "int32"), total);
    joined = joined === null ? placed : add(joined, placed);
    offset += t.shape[a];
  }
  return back!(joined!);
}
