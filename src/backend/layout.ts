/**
 * How an elementwise node reads its inputs: for each input, the step to take in its storage per step
 * of each output coordinate. Broadcasting (stride 0), transposition (permuted strides) and plain
 * same-shape reads are all the same mechanism; backends pick faster loops for the common cases.
 */
import type { Shape, Tensor } from "../graph/tensor.ts";

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

/** A reduction's input seen as [outer, length, inner] around the reduced axis. */
export function reductionExtents(x: Tensor, axis: number): [number, number, number] {
  let outer = 1, inner = 1;
  for (let i = 0; i < axis; i++) outer *= x.shape[i];
  for (let i = axis + 1; i < x.rank; i++) inner *= x.shape[i];
  return [outer, x.shape[axis], inner];
}
