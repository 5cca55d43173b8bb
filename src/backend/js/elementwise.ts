/**
 * Elementwise kernels on typed arrays, generated per program: a chain of fused elementwise ops (see
 * fusion.ts) becomes one JavaScript loop, compiled once with `new Function` and cached by its source,
 * so V8 sees a monomorphic loop with the ops inlined. The text comes only from the expression
 * renderer below (numbers and fixed names), never from data.
 */
import { type ExprTable, infixText, renderExpr } from "../../graph/expr.ts";
import type { FusedProgram } from "../fusion.ts";
import type { ElementwiseKernel } from "../kernel.ts";
import type { FloatArray } from "../backend.ts";

/** A JavaScript literal for `value`, safe inside any expression. */
function literal(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "Infinity";
  if (value === -Infinity) return "(-Infinity)";
  return Object.is(value, -0) || value < 0 ? `(${value === 0 ? "-0" : value})` : `${value}`;
}

/** Rendering into JavaScript text; `args` name the current node's arguments. */
function jsTable(args: readonly string[]): ExprTable<string> {
  return {
    arg: (i) => args[i],
    constant: literal,
    unary: {
      neg: (x) => `(-${x})`,
      abs: (x) => `Math.abs(${x})`,
      sqrt: (x) => `Math.sqrt(${x})`,
      exp: (x) => `Math.exp(${x})`,
      log: (x) => `Math.log(${x})`,
      tanh: (x) => `Math.tanh(${x})`,
    },
    ...infixText("===", "!=="),
    test: {
      isNan: (x) => `(${x} !== ${x})`,
      isFinite: (x) => `(${x} - ${x} === 0)`,
    },
    logic: {
      and: (a, b) => `(${a} && ${b})`,
      or: (a, b) => `(${a} || ${b})`,
    },
    select: (c, a, b) => `(${c} ? ${a} : ${b})`,
  };
}

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
function compileLoop(program: FusedProgram): Loop {
  const access = program.inputs.map((x) => x.access);
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
  program.nodes.forEach((node, k) => {
    const args = node.args.map((a) => (a.kind === "input" ? `x${a.index}` : `t${a.index}`));
    body.push(`const t${k} = ${renderExpr(node.expr, jsTable(args))};`);
  });
  body.push(`out[i] = t${program.nodes.length - 1};`);
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

/**
 * For each output row (all axes but the last), the offset of the row's first element in an input
 * read with `strides` (aligned on the right: leading output axes may have none).
 */
export function rowBases(shape: readonly number[], strides: readonly number[]): Int32Array {
  const rank = shape.length;
  let rows = 1;
  for (let d = 0; d < rank - 1; d++) rows *= shape[d];
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

/** A closure computing `kernel` from `ins` (the program's external inputs) into `out`. */
export function elementwiseKernel(
  kernel: ElementwiseKernel,
  ins: readonly FloatArray[],
  out: FloatArray,
): () => void {
  const { program, shape, size } = kernel;
  const loop = compileLoop(program);
  const strided = program.inputs.some((x) => x.access === "strided");
  const rank = shape.length;
  const inner = strided && rank > 0 ? shape[rank - 1] : size;
  const rows = size / inner;
  const bases = program.inputs.map((x) =>
    x.access === "strided" ? rowBases(shape, x.strides) : null
  );
  const steps = program.inputs.map((x) =>
    x.access === "strided" ? (x.strides[x.strides.length - 1] ?? 0) : 0
  );
  return () => loop(ins, out, rows, inner, bases, steps);
}
