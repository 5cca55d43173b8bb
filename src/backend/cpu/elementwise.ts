/**
 * Elementwise kernels on typed arrays. The scalar function of each op lives in one table; the loops
 * are shared and specialised only by how inputs are read (same shape, scalar, or strided).
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

/** Offsets into a strided input for each output element, in output order. */
function stridedOffsets(shape: readonly number[], strides: readonly number[]): Int32Array {
  let size = 1;
  for (const d of shape) size *= d;
  const offsets = new Int32Array(size);
  const rank = shape.length;
  const coord = new Array<number>(rank).fill(0);
  let offset = 0;
  for (let i = 0; i < size; i++) {
    offsets[i] = offset;
    for (let d = rank - 1; d >= 0; d--) {
      coord[d]++;
      offset += strides[d];
      if (coord[d] < shape[d]) break;
      offset -= strides[d] * shape[d];
      coord[d] = 0;
    }
  }
  return offsets;
}

/** Index of input element `i` for each output element, or a mode that needs no table. */
type Reader = { kind: "full" } | { kind: "scalar" } | { kind: "table"; offsets: Int32Array };

function reader(layout: InputLayout, shape: readonly number[]): Reader {
  if (layout.access === "strided") {
    return { kind: "table", offsets: stridedOffsets(shape, layout.strides) };
  }
  return { kind: layout.access };
}

/** Materialises an input as a same-shape array when it is strided (a gather through the table). */
function expand(src: FloatArray, r: Reader, size: number, scratch: FloatArray): FloatArray {
  if (r.kind !== "table") return src;
  const o = r.offsets;
  for (let i = 0; i < size; i++) scratch[i] = src[o[i]];
  return scratch;
}

/** Prepares a closure computing `node` from `inputs` into `out`. */
export function elementwiseKernel(
  node: Tensor,
  inputs: readonly FloatArray[],
  out: FloatArray,
  newArray: (size: number) => FloatArray,
): () => void {
  const fn = SCALAR_FUNCTIONS[node.op];
  if (fn === undefined) throw new Error(`cpu backend: no elementwise function for op "${node.op}"`);
  const size = node.size;
  const readers = elementwiseLayout(node).map((l) => reader(l, node.shape));
  const scratch = readers.map((
    r,
  ) => (r.kind === "table" && inputs.length > 1 ? newArray(size) : null));
  const arity = inputs.length;

  if (arity === 1) {
    const f = fn as Fn1;
    const r = readers[0];
    return () => {
      const a = inputs[0];
      if (r.kind === "full") { for (let i = 0; i < size; i++) out[i] = f(a[i]); }
      else if (r.kind === "scalar") out.fill(f(a[0]), 0, size);
      else {
        const o = r.offsets;
        for (let i = 0; i < size; i++) out[i] = f(a[o[i]]);
      }
    };
  }
  if (arity === 2) {
    const f = fn as Fn2;
    const [ra, rb] = readers;
    return () => {
      const a = expand(inputs[0], ra, size, scratch[0]!);
      const b = expand(inputs[1], rb, size, scratch[1]!);
      const aScalar = ra.kind === "scalar", bScalar = rb.kind === "scalar";
      if (!aScalar && !bScalar) { for (let i = 0; i < size; i++) out[i] = f(a[i], b[i]); }
      else if (bScalar && !aScalar) {
        const bv = b[0];
        for (let i = 0; i < size; i++) out[i] = f(a[i], bv);
      } else if (aScalar && !bScalar) {
        const av = a[0];
        for (let i = 0; i < size; i++) out[i] = f(av, b[i]);
      } else out.fill(f(a[0], b[0]), 0, size);
    };
  }
  const f = fn as Fn3;
  return () => {
    const [a, b, c] = inputs.map((x, j) => expand(x, readers[j], size, scratch[j]!));
    const sa = readers[0].kind === "scalar" ? 0 : 1;
    const sb = readers[1].kind === "scalar" ? 0 : 1;
    const sc = readers[2].kind === "scalar" ? 0 : 1;
    for (let i = 0; i < size; i++) out[i] = f(a[i * sa], b[i * sb], c[i * sc]);
  };
}
