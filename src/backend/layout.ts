/**
 * How an elementwise node reads its inputs: for each input, the step to take in its storage per step
 * of each output coordinate. Broadcasting (stride 0), transposition (permuted strides) and plain
 * same-shape reads are all the same mechanism; backends pick faster loops for the common cases.
 * And which tensor's storage a view reads (storageBase).
 */
import type { Shape, Tensor } from "../graph/tensor.ts";
import { opDefinition } from "../graph/ops.ts";

/** The tensor whose storage `t` uses: itself, or the base of a chain of views. */
export function storageBase(t: Tensor): Tensor {
  while (opDefinition(t.op).kind === "view") t = t.inputs[0];
  return t;
}

/** full: input index = output index; scalar: always element 0; strided: use the strides. */
export type Access = "full" | "scalar" | "strided";

/** One input's reading pattern. */
export interface InputLayout {
  readonly access: Access;
  /** Element stride per output dimension (same length as the output's shape). */
  readonly strides: readonly number[];
}

/** Row-major strides of a shape. */
export function rowMajorStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** The reading pattern of each input of an elementwise node (broadcast, or permuted for transpose). */
export function elementwiseLayout(node: Tensor): InputLayout[] {
  const out = node.shape;
  if (node.spec.op === "transpose") {
    const x = node.inputs[0];
    const perm = node.spec.perm;
    const xStrides = rowMajorStrides(x.shape);
    const identity = perm.every((p, i) => p === i);
    return [{
      access: identity ? "full" : x.size === 1 ? "scalar" : "strided",
      strides: perm.map((p) => xStrides[p]),
    }];
  }
  return node.inputs.map((x) => {
    const lead = out.length - x.rank;
    const own = rowMajorStrides(x.shape);
    const strides = out.map((d, i) => {
      if (i < lead) return 0;
      return x.shape[i - lead] === 1 && d !== 1 ? 0 : own[i - lead];
    });
    const access: Access = x.size === node.size ? "full" : x.size === 1 ? "scalar" : "strided";
    return { access, strides };
  });
}

/**
 * Strides over `shape` re-expressed over `target`, a shape of as many elements (a reshape of it):
 * the strides that address the same element from the same flat index. A dimension of `target` may
 * split one of `shape` or merge several whose strides nest (the outer one's stride is the inner
 * one's times its size, as for a contiguous or a broadcast run); otherwise the address is not
 * affine in `target`'s coordinates and the answer is null.
 */
export function stridesOver(
  shape: Shape,
  strides: readonly number[],
  target: Shape,
): number[] | null {
  const out = new Array<number>(target.length).fill(0);
  // Position in `shape`: dimension i, of which `unit` (a divisor) is consumed and `left` remains.
  let i = shape.length - 1;
  let left = i >= 0 ? shape[i] : 1, unit = 1;
  const next = () => {
    i--;
    left = i >= 0 ? shape[i] : 1;
    unit = 1;
  };
  for (let j = target.length - 1; j >= 0; j--) {
    let need = target[j];
    if (need === 1) continue;
    while (i >= 0 && left === 1) next();
    if (i < 0) return null;
    out[j] = strides[i] * unit;
    while (need > 1) {
      if (left % need === 0) {
        left /= need;
        unit *= need;
        need = 1;
      } else if (need % left === 0) {
        // Merge the rest of dimension i with the next one out, if their strides nest.
        need /= left;
        const inner = strides[i] * shape[i];
        next();
        while (i >= 0 && shape[i] === 1) next();
        if (i < 0 || strides[i] !== inner) return null;
      } else {
        return null;
      }
    }
  }
  return out;
}

/** A reduction's input seen as [outer, length, inner] around the reduced axis. */
export function reductionExtents(x: Tensor, axis: number): [number, number, number] {
  let outer = 1, inner = 1;
  for (let i = 0; i < axis; i++) outer *= x.shape[i];
  for (let i = axis + 1; i < x.rank; i++) inner *= x.shape[i];
  return [outer, x.shape[axis], inner];
}
