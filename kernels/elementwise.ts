/**
 * One WGSL generator for every elementwise op: the op contributes a scalar expression, the generator
 * the indexing. Each input is read as the same shape as the output, as a scalar, or through strides
 * (broadcasting and transposition), given per input in a uniform so one pipeline serves every shape.
 */
import { LINEAR_ENTRY_PARAMS, linearIndex } from "./common.ts";
import { type ExprTable, infixText, type NumExpr, renderExpr } from "../src/graph/expr.ts";

/** How an input is read; see `src/backend/layout.ts`. */
export type Access = "full" | "scalar" | "strided";

/**
 * A chain of elementwise ops evaluated per output element, the last node being the output (the
 * executor's fused program, src/backend/fusion.ts, has this shape).
 */
export interface ElementwiseProgram {
  /** How each external input is read, and its strides when read through them. */
  readonly inputs: readonly { readonly access: Access; readonly strides: readonly number[] }[];
  /** Each node's value over its arguments, and where each argument comes from. */
  readonly nodes: readonly {
    readonly expr: NumExpr;
    readonly args: readonly { readonly kind: "input" | "node"; readonly index: number }[];
  }[];
}

/** A WGSL f32 literal for `value` (NaN and infinities through their bits: WGSL has no literal). */
function f32Literal(value: number): string {
  const v = Math.fround(value);
  if (Number.isNaN(v)) return "bitcast<f32>(0x7fc00000u)";
  if (v === Infinity) return "bitcast<f32>(0x7f800000u)";
  if (v === -Infinity) return "bitcast<f32>(0xff800000u)";
  const text = Object.is(v, -0) ? "-0.0" : String(v);
  return /[.e]/.test(text) ? text : `${text}.0`;
}

/**
 * Rendering an expression into WGSL over values of type `T` (`f32`, or `vec4<f32>` four lanes at
 * a time: then comparisons give `vec4<bool>`, which `select` and `&`, `|` take lane by lane).
 *
 * WGSL lets compilers assume that no value is NaN or infinite, and llvmpipe does: it folds
 * `select(x, 0, x < 0)` into a max that turns NaN into 0, and `x - x` into 0. So the NaN and
 * finiteness tests read the bits (see {@link WGSL_HELPERS}), which no compiler may fold away.
 */
function wgslTable(T: string, args: readonly string[]): ExprTable<string> {
  const lanes = T === "f32" ? "f" : "v";
  return {
    arg: (i) => args[i],
    constant: (v) => `${T}(${f32Literal(v)})`,
    unary: {
      neg: (x) => `(-${x})`,
      abs: (x) => `abs(${x})`,
      sqrt: (x) => `sqrt(${x})`,
      exp: (x) => `exp(${x})`,
      log: (x) => `log(${x})`,
      // Clamped because some tanh implementations overflow to NaN for large arguments.
      tanh: (x) => `tanh(clamp(${x}, ${T}(-20.0), ${T}(20.0)))`,
    },
    ...infixText("==", "!="),
    test: {
      isNan: (x) => `nan_${lanes}(${x})`,
      isFinite: (x) => `finite_${lanes}(${x})`,
    },
    logic: {
      and: (a, b) => `(${a} & ${b})`,
      or: (a, b) => `(${a} | ${b})`,
    },
    select: (c, a, b) => `select(${b}, ${a}, ${c})`,
  };
}

/**
 * Bit tests for NaN and finiteness, scalar and per lane (see `wgslTable`). Included in
 * every elementwise shader; WGSL drops functions a shader does not call.
 */
export const WGSL_HELPERS = `
fn nan_f(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn finite_f(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }
fn nan_v(x: vec4<f32>) -> vec4<bool> {
  return (bitcast<vec4<u32>>(x) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u);
}
fn finite_v(x: vec4<f32>) -> vec4<bool> {
  return (bitcast<vec4<u32>>(x) & vec4<u32>(0x7f800000u)) != vec4<u32>(0x7f800000u);
}`;

/**
 * The uniform block's contents: `[size, 0, 0, 0]`, the output shape left-padded with 1 to rank 4, and
 * each input's strides (left-padded with 0; unused for inputs not read through strides).
 */
export function elementwiseUniforms(
  size: number,
  shape: readonly number[],
  strides: readonly (readonly number[])[],
): Uint32Array {
  const u = new Uint32Array(8 + 4 * Math.max(1, strides.length));
  u[0] = size;
  const pad = 4 - shape.length;
  for (let d = 0; d < 4; d++) u[4 + d] = d < pad ? 1 : shape[d - pad];
  strides.forEach((s, j) => {
    const p = 4 - s.length;
    for (let d = p; d < 4; d++) u[8 + 4 * j + d] = s[d - p];
  });
  return u;
}

/**
 * Whether a program can run four elements per invocation: no input is read through strides and the
 * element count divides by 4 (then full inputs and the output are read and written as vec4).
 */
export function canVectorize(program: ElementwiseProgram, size: number): boolean {
  return size % 4 === 0 && !program.inputs.some((x) => x.access === "strided");
}

/**
 * The WGSL of an elementwise program; `vectorized` (see {@link canVectorize}) makes each invocation
 * handle four consecutive elements, and then the uniform's size counts groups of four.
 */
export function elementwiseShader(program: ElementwiseProgram, vectorized = false): string {
  const access = program.inputs.map((x) => x.access);
  const strided = access.includes("strided");
  if (vectorized && strided) throw new Error("a strided elementwise program cannot be vectorised");
  const T = vectorized ? "vec4<f32>" : "f32";
  const bindings = access.map((a, j) =>
    `@group(0) @binding(${j}) var<storage, read> in${j}: array<${a === "full" ? T : "f32"}>;`
  ).join("\n");
  const reads = access.map((a, j) => {
    const index = a === "full" ? "i" : a === "scalar" ? "0u" : `dot(coord, p.strides[${j}])`;
    return `  let x${j} = ${a === "scalar" ? `${T}(in${j}[0u])` : `in${j}[${index}]`};`;
  }).join("\n");
  const body = program.nodes.map((node, k) => {
    const args = node.args.map((a) => (a.kind === "input" ? `x${a.index}` : `t${a.index}`));
    return `  let t${k} = ${renderExpr(node.expr, wgslTable(T, args))};`;
  }).join("\n");
  return `${WGSL_HELPERS}
struct Params { size: u32, pad0: u32, pad1: u32, pad2: u32, shape: vec4<u32>,
                strides: array<vec4<u32>, ${Math.max(1, access.length)}> }
${bindings}
@group(0) @binding(${access.length}) var<storage, read_write> out: array<${T}>;
@group(0) @binding(${access.length + 1}) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(${LINEAR_ENTRY_PARAMS}) {
  ${linearIndex()}
  if (i >= p.size) { return; }
${
    strided
      ? `  var rest = i;
  let c3 = rest % p.shape.w; rest = rest / p.shape.w;
  let c2 = rest % p.shape.z; rest = rest / p.shape.z;
  let c1 = rest % p.shape.y;
  let c0 = rest / p.shape.y;
  let coord = vec4<u32>(c0, c1, c2, c3);`
      : ""
  }
${reads}
${body}
  out[i] = t${program.nodes.length - 1};
}
`;
}
