/**
 * Fused elementwise kernels in WebAssembly: each program (a chain of elementwise ops, see
 * fusion.ts) becomes a module whose job evaluates the chain per element, four lanes at a time with
 * a scalar tail, from expressions rendered by the table below. Modules are cached by the program's
 * structure, so programs that differ only in their buffers (Adam's update of each parameter, say)
 * share one module, and the buffers come through the job's argument block.
 *
 * Argument words: [out, size, inner, in_0 .. in_{k-1}, base_0 .. base_{k-1}, stride_0 ..]. For an
 * input read through strides, base_j points at an i32 table of each output row's starting element
 * in that input, and stride_j is its step along the last axis.
 */
import { type ExprTable, renderExpr } from "../../graph/expr.ts";
import type { FusedProgram } from "../fusion.ts";
import { type FunctionBuilder, type Local, ModuleBuilder, type Operand } from "./assembler.ts";
import { emitMath, type MathFuncs } from "./math.ts";
import { MAX_PAGES } from "./memory.ts";
import { share } from "./jobs.ts";

/** How a strided input moves along the last axis: not at all, one element, or anything else. */
export type StrideClass = "zero" | "unit" | "other";

/** The stride class of an input's last-axis stride. */
export function strideClass(stride: number): StrideClass {
  return stride === 0 ? "zero" : stride === 1 ? "unit" : "other";
}

/** What a module is specialised for: the program and the stride class of each strided input. */
export interface ElementwiseLayout {
  readonly program: FusedProgram;
  /** Per input: its stride class when read through strides, else null. */
  readonly strides: readonly (StrideClass | null)[];
}

/** The cache key of a layout: equal keys build equal modules. */
export function layoutKey(layout: ElementwiseLayout): string {
  return JSON.stringify([
    layout.program.inputs.map((x) => x.access),
    layout.strides,
    layout.program.nodes,
  ]);
}

type Lanes = "v128" | "f32";

/** Rendering into instructions: every value lands in a fresh local of the lane type. */
function wasmTable(
  b: FunctionBuilder,
  lanes: Lanes,
  args: readonly Local[],
  math: MathFuncs,
  fresh: (type: "v128" | "f32" | "i32") => Local,
): ExprTable<Local> {
  const v = lanes === "v128";
  // Booleans: lane masks in v128, i32 0/1 in scalar code.
  const mask = v ? "v128" : "i32";
  const put = (type: "v128" | "f32" | "i32", value: Operand) => {
    const local = fresh(type);
    b.set(local, value);
    return local;
  };
  const num = (value: Operand) => put(lanes, value);
  const bool = (value: Operand) => put(mask, value);
  const lift = (f: (x: Operand) => Operand) => (x: Local) =>
    v ? num(f(x)) : num(b.f32x4.extract_lane(0, f(b.f32x4.splat(x))));
  const inf = () => (v ? b.f32x4.splat(Infinity) : b.f32.const(Infinity));
  return {
    arg: (i) => args[i],
    constant: (value) => num(v ? b.f32x4.splat(Math.fround(value)) : b.f32.const(value)),
    unary: {
      neg: (x) => num(v ? b.f32x4.neg(x) : b.f32.neg(x)),
      abs: (x) => num(v ? b.f32x4.abs(x) : b.f32.abs(x)),
      sqrt: (x) => num(v ? b.f32x4.sqrt(x) : b.f32.sqrt(x)),
      exp: lift((x) => b.call(math.exp, x)!),
      log: lift((x) => b.call(math.log, x)!),
      tanh: lift((x) => b.call(math.tanh, x)!),
    },
    binary: {
      add: (x, y) => num(v ? b.f32x4.add(x, y) : b.f32.add(x, y)),
      sub: (x, y) => num(v ? b.f32x4.sub(x, y) : b.f32.sub(x, y)),
      mul: (x, y) => num(v ? b.f32x4.mul(x, y) : b.f32.mul(x, y)),
      div: (x, y) => num(v ? b.f32x4.div(x, y) : b.f32.div(x, y)),
    },
    compare: {
      lt: (x, y) => bool(v ? b.f32x4.lt(x, y) : b.f32.lt(x, y)),
      le: (x, y) => bool(v ? b.f32x4.le(x, y) : b.f32.le(x, y)),
      gt: (x, y) => bool(v ? b.f32x4.gt(x, y) : b.f32.gt(x, y)),
      ge: (x, y) => bool(v ? b.f32x4.ge(x, y) : b.f32.ge(x, y)),
      eq: (x, y) => bool(v ? b.f32x4.eq(x, y) : b.f32.eq(x, y)),
      ne: (x, y) => bool(v ? b.f32x4.ne(x, y) : b.f32.ne(x, y)),
    },
    // WebAssembly arithmetic is IEEE to the letter: x != x holds exactly for NaN.
    test: {
      isNan: (x) => bool(v ? b.f32x4.ne(x, x) : b.f32.ne(x, x)),
      isFinite: (x) => bool(v ? b.f32x4.lt(b.f32x4.abs(x), inf()) : b.f32.lt(b.f32.abs(x), inf())),
    },
    logic: {
      and: (x, y) => bool(v ? b.v128.and(x, y) : b.i32.and(x, y)),
      or: (x, y) => bool(v ? b.v128.or(x, y) : b.i32.or(x, y)),
    },
    select: (c, x, y) => num(v ? b.v128.bitselect(x, y, c) : b.select("f32", x, y, c)),
  };
}

/** Emits the program on `inputs` (one local per external input); returns the output's local. */
function emitProgram(
  b: FunctionBuilder,
  program: FusedProgram,
  inputs: readonly Local[],
  lanes: Lanes,
  math: MathFuncs,
  fresh: (type: "v128" | "f32" | "i32") => Local,
): Local {
  const values: Local[] = [];
  for (const node of program.nodes) {
    const args = node.args.map((a) => (a.kind === "input" ? inputs[a.index] : values[a.index]));
    values.push(renderExpr(node.expr, wasmTable(b, lanes, args, math, fresh)));
  }
  return values[values.length - 1];
}

/** The module of a layout: memory imported as `env.memory`, one export `job(args, tid, threads)`. */
export function buildElementwiseModule(layout: ElementwiseLayout): Uint8Array<ArrayBuffer> {
  const { program, strides } = layout;
  const k = program.inputs.length;
  const mod = new ModuleBuilder();
  mod.importMemory({ initial: 1, maximum: MAX_PAGES, shared: true });
  const math = emitMath(mod);
  const params = { args: "i32", tid: "i32", threads: "i32" } as const;
  mod.func({ name: "job", params, export: true }, (b, { args, tid, threads }) => {
    let count = 0;
    const fresh = (type: "v128" | "f32" | "i32") => b.local(`t${count++}`, type);
    const word = (i: number) => b.i32.load(args, { offset: 4 * i });
    const out = b.local("out", "i32"),
      size = b.local("size", "i32"),
      inner = b.local("inner", "i32");
    b.set(out, word(0));
    b.set(size, word(1));
    b.set(inner, word(2));
    const ptr = program.inputs.map((_, j) => {
      const p = b.local(`in${j}`, "i32");
      b.set(p, word(3 + j));
      return p;
    });
    const access = program.inputs.map((x) => x.access);
    const rowwise = access.includes("strided");
    const vectorRows = strides.every((s) => s !== "other");
    // Scalars: loaded once.
    const scalarF = access.map((a, j) => {
      if (a !== "scalar") return null;
      const s = b.local(`s${j}`, "f32");
      b.set(s, b.f32.load(ptr[j]));
      return s;
    });
    const scalarV = access.map((a, j) => {
      if (a !== "scalar") return null;
      const s = b.local(`sv${j}`, "v128");
      b.set(s, b.f32x4.splat(scalarF[j]!));
      return s;
    });
    const begin = b.local("begin", "i32"), end = b.local("end", "i32");
    const i = b.local("i", "i32"), vectorEnd = b.local("vector_end", "i32");
    const lanesV = program.inputs.map((_, j) => b.local(`xv${j}`, "v128"));
    const lanesF = program.inputs.map((_, j) => b.local(`xf${j}`, "f32"));
    // Where each input's element i lies, in bytes, for the current row (full inputs: the row's
    // start in the output's numbering; strided: the row's base in the input).
    const rowAt = program.inputs.map((_, j) => b.local(`row${j}`, "i32"));
    const step = program.inputs.map((_, j) => b.local(`step${j}`, "i32"));

    /** Evaluates elements [from, to) of the current row (or of the whole, when flat). */
    const elements = (from: Local, to: Local, rowStart: Local | null, vector: boolean) => {
      b.set(vectorEnd, vector ? b.i32.sub(to, b.i32.and(b.i32.sub(to, from), 3)) : from);
      const address = (j: number, c: Local) => {
        if (access[j] === "full") {
          const index = rowStart === null ? c : b.i32.add(rowStart, c);
          return b.i32.add(ptr[j], b.i32.shl(index, 2));
        }
        return b.i32.add(rowAt[j], b.i32.mul(c, step[j])); // strided: step in bytes
      };
      const outAddress = (c: Local) =>
        b.i32.add(out, b.i32.shl(rowStart === null ? c : b.i32.add(rowStart, c), 2));
      if (vector) {
        b.for(i, from, vectorEnd, 4, () => {
          program.inputs.forEach((_, j) => {
            if (access[j] === "scalar") b.set(lanesV[j], scalarV[j]!);
            else if (access[j] === "strided" && strides[j] === "zero") {
              b.set(lanesV[j], b.v128.load32_splat(rowAt[j]));
            } else b.set(lanesV[j], b.v128.load(address(j, i)));
          });
          const result = emitProgram(b, program, lanesV, "v128", math, fresh);
          b.v128.store(outAddress(i), result);
        });
      }
      b.for(i, vectorEnd, to, 1, () => {
        program.inputs.forEach((_, j) => {
          b.set(lanesF[j], access[j] === "scalar" ? scalarF[j]! : b.f32.load(address(j, i)));
        });
        const result = emitProgram(b, program, lanesF, "f32", math, fresh);
        b.f32.store(outAddress(i), result);
      });
    };

    if (!rowwise) {
      share(b, size, 16, tid, threads, begin, end);
      elements(begin, end, null, true);
      return;
    }
    // Row by row: rows of `inner` elements along the last axis.
    const rows = b.local("rows", "i32"),
      r = b.local("r", "i32"),
      rowStart = b.local("row_start", "i32");
    const zero = b.local("zero", "i32"), width = b.local("width", "i32");
    b.set(rows, b.i32.div_u(size, inner));
    share(b, rows, 1, tid, threads, begin, end);
    program.inputs.forEach((_, j) => {
      if (access[j] === "strided") b.set(step[j], b.i32.shl(word(3 + 2 * k + j), 2));
    });
    b.set(width, inner);
    b.for(r, begin, end, 1, () => {
      b.set(rowStart, b.i32.mul(r, inner));
      program.inputs.forEach((_, j) => {
        if (access[j] !== "strided") return;
        const base = b.i32.load(b.i32.add(word(3 + k + j), b.i32.shl(r, 2)));
        b.set(rowAt[j], b.i32.add(ptr[j], b.i32.shl(base, 2)));
      });
      elements(zero, width, rowStart, vectorRows);
    });
  });
  return mod.toBytes();
}

/** Argument words of an elementwise job: see the module comment. */
export function elementwiseArgs(
  out: number,
  size: number,
  inner: number,
  inputs: readonly number[],
  bases: readonly number[],
  strides: readonly number[],
): Int32Array {
  return Int32Array.from([out, size, inner, ...inputs, ...bases, ...strides]);
}
