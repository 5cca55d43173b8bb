/**
 * One WGSL generator for every elementwise op: the op contributes a scalar expression, the generator
 * the indexing. Each input is read as the same shape as the output, as a scalar, or through strides
 * (broadcasting and transposition), given per input in a uniform so one pipeline serves every shape.
 */
import { LINEAR_ENTRY_PARAMS, linearIndex } from "./common.ts";

/** How an input is read; see `src/backend/layout.ts`. */
export type Access = "full" | "scalar" | "strided";

/**
 * The WGSL expression of each elementwise op, over inputs x0, x1, x2. `T` stands for the value type
 * (`f32`, or `vec4<f32>` in the vectorised kernel): WGSL compares and selects only values of one type.
 *
 * WGSL lets compilers assume that no value is NaN or infinite, and llvmpipe does: it folds
 * `select(x, 0, x < 0)` into a max that turns NaN into 0, and `x - x` into 0. Where a NaN must
 * survive (so that a broken loss shows) or be detected, the test looks at the bits (`nan`, `finite`
 * in {@link WGSL_HELPERS}), which no compiler may fold away.
 */
export const WGSL_EXPRESSIONS: Readonly<Record<string, string>> = {
  neg: "-x0",
  exp: "exp(x0)",
  log: "log(x0)",
  sqrt: "sqrt(x0)",
  square: "x0 * x0",
  relu: "select(select(x0, T(0.0), x0 < T(0.0)), x0, nan(x0))",
  step: "select(T(0.0), T(1.0), x0 > T(0.0))",
  abs: "abs(x0)",
  sign: "sign(x0)",
  isFinite: "select(T(0.0), T(1.0), finite(x0))",
  // Clamped because some tanh implementations overflow to NaN for large arguments.
  tanh: "tanh(clamp(x0, T(-20.0), T(20.0)))",
  sigmoid: "1.0 / (1.0 + exp(-x0))",
  broadcastTo: "x0",
  transpose: "x0",
  add: "x0 + x1",
  sub: "x0 - x1",
  mul: "x0 * x1",
  div: "x0 / x1",
  maximum: "select(select(x1, x0, x0 >= x1), x0 + x1, nan(x0) | nan(x1))",
  minimum: "select(select(x1, x0, x0 <= x1), x0 + x1, nan(x0) | nan(x1))",
  greater: "select(T(0.0), T(1.0), x0 > x1)",
  greaterEqual: "select(T(0.0), T(1.0), x0 >= x1)",
  equal: "select(T(0.0), T(1.0), x0 == x1)",
  where: "select(x2, x1, x0 != T(0.0))",
};

/**
 * Bit tests for NaN and finiteness, scalar and per lane (see {@link WGSL_EXPRESSIONS}). Included in
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

/** An argument of a program node: an external input or an earlier node of the program. */
export interface ProgramArg {
  readonly kind: "input" | "node";
  readonly index: number;
}

/** A chain of elementwise ops evaluated per output element; the last node is the output. */
export interface ElementwiseProgram {
  /** How each external input is read. */
  readonly inputs: readonly Access[];
  /** Nodes in evaluation order. */
  readonly nodes: readonly { readonly op: string; readonly args: readonly ProgramArg[] }[];
}

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
  return size % 4 === 0 && !program.inputs.includes("strided");
}

/**
 * The WGSL of an elementwise program; `vectorized` (see {@link canVectorize}) makes each invocation
 * handle four consecutive elements, and then the uniform's size counts groups of four.
 */
export function elementwiseShader(program: ElementwiseProgram, vectorized = false): string {
  const access = program.inputs;
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
    const expr = WGSL_EXPRESSIONS[node.op];
    if (expr === undefined) {
      throw new Error(`webgpu backend: no WGSL expression for op "${node.op}"`);
    }
    const args = node.args.map((a) => (a.kind === "input" ? `x${a.index}` : `t${a.index}`));
    const typed = expr.replace(/\bT\(/g, `${T}(`)
      .replace(/\b(nan|finite)\(/g, `$1_${vectorized ? "v" : "f"}(`);
    return `  let t${k} = ${typed.replace(/\bx(\d)\b/g, (_, d) => `(${args[Number(d)]})`)};`;
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
