/**
 * Elementwise kernels on typed arrays, generated per program: a chain of fused elementwise ops (see
 * fusion.ts) becomes one JavaScript loop, compiled once with `new Function` and cached by its source,
 * so V8 sees a monomorphic loop with the ops inlined. The generated text comes only from the fixed
 * expression table below, never from data.
 */
import type { Tensor } from "../../graph/tensor.ts";
import type { FloatArray } from "../backend.ts";
import { fusedProgram } from "../fusion.ts";

/** The JavaScript expression of each elementwise op, over arguments x0, x1, x2. */
export const JS_EXPRESSIONS: Readonly<Record<string, string>> = {
  neg: "-x0",
  exp: "Math.exp(x0)",
  log: "Math.log(x0)",
  sqrt: "Math.sqrt(x0)",
  square: "x0 * x0",
  relu: "(x0 < 0 ? 0 : x0)", // NaN stays NaN so that a broken loss shows
  step: "(x0 > 0 ? 1 : 0)",
  abs: "Math.abs(x0)",
  sign: "(x0 > 0 ? 1 : x0 < 0 ? -1 : 0)",
  isFinite: "(x0 - x0 === 0 ? 1 : 0)",
  tanh: "Math.tanh(x0)",
  sigmoid: "1 / (1 + Math.exp(-x0))",
  broadcastTo: "x0",
  transpose: "x0",
  add: "x0 + x1",
  sub: "x0 - x1",
  mul: "x0 * x1",
  div: "x0 / x1",
  // A NaN on either side gives NaN, as on WebGPU.
  maximum: "(x0 >= x1 ? x0 : x1 > x0 ? x1 : x0 + x1)",
  minimum: "(x0 <= x1 ? x0 : x1 < x0 ? x1 : x0 + x1)",
  greater: "(x0 > x1 ? 1 : 0)",
  greaterEqual: "(x0 >= x1 ? 1 : 0)",
  equal: "(x0 === x1 ? 1 : 0)",
  where: "(x0 !== 0 ? x1 : x2)",
};

type Loop = (
  ins: readonly FloatArray[],
  out: FloatArray,
  rows: number,
  inner: number,
  bases: readonly (Int32Array | null)[],
  steps: readonly number[],
) => void;

const loops = new Map<string, Loop>();

/** The loop for a program: its source is the cache key, so equal programs share one function. */
function compileLoop(
  access: readonly ("full" | "scalar" | "strided")[],
  nodes: readonly { op: string; args: readonly { kind: "input" | "node"; index: number }[] }[],
): Loop {
  const lines: string[] = [];
  access.forEach((a, j) => {
    lines.push(`const in${j} = ins[${j}];`);
    if (a === "scalar") lines.push(`const x${j} = in${j}[0];`);
    if (a === "strided") lines.push(`const b${j} = bases[${j}], s${j} = steps[${j}];`);
  });
  const body: string[] = [];
  access.forEach((a, j) => {
    if (a === "full") body.push(`const x${j} = in${j}[i];`);
    if (a === "strided") body.push(`const x${j} = in${j}[o${j} + j * s${j}];`);
  });
  nodes.forEach((node, k) => {
    const expr = JS_EXPRESSIONS[node.op];
    if (expr === undefined) throw new Error(`cpu backend: no expression for op "${node.op}"`);
    const args = node.args.map((a) => (a.kind === "input" ? `x${a.index}` : `t${a.index}`));
    body.push(`const t${k} = ${expr.replace(/\bx(\d)\b/g, (_, d) => `(${args[Number(d)]})`)};`);
  });
  body.push(`out[i] = t${nodes.length - 1};`);
  const rowStart = access.map((a, j) => (a === "strided" ? `const o${j} = b${j}[r];` : ""))
    .join(" ");
  const source = `${lines.join("\n")}
let i = 0;
for (let r = 0; r < rows; r++) {
  ${rowStart}
  for (let j = 0; j < inner; j++, i++) {
    ${body.join("\n    ")}
  }
}`;
  let loop = loops.get(source);
  if (loop === undefined) {
    loop = new Function("ins", "out", "rows", "inner", "bases", "steps", source) as Loop;
    loops.set(source, loop);
  }
  return loop;
}

/** For each output row (all axes but the last), the offset of the row's first element in an input. */
function rowBases(shape: readonly number[], strides: readonly number[]): Int32Array {
  const rank = shape.length;
  let rows = 1;
  for (let d = 0; d < rank - 1; d++) rows *= shape[d];
  // Strides may describe fewer leading axes than the output has (leading 1s): align on the right.
  const s = shape.map((_, d) => strides[d - (rank - strides.length)] ?? 0);
  const base = new Int32Array(rows);
  const coord = new Array<number>(Math.max(rank - 1, 0)).fill(0);
  let offset = 0;
  for (let r = 0; r < rows; r++) {
    base[r] = offset;
    for (let d = rank - 2; d >= 0; d--) {
      coord[d]++;
      offset += s[d];
      if (coord[d] < shape[d]) break;
      offset -= s[d] * shape[d];
      coord[d] = 0;
    }
  }
  return base;
}

/**
 * Prepares a closure computing `group` (fused elementwise nodes, the output last) into `out`, given
 * a function that returns each external input's array.
 */
export function elementwiseKernel(
  group: readonly Tensor[],
  arrayOf: (t: Tensor) => FloatArray,
  out: FloatArray,
): () => void {
  const root = group[group.length - 1];
  const program = fusedProgram(group);
  const access = program.inputs.map((x) => x.access);
  const loop = compileLoop(access, program.nodes);
  const ins = program.inputs.map((x) => arrayOf(x.tensor));
  const strided = access.includes("strided");
  const rank = root.rank;
  const inner = strided && rank > 0 ? root.shape[rank - 1] : root.size;
  const rows = root.size / inner;
  const bases = program.inputs.map((x) =>
    x.access === "strided" ? rowBases(root.shape, x.strides) : null
  );
  const steps = program.inputs.map((x) =>
    x.access === "strided" ? (x.strides[x.strides.length - 1] ?? 0) : 0
  );
  return () => loop(ins, out, rows, inner, bases, steps);
}
