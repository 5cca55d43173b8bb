/**
 * A small WebAssembly binary assembler: kernels are written in TypeScript against a typed builder
 * and turned into module bytes at run time, so no toolchain, text format or `.wasm` file is
 * involved and every byte comes from this source.
 *
 * Instructions are emitted in order, exactly as in the text format, through namespaces named after
 * it (`b.i32.add()`, `b.f32x4.relaxed_madd()`, `b.v128.load32_splat()`). Each emitter also accepts
 * its operands, which makes nested code read like expressions:
 *
 * ```ts
 * const mod = new ModuleBuilder();
 * mod.importMemory({ initial: 1, maximum: 256, shared: true });
 * // x[i] *= s for i < n (n a multiple of 4), four lanes at a time.
 * const params = { x: "i32", n: "i32", s: "f32" } as const;
 * mod.func({ name: "scale", params, export: true }, (b, { x, n, s }) => {
 *   const i = b.local("i", "i32");
 *   const at = b.local("at", "i32");
 *   const sv = b.local("sv", "v128");
 *   b.set(sv, b.f32x4.splat(s));
 *   b.for(i, 0, n, 4, () => {
 *     b.set(at, b.i32.add(x, b.i32.shl(i, 2)));
 *     b.v128.store(at, b.f32x4.mul(b.v128.load(at), sv));
 *   });
 * });
 * const { instance } = await WebAssembly.instantiate(mod.toBytes(), { env: { memory } });
 * ```
 *
 * An operand is a {@link Local} (read with `local.get`), a number (an `i32.const`/`f32.const`/...
 * of the type the instruction expects there) or the {@link Value} another emitter returned, which
 * is already on the stack. Operand lists evaluate left to right as they read: a local or number
 * written before a value is spliced into the code ahead of that value's code (safe, since
 * `local.get` and constants have no effects). Emitters given fewer operands than they take find
 * the rest on the stack, so plain stack-machine code works too.
 *
 * Every instruction is type-checked as it is emitted (the validation algorithm of the spec, with
 * the polymorphic stack after `br`, `return` and `unreachable`), so a mistake throws a
 * `WasmBuildError` with a JavaScript stack trace pointing at the kernel line that made it, rather
 * than a `CompileError` naming a byte offset. Blocks and loops are structured: a body callback
 * receives a {@link Label}, and `br`/`br_if` take that label, never a raw depth.
 *
 * Coverage is what numeric kernels need (no tables, globals, data segments, references or
 * exceptions); adding an instruction is one table line.
 *
 * It is one long file on purpose: the instruction tables, the operand handling and the type
 * checker are one mechanism that every emitter goes through, and reading them together is how a
 * new instruction is added correctly.
 *
 * @module
 */

/** A WebAssembly value type. */
export type ValType = "i32" | "i64" | "f32" | "f64" | "v128";

const VALTYPE_CODE: Record<ValType, number> = {
  i32: 0x7f,
  i64: 0x7e,
  f32: 0x7d,
  f64: 0x7c,
  v128: 0x7b,
};

/** Thrown for code that would not validate, at the emitter call that made it. */
export class WasmBuildError extends Error {
  /** Creates the error; `message` says what is wrong and in which function. */
  constructor(message: string) {
    super(message);
    this.name = "WasmBuildError";
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding.

/** Appends the unsigned LEB128 encoding of a 32-bit value. */
export function writeU32(out: number[], value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new WasmBuildError(`not a u32: ${value}`);
  }
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
}

/** Appends the signed LEB128 encoding of a 32-bit value (as `i32.const` wants). */
export function writeS32(out: number[], value: number): void {
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0xffffffff) {
    throw new WasmBuildError(`not an i32: ${value}`);
  }
  // Values in [2^31, 2^32) are taken as their two's-complement bit pattern, so that unsigned
  // constants such as 0xffffffff can be written naturally.
  value |= 0;
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return;
  }
}

/** Appends the signed LEB128 encoding of a 64-bit value. */
export function writeS64(out: number[], value: bigint): void {
  value = BigInt.asIntN(64, value);
  for (;;) {
    const byte = Number(value & 0x7fn);
    value >>= 7n;
    const done = (value === 0n && (byte & 0x40) === 0) || (value === -1n && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return;
  }
}

function writeName(out: number[], name: string): void {
  const bytes = new TextEncoder().encode(name);
  writeU32(out, bytes.length);
  for (const byte of bytes) out.push(byte);
}

function writeBytes(out: number[], bytes: ArrayLike<number>): void {
  for (let i = 0; i < bytes.length; i++) out.push(bytes[i]);
}

/** Appends a section: its id, its byte length, its contents. */
function writeSection(out: number[], id: number, contents: number[]): void {
  out.push(id);
  writeU32(out, contents.length);
  writeBytes(out, contents);
}

// ---------------------------------------------------------------------------------------------
// Operands and the instruction table.

/** A parameter or local of a function under construction. */
export class Local {
  /** Made by {@link FunctionBuilder.local} (and for parameters by the module builder). */
  constructor(
    /** Index in the function's local space (parameters first). */
    readonly index: number,
    readonly type: ValType,
    readonly name: string,
  ) {}
}

/**
 * A value an emitter left on the operand stack. Passing it as an operand says "this is already
 * on the stack here"; it carries its type so the checker can say which operand is wrong.
 */
export class Value {
  /** Made by the emitters; kernels never construct one. */
  constructor(
    readonly type: ValType,
    /** @internal Body offset where the code computing this value begins; -1 if unknown. */
    readonly start: number,
  ) {}
}

/** What an instruction's operand may be given as; see the module documentation. */
export type Operand = Local | Value | number | bigint;

/** Alignment and constant offset of a memory access, in bytes. */
export interface MemArg {
  /** Added to the address operand (unsigned, folded into the addressing mode by engines). */
  offset?: number;
  /** A power of two no larger than the access size; defaults to the access size. */
  align?: number;
}

/** A branch target: the block or loop whose body received it. */
export class Label {
  /** Made by the structured control methods, which hand it to the body they run. */
  constructor(
    /** @internal The frame the label belongs to. */
    readonly frame: ControlFrame,
  ) {}
}

/** @internal A block, loop, if or the function body, as the type checker tracks it. */
export interface ControlFrame {
  kind: "function" | "block" | "loop" | "if" | "else";
  /** Types a branch to this frame carries: none for a loop, the results otherwise. */
  labelTypes: ValType[];
  results: ValType[];
  /** Operand stack height on entry. */
  height: number;
  /** After br/return/unreachable: the rest of the frame is dead and its stack polymorphic. */
  unreachable: boolean;
  /** False once the frame has ended, so a label that escaped its body is caught. */
  open: boolean;
}

/** Immediates that follow an opcode. */
type Immediate = "none" | "memarg" | "lane" | "memarg+lane";

interface OpDef {
  /** The text-format name, for error messages. */
  name: string;
  /** 0xfd for SIMD, 0xfc for the saturating/bulk group, absent for single-byte opcodes. */
  prefix?: number;
  code: number;
  inputs: ValType[];
  outputs: ValType[];
  immediate: Immediate;
  /** Natural alignment (bytes) of a memory access, or lane count of a lane instruction. */
  size: number;
}

function types(list: string): ValType[] {
  return list === "" ? [] : (list.split(" ") as ValType[]);
}

/** An instruction with no immediates, e.g. `def("i32.add", 0x6a, "i32 i32", "i32")`. */
function def(name: string, code: number, inputs: string, outputs: string): OpDef {
  return { name, code, inputs: types(inputs), outputs: types(outputs), immediate: "none", size: 0 };
}

/** A SIMD (0xfd-prefixed) instruction with no immediates. */
function simd(name: string, code: number, inputs: string, outputs: string): OpDef {
  return { ...def(name, code, inputs, outputs), prefix: 0xfd };
}

function load(name: string, code: number, type: ValType, size: number, prefix?: number): OpDef {
  return { name, prefix, code, inputs: ["i32"], outputs: [type], immediate: "memarg", size };
}

function store(name: string, code: number, type: ValType, size: number, prefix?: number): OpDef {
  return { name, prefix, code, inputs: ["i32", type], outputs: [], immediate: "memarg", size };
}

function lane(name: string, code: number, inputs: string, outputs: string, lanes: number): OpDef {
  return { ...simd(name, code, inputs, outputs), immediate: "lane", size: lanes };
}

/** `v128.loadN_lane` / `storeN_lane`: a memarg, then a lane index. */
function laneMem(name: string, code: number, isLoad: boolean, size: number): OpDef {
  return {
    name,
    prefix: 0xfd,
    code,
    inputs: ["i32", "v128"],
    outputs: isLoad ? ["v128"] : [],
    immediate: "memarg+lane",
    size,
  };
}

/** Builds a namespace's table from `[suffix, code]` pairs sharing one signature. */
/** {@link family} for ops whose opcodes run consecutively from `first`, in the order given. */
function run<K extends string>(
  ns: string,
  make: (name: string, code: number, inputs: string, outputs: string) => OpDef,
  inputs: string,
  outputs: string,
  first: number,
  names: readonly K[],
): Record<K, OpDef> {
  const ops = {} as Record<K, number>;
  names.forEach((name, i) => (ops[name] = first + i));
  return family(ns, make, inputs, outputs, ops);
}

function family<K extends string>(
  ns: string,
  make: (name: string, code: number, inputs: string, outputs: string) => OpDef,
  inputs: string,
  outputs: string,
  ops: Record<K, number>,
): Record<K, OpDef> {
  const table = {} as Record<K, OpDef>;
  for (const op of Object.keys(ops) as K[]) {
    table[op] = make(`${ns}.${op}`, ops[op], inputs, outputs);
  }
  return table;
}

const I32_OPS = {
  ...family("i32", def, "i32", "i32", { eqz: 0x45, clz: 0x67, ctz: 0x68, popcnt: 0x69 }),
  ...family("i32", def, "i32 i32", "i32", {
    eq: 0x46,
    ne: 0x47,
    lt_s: 0x48,
    lt_u: 0x49,
    gt_s: 0x4a,
    gt_u: 0x4b,
    le_s: 0x4c,
    le_u: 0x4d,
    ge_s: 0x4e,
    ge_u: 0x4f,
    add: 0x6a,
    sub: 0x6b,
    mul: 0x6c,
    div_s: 0x6d,
    div_u: 0x6e,
    rem_s: 0x6f,
    rem_u: 0x70,
    and: 0x71,
    or: 0x72,
    xor: 0x73,
    shl: 0x74,
    shr_s: 0x75,
    shr_u: 0x76,
    rotl: 0x77,
    rotr: 0x78,
  }),
  wrap_i64: def("i32.wrap_i64", 0xa7, "i64", "i32"),
  trunc_f32_s: def("i32.trunc_f32_s", 0xa8, "f32", "i32"),
  trunc_f32_u: def("i32.trunc_f32_u", 0xa9, "f32", "i32"),
  trunc_f64_s: def("i32.trunc_f64_s", 0xaa, "f64", "i32"),
  trunc_f64_u: def("i32.trunc_f64_u", 0xab, "f64", "i32"),
  reinterpret_f32: def("i32.reinterpret_f32", 0xbc, "f32", "i32"),
  trunc_sat_f32_s: { ...def("i32.trunc_sat_f32_s", 0, "f32", "i32"), prefix: 0xfc },
  load: load("i32.load", 0x28, "i32", 4),
  load8_s: load("i32.load8_s", 0x2c, "i32", 1),
  load8_u: load("i32.load8_u", 0x2d, "i32", 1),
  load16_s: load("i32.load16_s", 0x2e, "i32", 2),
  load16_u: load("i32.load16_u", 0x2f, "i32", 2),
  store: store("i32.store", 0x36, "i32", 4),
  store8: store("i32.store8", 0x3a, "i32", 1),
  store16: store("i32.store16", 0x3b, "i32", 2),
};

const I64_OPS = {
  ...family("i64", def, "i64", "i64", { clz: 0x79, ctz: 0x7a, popcnt: 0x7b }),
  eqz: def("i64.eqz", 0x50, "i64", "i32"),
  ...family("i64", def, "i64 i64", "i32", {
    eq: 0x51,
    ne: 0x52,
    lt_s: 0x53,
    lt_u: 0x54,
    gt_s: 0x55,
    gt_u: 0x56,
    le_s: 0x57,
    le_u: 0x58,
    ge_s: 0x59,
    ge_u: 0x5a,
  }),
  ...family("i64", def, "i64 i64", "i64", {
    add: 0x7c,
    sub: 0x7d,
    mul: 0x7e,
    div_s: 0x7f,
    div_u: 0x80,
    rem_s: 0x81,
    rem_u: 0x82,
    and: 0x83,
    or: 0x84,
    xor: 0x85,
    shl: 0x86,
    shr_s: 0x87,
    shr_u: 0x88,
    rotl: 0x89,
    rotr: 0x8a,
  }),
  extend_i32_s: def("i64.extend_i32_s", 0xac, "i32", "i64"),
  extend_i32_u: def("i64.extend_i32_u", 0xad, "i32", "i64"),
  reinterpret_f64: def("i64.reinterpret_f64", 0xbd, "f64", "i64"),
  load: load("i64.load", 0x29, "i64", 8),
  store: store("i64.store", 0x37, "i64", 8),
};

/** The arithmetic shared by f32 and f64, whose opcodes differ by a fixed distance. */
function floatOps(t: "f32" | "f64") {
  const cmp = t === "f32" ? 0x5b : 0x61;
  const un = t === "f32" ? 0x8b : 0x99;
  return {
    ...family(t, def, `${t} ${t}`, "i32", {
      eq: cmp,
      ne: cmp + 1,
      lt: cmp + 2,
      gt: cmp + 3,
      le: cmp + 4,
      ge: cmp + 5,
    }),
    ...family(t, def, t, t, {
      abs: un,
      neg: un + 1,
      ceil: un + 2,
      floor: un + 3,
      trunc: un + 4,
      nearest: un + 5,
      sqrt: un + 6,
    }),
    ...family(t, def, `${t} ${t}`, t, {
      add: un + 7,
      sub: un + 8,
      mul: un + 9,
      div: un + 10,
      min: un + 11,
      max: un + 12,
      copysign: un + 13,
    }),
  };
}

const F32_OPS = {
  ...floatOps("f32"),
  convert_i32_s: def("f32.convert_i32_s", 0xb2, "i32", "f32"),
  convert_i32_u: def("f32.convert_i32_u", 0xb3, "i32", "f32"),
  convert_i64_s: def("f32.convert_i64_s", 0xb4, "i64", "f32"),
  demote_f64: def("f32.demote_f64", 0xb6, "f64", "f32"),
  reinterpret_i32: def("f32.reinterpret_i32", 0xbe, "i32", "f32"),
  load: load("f32.load", 0x2a, "f32", 4),
  store: store("f32.store", 0x38, "f32", 4),
};

const F64_OPS = {
  ...floatOps("f64"),
  convert_i32_s: def("f64.convert_i32_s", 0xb7, "i32", "f64"),
  convert_i32_u: def("f64.convert_i32_u", 0xb8, "i32", "f64"),
  convert_i64_s: def("f64.convert_i64_s", 0xb9, "i64", "f64"),
  promote_f32: def("f64.promote_f32", 0xbb, "f32", "f64"),
  reinterpret_i64: def("f64.reinterpret_i64", 0xbf, "i64", "f64"),
  load: load("f64.load", 0x2b, "f64", 8),
  store: store("f64.store", 0x39, "f64", 8),
};

const V128_OPS = {
  load: load("v128.load", 0x00, "v128", 16, 0xfd),
  load32_splat: load("v128.load32_splat", 0x09, "v128", 4, 0xfd),
  load64_splat: load("v128.load64_splat", 0x0a, "v128", 8, 0xfd),
  load32_zero: load("v128.load32_zero", 0x5c, "v128", 4, 0xfd),
  load64_zero: load("v128.load64_zero", 0x5d, "v128", 8, 0xfd),
  store: store("v128.store", 0x0b, "v128", 16, 0xfd),
  load32_lane: laneMem("v128.load32_lane", 0x56, true, 4),
  load64_lane: laneMem("v128.load64_lane", 0x57, true, 8),
  store32_lane: laneMem("v128.store32_lane", 0x5a, false, 4),
  store64_lane: laneMem("v128.store64_lane", 0x5b, false, 8),
  not: simd("v128.not", 0x4d, "v128", "v128"),
  ...family("v128", simd, "v128 v128", "v128", { and: 0x4e, andnot: 0x4f, or: 0x50, xor: 0x51 }),
  bitselect: simd("v128.bitselect", 0x52, "v128 v128 v128", "v128"),
  any_true: simd("v128.any_true", 0x53, "v128", "i32"),
};

const F32X4_OPS = {
  splat: simd("f32x4.splat", 0x13, "f32", "v128"),
  extract_lane: lane("f32x4.extract_lane", 0x1f, "v128", "f32", 4),
  replace_lane: lane("f32x4.replace_lane", 0x20, "v128 f32", "v128", 4),
  ...run("f32x4", simd, "v128 v128", "v128", 0x41, ["eq", "ne", "lt", "gt", "le", "ge"]),
  ...run("f32x4", simd, "v128 v128", "v128", 0xe4, [
    "add",
    "sub",
    "mul",
    "div",
    "min",
    "max",
    "pmin",
    "pmax",
  ]),
  ...run("f32x4", simd, "v128 v128", "v128", 0x10d, ["relaxed_min", "relaxed_max"]),
  ...run("f32x4", simd, "v128", "v128", 0x67, ["ceil", "floor", "trunc", "nearest"]),
  ...run("f32x4", simd, "v128", "v128", 0xe0, ["abs", "neg"]),
  ...family("f32x4", simd, "v128", "v128", {
    sqrt: 0xe3,
    convert_i32x4_s: 0xfa,
    convert_i32x4_u: 0xfb,
  }),
  // Relaxed SIMD: a*b+c (nmadd: -a*b+c), fused or not as the host's hardware prefers.
  relaxed_madd: simd("f32x4.relaxed_madd", 0x105, "v128 v128 v128", "v128"),
  relaxed_nmadd: simd("f32x4.relaxed_nmadd", 0x106, "v128 v128 v128", "v128"),
};

const I32X4_OPS = {
  splat: simd("i32x4.splat", 0x11, "i32", "v128"),
  extract_lane: lane("i32x4.extract_lane", 0x1b, "v128", "i32", 4),
  replace_lane: lane("i32x4.replace_lane", 0x1c, "v128 i32", "v128", 4),
  ...run("i32x4", simd, "v128 v128", "v128", 0x37, [
    "eq",
    "ne",
    "lt_s",
    "lt_u",
    "gt_s",
    "gt_u",
    "le_s",
    "le_u",
    "ge_s",
    "ge_u",
  ]),
  ...family("i32x4", simd, "v128 v128", "v128", {
    add: 0xae,
    sub: 0xb1,
    mul: 0xb5,
    min_s: 0xb6,
    min_u: 0xb7,
    max_s: 0xb8,
    max_u: 0xb9,
  }),
  ...family("i32x4", simd, "v128", "v128", {
    abs: 0xa0,
    neg: 0xa1,
    trunc_sat_f32x4_s: 0xf8,
    trunc_sat_f32x4_u: 0xf9,
    relaxed_trunc_f32x4_s: 0x101,
  }),
  all_true: simd("i32x4.all_true", 0xa3, "v128", "i32"),
  bitmask: simd("i32x4.bitmask", 0xa4, "v128", "i32"),
  ...family("i32x4", simd, "v128 i32", "v128", { shl: 0xab, shr_s: 0xac, shr_u: 0xad }),
  relaxed_laneselect: simd("i32x4.relaxed_laneselect", 0x10b, "v128 v128 v128", "v128"),
};

const F64X2_OPS = {
  splat: simd("f64x2.splat", 0x14, "f64", "v128"),
  extract_lane: lane("f64x2.extract_lane", 0x21, "v128", "f64", 2),
  replace_lane: lane("f64x2.replace_lane", 0x22, "v128 f64", "v128", 2),
  ...family("f64x2", simd, "v128 v128", "v128", {
    add: 0xf0,
    sub: 0xf1,
    mul: 0xf2,
    div: 0xf3,
    min: 0xf4,
    max: 0xf5,
  }),
  ...family("f64x2", simd, "v128", "v128", { abs: 0xec, neg: 0xed, sqrt: 0xef }),
  promote_low_f32x4: simd("f64x2.promote_low_f32x4", 0x5f, "v128", "v128"),
  relaxed_madd: simd("f64x2.relaxed_madd", 0x107, "v128 v128 v128", "v128"),
};

const I8X16_OPS = {
  swizzle: simd("i8x16.swizzle", 0x0e, "v128 v128", "v128"),
  splat: simd("i8x16.splat", 0x0f, "i32", "v128"),
  eq: simd("i8x16.eq", 0x23, "v128 v128", "v128"),
};

// ---------------------------------------------------------------------------------------------
// Namespaces: one emitter method per table entry, plus the instructions with special immediates.

/** An emitter for an instruction without immediates. */
export type Emitter = (...operands: Operand[]) => Value;
/** An emitter for a load: operands (the address), then optionally a {@link MemArg}. */
export type LoadEmitter = (...args: (Operand | MemArg)[]) => Value;
/** An emitter for a store: operands (address, value), then optionally a {@link MemArg}. */
export type StoreEmitter = (...args: (Operand | MemArg)[]) => void;
/** An emitter for a lane instruction: the lane index, then the operands. */
export type LaneEmitter = (lane: number, ...operands: Operand[]) => Value;

/**
 * Maps a table's keys to emitters. Which entries are lane instructions, loads or stores is
 * restated per namespace below (the tables' inferred types are plain OpDef); the builder itself
 * dispatches on the entries' immediates.
 */
export type Kinds<T, Lane extends keyof T, Load extends keyof T, Store extends keyof T> = {
  [K in keyof T]: K extends Lane ? LaneEmitter
    : K extends Store ? StoreEmitter
    : K extends Load ? LoadEmitter
    : Emitter;
};

/** The `i32.*` instructions. */
export type I32Namespace =
  & Kinds<
    typeof I32_OPS,
    never,
    "load" | "load8_s" | "load8_u" | "load16_s" | "load16_u",
    "store" | "store8" | "store16"
  >
  & { const(value: number): Value };
/** The `i64.*` instructions. */
export type I64Namespace = Kinds<typeof I64_OPS, never, "load", "store"> & {
  const(value: bigint | number): Value;
};
/** The `f32.*` instructions. */
export type F32Namespace = Kinds<typeof F32_OPS, never, "load", "store"> & {
  const(value: number): Value;
};
/** The `f64.*` instructions. */
export type F64Namespace = Kinds<typeof F64_OPS, never, "load", "store"> & {
  const(value: number): Value;
};
/** The `v128.*` instructions. */
export type V128Namespace =
  & Kinds<
    typeof V128_OPS,
    never,
    "load" | "load32_splat" | "load64_splat" | "load32_zero" | "load64_zero",
    "store"
  >
  & {
    /** `v128.const` from 16 bytes. */
    const(bytes: ArrayLike<number>): Value;
    load32_lane(lane: number, ...args: (Operand | MemArg)[]): Value;
    load64_lane(lane: number, ...args: (Operand | MemArg)[]): Value;
    store32_lane(lane: number, ...args: (Operand | MemArg)[]): void;
    store64_lane(lane: number, ...args: (Operand | MemArg)[]): void;
  };
/** The `f32x4.*` instructions. */
export type F32x4Namespace =
  & Kinds<typeof F32X4_OPS, "extract_lane" | "replace_lane", never, never>
  & {
    /** `v128.const` holding four floats. */
    const(x0: number, x1: number, x2: number, x3: number): Value;
  };
/** The `i32x4.*` instructions. */
export type I32x4Namespace =
  & Kinds<typeof I32X4_OPS, "extract_lane" | "replace_lane", never, never>
  & {
    /** `v128.const` holding four 32-bit integers. */
    const(x0: number, x1: number, x2: number, x3: number): Value;
  };
/** The `f64x2.*` instructions. */
export type F64x2Namespace = Kinds<typeof F64X2_OPS, "extract_lane" | "replace_lane", never, never>;
/** The `i8x16.*` instructions. */
export type I8x16Namespace = Kinds<typeof I8X16_OPS, never, never, never> & {
  /** `i8x16.shuffle`: lane i of the result is byte `lanes[i]` of the two inputs (0-31). */
  shuffle(lanes: ArrayLike<number>, ...operands: Operand[]): Value;
};

function isMemArg(x: Operand | MemArg): x is MemArg {
  return typeof x === "object" && !(x instanceof Local) && !(x instanceof Value);
}

// ---------------------------------------------------------------------------------------------
// Functions.

/** A function of a module: its index, signature, and (once defined) its body. */
export class Func {
  /** @internal The encoded body, once defined. */
  body: number[] | undefined;
  /** @internal Parameters and locals, for the name section. */
  locals: Local[] = [];
  /** Made by {@link ModuleBuilder.declare}. */
  constructor(
    readonly index: number,
    readonly name: string,
    readonly params: ValType[],
    readonly results: ValType[],
    /** @internal */
    readonly typeIndex: number,
  ) {}
}

/**
 * Emits one function body. Created by {@link ModuleBuilder.func}; its namespaces (`i32`, `f32x4`,
 * ...) hold the instruction emitters, its own methods the locals, control and calls.
 */
export class FunctionBuilder {
  /** Integer arithmetic, comparisons, shifts, loads and stores on i32. */
  readonly i32: I32Namespace;
  /** The same on i64, with conversions from i32. */
  readonly i64: I64Namespace;
  /** Float arithmetic, comparisons, conversions, loads and stores on f32. */
  readonly f32: F32Namespace;
  /** The same on f64. */
  readonly f64: F64Namespace;
  /** Whole-vector loads (also splat, zero-extending and lane loads), stores and bitwise ops. */
  readonly v128: V128Namespace;
  /** Four-lane float arithmetic, comparisons, lanes, and relaxed madd/nmadd/min/max. */
  readonly f32x4: F32x4Namespace;
  /** Four-lane integer arithmetic, comparisons, shifts and conversions. */
  readonly i32x4: I32x4Namespace;
  /** Two-lane double arithmetic. */
  readonly f64x2: F64x2Namespace;
  /** Byte shuffles (the way to transpose or reduce across lanes), swizzle, splat. */
  readonly i8x16: I8x16Namespace;

  private readonly code: number[] = [];
  /** The operand stack of the type checker: the very Value objects handed to the caller. */
  private readonly stack: Value[] = [];
  private readonly frames: ControlFrame[] = [];
  private readonly localList: Local[];
  private readonly names = new Set<string>();
  private finished = false;

  /** @internal Made by {@link ModuleBuilder.define}. */
  constructor(readonly func: Func, paramNames: string[]) {
    this.localList = func.params.map((type, i) => new Local(i, type, paramNames[i]));
    for (const name of paramNames) this.names.add(name);
    this.frames.push({
      kind: "function",
      labelTypes: func.results,
      results: func.results,
      height: 0,
      unreachable: false,
      open: true,
    });
    const vector = (bytes: ArrayBufferLike) => this.v128Const(new Uint8Array(bytes));
    this.i32 = {
      ...this.namespace(I32_OPS),
      const: (value: number) => this.constant("i32", value),
    } as I32Namespace;
    this.i64 = {
      ...this.namespace(I64_OPS),
      const: (value: bigint | number) => this.constant("i64", value),
    } as I64Namespace;
    this.f32 = {
      ...this.namespace(F32_OPS),
      const: (value: number) => this.constant("f32", value),
    } as F32Namespace;
    this.f64 = {
      ...this.namespace(F64_OPS),
      const: (value: number) => this.constant("f64", value),
    } as F64Namespace;
    this.v128 = {
      ...this.namespace(V128_OPS),
      const: (bytes: ArrayLike<number>) => this.v128Const(bytes),
    } as V128Namespace;
    this.f32x4 = {
      ...this.namespace(F32X4_OPS),
      const: (x0: number, x1: number, x2: number, x3: number) =>
        vector(new Float32Array([x0, x1, x2, x3]).buffer),
    } as F32x4Namespace;
    this.i32x4 = {
      ...this.namespace(I32X4_OPS),
      const: (x0: number, x1: number, x2: number, x3: number) =>
        vector(new Int32Array([x0, x1, x2, x3]).buffer),
    } as I32x4Namespace;
    this.f64x2 = this.namespace(F64X2_OPS) as F64x2Namespace;
    const shuffle = simd("i8x16.shuffle", 0x0d, "v128 v128", "v128");
    this.i8x16 = {
      ...this.namespace(I8X16_OPS),
      shuffle: (lanes: ArrayLike<number>, ...operands: Operand[]) => {
        if (lanes.length !== 16) throw this.error("i8x16.shuffle needs 16 lane indices");
        for (let i = 0; i < 16; i++) {
          if (!(lanes[i] >= 0 && lanes[i] < 32)) {
            throw this.error(`i8x16.shuffle: lane index ${lanes[i]} not in 0..31`);
          }
        }
        return this.emit(shuffle, operands, () => writeBytes(this.code, lanes))!;
      },
    } as I8x16Namespace;
  }

  /** One emitter per table entry, its arguments parsed according to the entry's immediates. */
  private namespace(table: Record<string, OpDef>): Record<string, unknown> {
    const ns: Record<string, unknown> = {};
    for (const [key, op] of Object.entries(table)) {
      switch (op.immediate) {
        case "none":
          ns[key] = (...operands: Operand[]) => this.emit(op, operands);
          break;
        case "lane":
          ns[key] = (laneIndex: number, ...operands: Operand[]) =>
            this.emit(op, operands, () => this.laneImmediate(op, laneIndex));
          break;
        case "memarg":
          ns[key] = (...args: (Operand | MemArg)[]) => this.memoryOp(op, undefined, args);
          break;
        case "memarg+lane":
          ns[key] = (laneIndex: number, ...args: (Operand | MemArg)[]) =>
            this.memoryOp(op, laneIndex, args);
          break;
      }
    }
    return ns;
  }

  /** An error naming this function. */
  private error(message: string): WasmBuildError {
    return new WasmBuildError(`function ${this.func.name}: ${message}`);
  }

  // -- Locals ---------------------------------------------------------------------------------

  /** @internal The i-th parameter. */
  param(index: number): Local {
    return this.localList[index];
  }

  /** Declares a new local (zero-initialised, as all wasm locals are). Names must be unique. */
  local(name: string, type: ValType): Local {
    if (this.names.has(name)) throw this.error(`local "${name}" exists`);
    this.names.add(name);
    const local = new Local(this.localList.length, type, name);
    this.localList.push(local);
    return local;
  }

  /** `local.get`. */
  get(local: Local): Value {
    this.checkOwn(local);
    const start = this.code.length;
    this.code.push(0x20);
    writeU32(this.code, local.index);
    return this.produce(local.type, start);
  }

  /** `local.set`, of `value` if given, else of the top of the stack. */
  set(local: Local, value?: Operand): void {
    this.checkOwn(local);
    this.consume(`local.set ${local.name}`, [local.type], value === undefined ? [] : [value]);
    this.code.push(0x21);
    writeU32(this.code, local.index);
  }

  /** `local.tee`: sets the local and leaves the value on the stack. */
  tee(local: Local, value?: Operand): Value {
    this.checkOwn(local);
    const what = `local.tee ${local.name}`;
    const start = this.consume(what, [local.type], value === undefined ? [] : [value]);
    this.code.push(0x22);
    writeU32(this.code, local.index);
    return this.produce(local.type, start);
  }

  /** Throws for a local of another function (its index would silently mean something else). */
  private checkOwn(local: Local): void {
    if (this.localList[local.index] !== local) {
      throw this.error(`local "${local.name}" belongs to another function`);
    }
  }

  // -- Operands, emission and the type checker ----------------------------------------------

  /** Pushes a result whose code begins at body offset `start`. */
  private produce(type: ValType, start: number): Value {
    const value = new Value(type, start);
    this.stack.push(value);
    return value;
  }

  /** The bytes of a lazy operand: a `local.get` or a constant of the expected type. */
  private lazyBytes(operand: Local | number | bigint, type: ValType, what: string): number[] {
    const out: number[] = [];
    if (operand instanceof Local) {
      this.checkOwn(operand);
      if (operand.type !== type) {
        throw this.error(`${what}: local "${operand.name}" is ${operand.type}, ${type} expected`);
      }
      out.push(0x20);
      writeU32(out, operand.index);
      return out;
    }
    switch (type) {
      case "i32":
        out.push(0x41);
        writeS32(out, Number(operand));
        break;
      case "i64":
        out.push(0x42);
        writeS64(out, BigInt(operand));
        break;
      case "f32":
        out.push(0x43);
        writeBytes(out, new Uint8Array(new Float32Array([Number(operand)]).buffer));
        break;
      case "f64":
        out.push(0x44);
        writeBytes(out, new Uint8Array(new Float64Array([Number(operand)]).buffer));
        break;
      case "v128":
        throw this.error(`${what}: a number cannot stand for a v128 operand`);
    }
    return out;
  }

  /**
   * Places explicit operands (standing for the last `operands.length` of `inputs`) on the stack
   * in order, then pops and type-checks all of `inputs`. Returns the body offset where the code
   * computing the inputs begins, or -1 if that is unknown.
   *
   * Values are on the stack already; locals and numbers are spliced into the code just before
   * the first value that follows them, so an operand list always evaluates left to right, which
   * is how it reads. That is sound because `local.get` and constants have no effects.
   */
  private consume(what: string, inputs: ValType[], operands: Operand[]): number {
    if (operands.length > inputs.length) {
      throw this.error(`${what} takes ${inputs.length} operand(s), got ${operands.length}`);
    }
    const first = inputs.length - operands.length;
    const values = operands.filter((o): o is Value => o instanceof Value);
    for (let j = 0; j < values.length; j++) {
      if (this.stack[this.stack.length - values.length + j] !== values[j]) {
        throw this.error(
          `${what}: an operand value is not where it should be on the stack (used twice, ` +
            `or something was pushed after it)`,
        );
      }
    }
    let insertAt = this.code.length;
    let stackAt = this.stack.length;
    for (let i = operands.length - 1; i >= 0; i--) {
      const operand = operands[i];
      if (operand instanceof Value) {
        insertAt = operand.start;
        stackAt--;
        continue;
      }
      if (insertAt < 0) {
        throw this.error(
          `${what}: cannot place operand ${i} before a value computed in stack style; ` +
            `push it first (b.get(local), b.i32.const(n))`,
        );
      }
      const type = inputs[first + i];
      const bytes = this.lazyBytes(operand, type, what);
      this.code.splice(insertAt, 0, ...bytes);
      this.stack.splice(stackAt, 0, new Value(type, insertAt));
    }
    let start = inputs.length === 0 ? this.code.length : -1;
    for (let i = inputs.length - 1; i >= 0; i--) {
      const popped = this.pop(inputs[i], what);
      if (i === 0 && popped !== undefined) start = popped.start;
    }
    return start;
  }

  /** Pops and checks one operand; in dead code an empty frame yields anything. */
  private pop(expected: ValType, what: string): Value | undefined {
    const frame = this.frames[this.frames.length - 1];
    if (this.stack.length === frame.height) {
      if (frame.unreachable) return undefined;
      throw this.error(`${what} needs a ${expected} but the stack is empty`);
    }
    const actual = this.stack.pop()!;
    if (actual.type !== expected) {
      throw this.error(`${what} needs a ${expected}, found ${actual.type}`);
    }
    return actual;
  }

  /** Pops a frame's end types and checks that nothing else is left in it. */
  private popResults(frame: ControlFrame, types: ValType[], what: string): void {
    for (let i = types.length - 1; i >= 0; i--) this.pop(types[i], what);
    if (this.stack.length !== frame.height) {
      const extra = this.stack.slice(frame.height).map((v) => v.type);
      throw this.error(`${what} leaves ${extra.length} extra value(s) [${extra.join(", ")}]`);
    }
  }

  /** Emits an instruction: operands, the type-checked stack effect, opcode and immediates. */
  private emit(op: OpDef, operands: Operand[], immediates?: () => void): Value | undefined {
    const start = this.consume(op.name, op.inputs, operands);
    if (op.prefix !== undefined) {
      this.code.push(op.prefix);
      writeU32(this.code, op.code);
    } else {
      this.code.push(op.code);
    }
    immediates?.();
    let result: Value | undefined;
    for (const type of op.outputs) result = this.produce(type, start);
    return op.outputs.length === 1 ? result : undefined;
  }

  /** `t.const`. */
  private constant(type: ValType, value: number | bigint): Value {
    const start = this.code.length;
    writeBytes(this.code, this.lazyBytes(value, type, `${type}.const`));
    return this.produce(type, start);
  }

  /** `v128.const`. */
  private v128Const(bytes: ArrayLike<number>): Value {
    if (bytes.length !== 16) throw this.error("v128.const needs 16 bytes");
    const start = this.code.length;
    this.code.push(0xfd);
    writeU32(this.code, 0x0c);
    writeBytes(this.code, bytes);
    return this.produce("v128", start);
  }

  /** A load or store: operands, then an optional trailing {@link MemArg}. */
  private memoryOp(
    op: OpDef,
    laneIndex: number | undefined,
    args: (Operand | MemArg)[],
  ): Value | undefined {
    let memarg: MemArg = {};
    const last = args[args.length - 1];
    if (last !== undefined && isMemArg(last)) {
      memarg = last;
      args = args.slice(0, -1);
    }
    const offset = memarg.offset ?? 0;
    const align = memarg.align ?? op.size;
    if (!(align >= 1 && align <= op.size && (align & (align - 1)) === 0)) {
      throw this.error(`${op.name}: alignment ${align} is invalid`);
    }
    return this.emit(op, args as Operand[], () => {
      writeU32(this.code, Math.log2(align));
      writeU32(this.code, offset);
      if (laneIndex !== undefined) this.laneImmediate(op, laneIndex);
    });
  }

  /** Appends a checked lane index. */
  private laneImmediate(op: OpDef, laneIndex: number): void {
    const lanes = op.immediate === "memarg+lane" ? 16 / op.size : op.size;
    if (!(Number.isInteger(laneIndex) && laneIndex >= 0 && laneIndex < lanes)) {
      throw this.error(`${op.name}: lane ${laneIndex} not in 0..${lanes - 1}`);
    }
    this.code.push(laneIndex);
  }

  // -- Control ---------------------------------------------------------------------------------

  /** Opens a block, loop or if frame. */
  private enter(kind: ControlFrame["kind"], results: ValType[], opcode: number): ControlFrame {
    this.code.push(opcode);
    if (results.length === 0) this.code.push(0x40);
    else this.code.push(VALTYPE_CODE[results[0]]);
    const frame: ControlFrame = {
      kind,
      labelTypes: kind === "loop" ? [] : results,
      results,
      height: this.stack.length,
      unreachable: false,
      open: true,
    };
    this.frames.push(frame);
    return frame;
  }

  /** Ends `frame`; its results are pushed as values whose code begins at `start`. */
  private leave(frame: ControlFrame, what: string, start: number): Value | undefined {
    if (this.frames[this.frames.length - 1] !== frame) {
      throw this.error(`${what} ended out of order`);
    }
    this.popResults(frame, frame.results, `end of ${what}`);
    this.frames.pop();
    frame.open = false;
    this.code.push(0x0b);
    let result: Value | undefined;
    for (const type of frame.results) result = this.produce(type, start);
    return result;
  }

  /** Splits the (type?, body) overloads of block and loop. */
  private static blockArgs<T>(
    a: ValType | ((label: Label) => T),
    b: ((label: Label) => T) | undefined,
  ): [ValType[], (label: Label) => T] {
    return typeof a === "function" ? [[], a] : [[a], b!];
  }

  /**
   * `block ... end`. A `br` to its label jumps past the end. With a result type, the body must
   * leave one such value (and branches to the label carry one); the block returns it.
   */
  block(body: (exit: Label) => void): void;
  /** `block (result t) ... end`: the body leaves one value of type `result`. */
  block(result: ValType, body: (exit: Label) => void): Value;
  block(a: ValType | ((exit: Label) => void), b?: (exit: Label) => void): Value | void {
    const [results, body] = FunctionBuilder.blockArgs(a, b);
    const start = this.code.length;
    const frame = this.enter("block", results, 0x02);
    body(new Label(frame));
    return this.leave(frame, "block", start);
  }

  /** `loop ... end`. A `br` to its label jumps back to the top; falling off the end leaves. */
  loop(body: (top: Label) => void): void;
  /** `loop (result t) ... end`. */
  loop(result: ValType, body: (top: Label) => void): Value;
  loop(a: ValType | ((top: Label) => void), b?: (top: Label) => void): Value | void {
    const [results, body] = FunctionBuilder.blockArgs(a, b);
    const start = this.code.length;
    const frame = this.enter("loop", results, 0x03);
    body(new Label(frame));
    return this.leave(frame, "loop", start);
  }

  /**
   * `if ... else ... end` on `condition` (an i32, taken from the stack if `undefined`). The label
   * each branch receives is the `if` itself: a `br` to it leaves the conditional.
   */
  if(
    condition: Operand | undefined,
    then: (exit: Label) => void,
    otherwise?: (exit: Label) => void,
  ): void {
    this.conditional(condition, [], then, otherwise);
  }

  /** `if (result type) ... else ... end`: both branches leave a value of `result`. */
  ifValue(
    result: ValType,
    condition: Operand | undefined,
    then: (exit: Label) => void,
    otherwise: (exit: Label) => void,
  ): Value {
    return this.conditional(condition, [result], then, otherwise)!;
  }

  /** The shared part of if and ifValue. */
  private conditional(
    condition: Operand | undefined,
    results: ValType[],
    then: (exit: Label) => void,
    otherwise: ((exit: Label) => void) | undefined,
  ): Value | undefined {
    const start = this.consume("if condition", ["i32"], condition === undefined ? [] : [condition]);
    const frame = this.enter("if", results, 0x04);
    then(new Label(frame));
    if (otherwise !== undefined) {
      this.popResults(frame, results, "then branch");
      this.code.push(0x05);
      frame.kind = "else";
      frame.unreachable = false;
      otherwise(new Label(frame));
    } else if (results.length > 0) {
      throw this.error("an if with a result needs an else branch");
    }
    return this.leave(frame, "if", start);
  }

  /** The relative depth `br` encodes for `label`, checking it is in scope. */
  private depth(label: Label, what: string): number {
    const index = this.frames.lastIndexOf(label.frame);
    if (index < 0 || !label.frame.open) throw this.error(`${what} to a label outside its block`);
    return this.frames.length - 1 - index;
  }

  /** `br`: jumps to `label` (past the end of a block or if, to the top of a loop). */
  br(label: Label): void {
    const depth = this.depth(label, "br");
    this.consume("br", label.frame.labelTypes, []);
    this.code.push(0x0c);
    writeU32(this.code, depth);
    this.markUnreachable();
  }

  /** `br_if`: jumps to `label` if `condition` (an i32, from the stack if omitted) is nonzero. */
  br_if(label: Label, condition?: Operand): void {
    const depth = this.depth(label, "br_if");
    const types = label.frame.labelTypes;
    const start = this.consume(
      "br_if",
      [...types, "i32"],
      condition === undefined ? [] : [condition],
    );
    this.code.push(0x0d);
    writeU32(this.code, depth);
    for (const type of types) this.produce(type, start);
  }

  /** `return`, of `value` if given (else the function's results from the stack). */
  return(value?: Operand): void {
    this.consume("return", this.func.results, value === undefined ? [] : [value]);
    this.code.push(0x0f);
    this.markUnreachable();
  }

  /** `unreachable`: traps. */
  unreachable(): void {
    this.code.push(0x00);
    this.markUnreachable();
  }

  /** After an unconditional jump the rest of the frame is dead code. */
  private markUnreachable(): void {
    const frame = this.frames[this.frames.length - 1];
    this.stack.length = frame.height;
    frame.unreachable = true;
  }

  /** `drop`, of `value` (which must be on top of the stack) or of whatever is on top. */
  drop(value?: Value): void {
    const type = value?.type ?? this.stack[this.stack.length - 1]?.type;
    if (type === undefined) throw this.error("drop on an empty stack");
    this.consume("drop", [type], value === undefined ? [] : [value]);
    this.code.push(0x1a);
  }

  /** `select`: `a` if `condition` is nonzero, else `b`; operands as for any instruction. */
  select(type: ValType, ...operands: Operand[]): Value {
    return this.emit(def("select", 0x1b, `${type} ${type} i32`, type), operands)!;
  }

  /** `call`: operands are the callee's parameters. Returns its result if it has exactly one. */
  call(callee: Func, ...operands: Operand[]): Value | undefined {
    const op: OpDef = {
      name: `call ${callee.name}`,
      code: 0x10,
      inputs: callee.params,
      outputs: callee.results,
      immediate: "none",
      size: 0,
    };
    return this.emit(op, operands, () => writeU32(this.code, callee.index));
  }

  /** `memory.size`, in 64 KiB pages. */
  memory_size(): Value {
    const start = this.code.length;
    this.code.push(0x3f, 0x00);
    return this.produce("i32", start);
  }

  // -- Structured helpers ----------------------------------------------------------------------

  /**
   * A counted loop, `for (i = from; i < to; i += step) body`, with a signed comparison and `to`
   * and `step` read each iteration (pass locals or numbers). The test sits at the bottom, guarded
   * once on entry: the shape compilers emit and engines optimise best. `body` receives `exit`
   * (break) and `next` (continue) labels.
   */
  for(
    counter: Local,
    from: Operand,
    to: Local | number,
    step: Local | number,
    body: (labels: { exit: Label; next: Label }) => void,
  ): void {
    this.set(counter, from);
    this.block((exit) => {
      this.br_if(exit, this.i32.ge_s(counter, to));
      this.loop((top) => {
        this.block((next) => body({ exit, next }));
        this.set(counter, this.i32.add(counter, step));
        this.br_if(top, this.i32.lt_s(counter, to));
      });
    });
  }

  /** `while (condition()) body()`: `condition` emits an i32. */
  while(condition: () => Operand, body: (labels: { exit: Label; next: Label }) => void): void {
    this.block((exit) => {
      this.loop((top) => {
        this.br_if(exit, this.i32.eqz(condition()));
        this.block((next) => body({ exit, next }));
        this.br(top);
      });
    });
  }

  /** @internal Ends the body and returns its encoding (locals vector, code, `end`). */
  finish(): number[] {
    if (this.finished) throw this.error("finished twice");
    this.finished = true;
    if (this.frames.length !== 1) throw this.error(`${this.frames.length - 1} block(s) left open`);
    this.popResults(this.frames[0], this.func.results, "end of function");
    const out: number[] = [];
    // Locals are declared as runs of one type, in index order.
    const runs: [number, ValType][] = [];
    for (const local of this.localList.slice(this.func.params.length)) {
      const last = runs[runs.length - 1];
      if (last !== undefined && last[1] === local.type) last[0]++;
      else runs.push([1, local.type]);
    }
    writeU32(out, runs.length);
    for (const [count, type] of runs) {
      writeU32(out, count);
      out.push(VALTYPE_CODE[type]);
    }
    writeBytes(out, this.code);
    out.push(0x0b);
    this.func.locals = this.localList;
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Modules.

/** Options of {@link ModuleBuilder.importMemory}. */
export interface MemoryImport {
  /** Import module name; default `env`. */
  module?: string;
  /** Import field name; default `memory`. */
  name?: string;
  /** Minimum size in 64 KiB pages. */
  initial: number;
  /** Maximum size in pages; required for shared memory. */
  maximum?: number;
  /** A shared memory (backed by a SharedArrayBuffer, usable from several workers). */
  shared?: boolean;
}

/** Options of {@link ModuleBuilder.func}. */
export interface FuncOptions<P extends Record<string, ValType>> {
  /** The function's name (in the name section, and its export name by default). */
  name: string;
  /** Parameters by name, in order (names must not look like integers). */
  params: P;
  /** Result types; none by default. */
  results?: ValType[];
  /** Export under `name` (or under this string). */
  export?: boolean | string;
}

/** Parameters all of type i32, by name: what kernels taking byte offsets and sizes declare. */
export function i32Params<const N extends string>(...names: N[]): { readonly [K in N]: "i32" } {
  return Object.fromEntries(names.map((name) => [name, "i32"])) as { readonly [K in N]: "i32" };
}

/** Builds a module: types, the memory import, functions, exports and a name section. */
export class ModuleBuilder {
  private readonly types: string[] = [];
  private readonly funcs: Func[] = [];
  private readonly exports: [string, number, number][] = [];
  private memory: MemoryImport | undefined;

  /** Imports the module's linear memory (by default as `env.memory`). */
  importMemory(memory: MemoryImport): void {
    if (this.memory !== undefined) throw new WasmBuildError("memory imported twice");
    if (memory.shared && memory.maximum === undefined) {
      throw new WasmBuildError("a shared memory needs a maximum");
    }
    this.memory = memory;
  }

  /**
   * Declares a function without its body, so that functions defined before it can call it; give
   * the body later with {@link define}.
   */
  declare<P extends Record<string, ValType>>(options: FuncOptions<P>): DeclaredFunc<P> {
    const names = Object.keys(options.params);
    for (const name of names) {
      if (/^\d+$/.test(name)) {
        throw new WasmBuildError(`parameter name "${name}" looks like an index`);
      }
    }
    const params = names.map((n) => options.params[n]);
    const results = options.results ?? [];
    const signature = `${params.join(",")}:${results.join(",")}`;
    let typeIndex = this.types.indexOf(signature);
    if (typeIndex < 0) typeIndex = this.types.push(signature) - 1;
    const func = new Func(this.funcs.length, options.name, params, results, typeIndex);
    this.funcs.push(func);
    if (options.export) {
      this.exports.push([options.export === true ? options.name : options.export, 0, func.index]);
    }
    return { func, paramNames: names as (keyof P & string)[] };
  }

  /** Gives a declared function its body. */
  define<P extends Record<string, ValType>>(
    declared: DeclaredFunc<P>,
    body: (b: FunctionBuilder, params: { [K in keyof P]: Local }) => void,
  ): Func {
    const { func, paramNames } = declared;
    if (func.body !== undefined) throw new WasmBuildError(`function ${func.name} defined twice`);
    const b = new FunctionBuilder(func, paramNames);
    const params = {} as { [K in keyof P]: Local };
    paramNames.forEach((name, i) => {
      params[name] = b.param(i);
    });
    body(b, params);
    func.body = b.finish();
    return func;
  }

  /** Declares and defines a function in one go. */
  func<P extends Record<string, ValType>>(
    options: FuncOptions<P>,
    body: (b: FunctionBuilder, params: { [K in keyof P]: Local }) => void,
  ): Func {
    return this.define(this.declare(options), body);
  }

  /** The module's binary encoding. */
  toBytes(): Uint8Array<ArrayBuffer> {
    const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    for (const func of this.funcs) {
      if (func.body === undefined) throw new WasmBuildError(`function ${func.name} has no body`);
    }

    const typeSection: number[] = [];
    writeU32(typeSection, this.types.length);
    for (const signature of this.types) {
      const [params, results] = signature.split(":").map((s) => types(s.replaceAll(",", " ")));
      typeSection.push(0x60);
      writeU32(typeSection, params.length);
      for (const t of params) typeSection.push(VALTYPE_CODE[t]);
      writeU32(typeSection, results.length);
      for (const t of results) typeSection.push(VALTYPE_CODE[t]);
    }
    writeSection(out, 1, typeSection);

    if (this.memory !== undefined) {
      const m = this.memory;
      const imports: number[] = [1];
      writeName(imports, m.module ?? "env");
      writeName(imports, m.name ?? "memory");
      imports.push(0x02);
      imports.push((m.maximum !== undefined ? 1 : 0) | (m.shared ? 2 : 0));
      writeU32(imports, m.initial);
      if (m.maximum !== undefined) writeU32(imports, m.maximum);
      writeSection(out, 2, imports);
    }

    const funcSection: number[] = [];
    writeU32(funcSection, this.funcs.length);
    for (const func of this.funcs) writeU32(funcSection, func.typeIndex);
    writeSection(out, 3, funcSection);

    const exportSection: number[] = [];
    writeU32(exportSection, this.exports.length);
    for (const [name, kind, index] of this.exports) {
      writeName(exportSection, name);
      exportSection.push(kind);
      writeU32(exportSection, index);
    }
    writeSection(out, 7, exportSection);

    const codeSection: number[] = [];
    writeU32(codeSection, this.funcs.length);
    for (const func of this.funcs) {
      writeU32(codeSection, func.body!.length);
      writeBytes(codeSection, func.body!);
    }
    writeSection(out, 10, codeSection);

    // The name section costs nothing at run time and makes engine stack traces and profiles
    // show kernel and local names instead of indices.
    const names: number[] = [];
    writeName(names, "name");
    const functionNames: number[] = [];
    writeU32(functionNames, this.funcs.length);
    for (const func of this.funcs) {
      writeU32(functionNames, func.index);
      writeName(functionNames, func.name);
    }
    names.push(1);
    writeU32(names, functionNames.length);
    writeBytes(names, functionNames);
    const localNames: number[] = [];
    writeU32(localNames, this.funcs.length);
    for (const func of this.funcs) {
      writeU32(localNames, func.index);
      writeU32(localNames, func.locals.length);
      for (const local of func.locals) {
        writeU32(localNames, local.index);
        writeName(localNames, local.name);
      }
    }
    names.push(2);
    writeU32(names, localNames.length);
    writeBytes(names, localNames);
    writeSection(out, 0, names);

    return new Uint8Array(out);
  }
}

/** A function declared by {@link ModuleBuilder.declare}, awaiting its body. */
export interface DeclaredFunc<P extends Record<string, ValType>> {
  /** The function, callable already. */
  readonly func: Func;
  /** Its parameter names, in order. */
  readonly paramNames: (keyof P & string)[];
}
