/**
 * The language elementwise ops are written in: a small typed expression tree over an op's inputs,
 * built from a fixed set of primitives. Each elementwise op states its value once, in this language
 * (see ops.ts), and every device renders the tree into its own code (JavaScript, WebAssembly,
 * WGSL). A device's renderer covers each primitive in an exhaustive table, so a primitive a device
 * lacks is a type error, not a runtime throw.
 *
 * Semantics are IEEE float arithmetic, with NaN made explicit: `isNan` and `isFinite` are tests a
 * renderer must implement faithfully even where its compiler assumes no NaN (WGSL may: there they
 * read the bits), and an op that must let a NaN through (relu, maximum) says so with them.
 */

/** Unary number primitives. */
export type UnaryFn = "neg" | "abs" | "sqrt" | "exp" | "log" | "tanh";
/** Binary number primitives. */
export type BinaryFn = "add" | "sub" | "mul" | "div";
/** Comparisons, false whenever an operand is NaN (as IEEE says), except `ne`. */
export type CompareFn = "lt" | "le" | "gt" | "ge" | "eq" | "ne";
/** Tests of a value's class. */
export type TestFn = "isNan" | "isFinite";
/** Boolean connectives. */
export type LogicFn = "and" | "or";

/** A number-valued expression. */
export type NumExpr =
  | { readonly kind: "arg"; readonly index: number }
  | { readonly kind: "const"; readonly value: number }
  | { readonly kind: "unary"; readonly fn: UnaryFn; readonly x: NumExpr }
  | { readonly kind: "binary"; readonly fn: BinaryFn; readonly a: NumExpr; readonly b: NumExpr }
  | { readonly kind: "select"; readonly cond: BoolExpr; readonly a: NumExpr; readonly b: NumExpr };

/** A boolean-valued expression (only ever the condition of a `select`). */
export type BoolExpr =
  | { readonly kind: "compare"; readonly fn: CompareFn; readonly a: NumExpr; readonly b: NumExpr }
  | { readonly kind: "test"; readonly fn: TestFn; readonly x: NumExpr }
  | { readonly kind: "logic"; readonly fn: LogicFn; readonly a: BoolExpr; readonly b: BoolExpr };

type Operand = NumExpr | number;
const num = (x: Operand): NumExpr => (typeof x === "number" ? { kind: "const", value: x } : x);

/** Builders, so op definitions read like formulas. */
export const E = {
  /** The op's input number `index`. */
  arg: (index: number): NumExpr => ({ kind: "arg", index }),
  unary: (fn: UnaryFn, x: Operand): NumExpr => ({ kind: "unary", fn, x: num(x) }),
  binary: (fn: BinaryFn, a: Operand, b: Operand): NumExpr => ({
    kind: "binary",
    fn,
    a: num(a),
    b: num(b),
  }),
  compare: (fn: CompareFn, a: Operand, b: Operand): BoolExpr => ({
    kind: "compare",
    fn,
    a: num(a),
    b: num(b),
  }),
  test: (fn: TestFn, x: Operand): BoolExpr => ({ kind: "test", fn, x: num(x) }),
  or: (a: BoolExpr, b: BoolExpr): BoolExpr => ({ kind: "logic", fn: "or", a, b }),
  and: (a: BoolExpr, b: BoolExpr): BoolExpr => ({ kind: "logic", fn: "and", a, b }),
  /** `a` where `cond` holds, else `b`. */
  select: (cond: BoolExpr, a: Operand, b: Operand): NumExpr => ({
    kind: "select",
    cond,
    a: num(a),
    b: num(b),
  }),
} as const;

/** Every argument index an expression reads. */
export function argsOf(e: NumExpr | BoolExpr, into = new Set<number>()): Set<number> {
  switch (e.kind) {
    case "arg":
      into.add(e.index);
      break;
    case "const":
      break;
    case "unary":
    case "test":
      argsOf(e.x, into);
      break;
    case "binary":
    case "compare":
    case "logic":
      argsOf(e.a, into);
      argsOf(e.b, into);
      break;
    case "select":
      argsOf(e.cond, into);
      argsOf(e.a, into);
      argsOf(e.b, into);
      break;
  }
  return into;
}

/**
 * A renderer's table: one entry per primitive. Devices build their code with {@link renderExpr}
 * from such a table; a missing entry does not type-check.
 */
export interface ExprTable<T> {
  arg(index: number): T;
  constant(value: number): T;
  unary: { readonly [F in UnaryFn]: (x: T) => T };
  binary: { readonly [F in BinaryFn]: (a: T, b: T) => T };
  compare: { readonly [F in CompareFn]: (a: T, b: T) => T };
  test: { readonly [F in TestFn]: (x: T) => T };
  logic: { readonly [F in LogicFn]: (a: T, b: T) => T };
  select(cond: T, a: T, b: T): T;
}

/**
 * Arithmetic and comparisons for a text language with C-like infix operators (JavaScript and WGSL
 * share them); `equal` and `notEqual` are the language's spellings of equality.
 */
export function infixText(
  equal: string,
  notEqual: string,
): Pick<ExprTable<string>, "binary" | "compare"> {
  const infix = (op: string) => (a: string, b: string) => `(${a} ${op} ${b})`;
  return {
    binary: { add: infix("+"), sub: infix("-"), mul: infix("*"), div: infix("/") },
    compare: {
      lt: infix("<"),
      le: infix("<="),
      gt: infix(">"),
      ge: infix(">="),
      eq: infix(equal),
      ne: infix(notEqual),
    },
  };
}

/** Renders `e` bottom-up through `table` (text for JS and WGSL, instruction lists for wasm). */
export function renderExpr<T>(e: NumExpr | BoolExpr, table: ExprTable<T>): T {
  switch (e.kind) {
    case "arg":
      return table.arg(e.index);
    case "const":
      return table.constant(e.value);
    case "unary":
      return table.unary[e.fn](renderExpr(e.x, table));
    case "binary":
      return table.binary[e.fn](renderExpr(e.a, table), renderExpr(e.b, table));
    case "compare":
      return table.compare[e.fn](renderExpr(e.a, table), renderExpr(e.b, table));
    case "test":
      return table.test[e.fn](renderExpr(e.x, table));
    case "logic":
      return table.logic[e.fn](renderExpr(e.a, table), renderExpr(e.b, table));
    case "select":
      return table.select(
        renderExpr(e.cond, table),
        renderExpr(e.a, table),
        renderExpr(e.b, table),
      );
  }
}
