/**
 * Elementwise kernels on typed arrays. The scalar function of each op lives in one table; the loops
 * are shared: a flat loop when every input is read like the output (or is a scalar), otherwise a loop
 * over the output's rows with each input advancing by its own stride along the last axis.
 */
import type { Tensor } from "../../graph/tensor.ts";
import type { FloatArray } from "../backend.ts";
import { elementwiseLayout, type InputLayout } from "../layout.ts";

type Fn1 = (a: number) => number;
type Fn2 = (a: number, b: number) => number;
type Fn3 = (a: number, b: number, c: number) => number;

/** The scalar function of each elementwise op. */
export const SCALAR_FUNCTIONS: Readonly<Record<string, Fn1 | Fn2 | Fn3>> = {
  neg: (a: number) => -a,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  square: (a: number) => a * a,
  relu: (a: number) => (a < 0 ? 0 : a), // NaN stays NaN so that a broken loss shows
  step: (a: number) => (a > 0 ? 1 : 0),
  abs: Math.abs,
  sign: (a: number) => (a > 0 ? 1 : a < 0 ? -1 : 0),
  tanh: Math.tanh,
  sigmoid: (a: number) => 1 / (1 + Math.exp(-a)),
  broadcastTo: (a: number) => a,
  transpose: (a: number) => a,
  add: (a: number, b: number) => a + b,
  sub: (a: number, b: number) => a - b,
  mul: (a: number, b: number) => a * b,
  div: (a: number, b: number) => a / b,
  maximum: (a: number, b: number) => (a >= b ? a : b),
  minimum: (a: number, b: number) => (a <= b ? a : b),
  greater: (a: number, b: number) => (a > b ? 1 : 0),
  greaterEqual: (a: number, b: number) => (a >= b ? 1 : 0),
  equal: (a: number, b: number) => (a === b ? 1 : 0),
  where: (c: number, a: number, b: number) => (c !== 0 ? a : b),
};

/**
 * For each output row (all axes but the last), the offset of that row's first element in each input;
 * plus each input's stride along the last axis.
 */
interface RowPlan {
  rows: number;
  inner: number;
  bases: Int32Array[];
  steps: number[];
}

function rowPlan(shape: readonly number[], layouts: readonly InputLayout[]): RowPlan {
  const rank = shape.length;
  const inner = rank === 0 ? 1 : shape[rank - 1];
  let rows = 1;
  for (let d = 0; d < rank - 1; d++) rows *= shape[d];
  const bases = layouts.map((layout) => {
    const base = new Int32Array(rows);
    const coord = new Array<number>(Math.max(rank - 1, 0)).fill(0);
    let offset = 0;
    for (let r = 0; r < rows; r++) {
      base[r] = offset;
      for (let d = rank - 2; d >= 0; d--) {
        coord[d]++;
        offset += layout.strides[d];
        if (coord[d] < shape[d]) break;
        offset -= layout.strides[d] * shape[d];
        coord[d] = 0;
      }
    }
    return base;
  });
  const steps = layouts.map((l) => (rank === 0 ? 0 : l.strides[rank - 1]));
  return { rows, inner, bases, steps };
}

/** Prepares a closure computing `node` from `inputs` into `out`. */
export function elementwiseKernel(
  node: Tensor,
  inputs: readonly FloatArray[],
  out: FloatArray,
): () => void {
  const fn = SCALAR_FUNCTIONS[node.op];
  if (fn === undefined) throw new Error(`cpu backend: no elementwise function for op "${node.op}"`);
  const size = node.size;
  const layouts = elementwiseLayout(node);
  const flat = layouts.every((l) => l.access !== "strided");
  // In the flat case a scalar input is read at index 0 (step 0), any other at i (step 1).
  const flatSteps = layouts.map((l) => (l.access === "scalar" ? 0 : 1));
  const plan = flat ? null : rowPlan(node.shape, layouts);

  if (inputs.length === 1) {
    const f = fn as Fn1;
    const a = inputs[0];
    if (plan === null) {
      const sa = flatSteps[0];
      if (sa === 0) return () => out.fill(f(a[0]), 0, size);
      return () => {
        for (let i = 0; i < size; i++) out[i] = f(a[i]);
      };
    }
    const { rows, inner, bases: [ba], steps: [sa] } = plan;
    return () => {
      for (let r = 0, o = 0; r < rows; r++, o += inner) {
        const base = ba[r];
        for (let j = 0; j < inner; j++) out[o + j] = f(a[base + j * sa]);
      }
    };
  }
  if (inputs.length === 2) {
    const f = fn as Fn2;
    const [a, b] = inputs;
    if (plan === null) {
      const [sa, sb] = flatSteps;
      if (sa === 1 && sb === 1) {
        return () => {
          for (let i = 0; i < size; i++) out[i] = f(a[i], b[i]);
        };
      }
      return () => {
        for (let i = 0; i < size; i++) out[i] = f(a[i * sa], b[i * sb]);
      };
    }
    const { rows, inner, bases: [ba, bb], steps: [sa, sb] } = plan;
    return () => {
      for (let r = 0, o = 0; r < rows; r++, o += inner) {
        const oa = ba[r], ob = bb[r];
        for (let j = 0; j < inner; j++) out[o + j] = f(a[oa + j * sa], b[ob + j * sb]);
      }
    };
  }
  const f = fn as Fn3;
  const [a, b, c] = inputs;
  const { rows, inner, bases: [ba, bb, bc], steps: [sa, sb, sc] } = plan ?? {
    rows: 1,
    inner: size,
    bases: flatSteps.map(() => Int32Array.of(0)),
    steps: flatSteps,
  };
  return () => {
    for (let r = 0, o = 0; r < rows; r++, o += inner) {
      const oa = ba[r], ob = bb[r], oc = bc[r];
      for (let j = 0; j < inner; j++) {
        out[o + j] = f(a[oa + j * sa], b[ob + j * sb], c[oc + j * sc]);
      }
    }
  };
}
