/**
 * Symbolic tensors and the graph that holds them.
 *
 * A {@link Graph} is built once (define-then-run): ops add nodes, {@link gradients} adds the backward
 * nodes, and a backend compiles the nodes an output needs into a plan it can run many times. Nodes are
 * created in topological order, so a node's id is larger than the ids of its inputs.
 */
import { ShapeError } from "../errors.ts";

/** Element type of a tensor: floating point (float32, or float64 on a float64 CPU backend) or int32 indices. */
export type DType = "float" | "int32";

/** A tensor shape: a list of positive integer dimensions (empty for a scalar). */
export type Shape = readonly number[];

/** The elementwise ops: each computes one output element from one element of each input. */
export type ElementwiseOp =
  | "neg"
  | "exp"
  | "log"
  | "sqrt"
  | "square"
  | "relu"
  | "step"
  | "abs"
  | "sign"
  | "isFinite"
  | "tanh"
  | "sigmoid"
  | "add"
  | "sub"
  | "mul"
  | "div"
  | "maximum"
  | "minimum"
  | "greater"
  | "greaterEqual"
  | "equal"
  | "where"
  | "broadcastTo"
  | "transpose";

/**
 * What a node computes: its op and that op's attributes, one shape per op, so code that reads an
 * attribute first narrows on `op` and the compiler checks the rest (no casts).
 */
export type OpSpec =
  | { readonly op: "input"; readonly name: string }
  | { readonly op: "constant"; readonly data: Float64Array }
  | { readonly op: "variable"; readonly variable: Variable }
  | { readonly op: Exclude<ElementwiseOp, "transpose"> }
  | { readonly op: "transpose"; readonly perm: Shape }
  | { readonly op: "reshape"; readonly shape: Shape }
  | { readonly op: "stopGradient" }
  | { readonly op: "sum" | "max" | "argmax"; readonly axis: number; readonly keepDims: boolean }
  | { readonly op: "matmul"; readonly transposeA: boolean; readonly transposeB: boolean }
  | { readonly op: "gather" }
  | { readonly op: "segmentSum"; readonly numSegments: number }
  | { readonly op: "oneHot"; readonly depth: number }
  | ({ readonly op: "patches" } & PatchGeometry)
  | ({ readonly op: "unpatches" } & PatchGeometry)
  | { readonly op: "argSmallestK"; readonly k: number }
  | { readonly op: "takeAlongRows" };

/**
 * How patches are cut from images [N, height, width, C] (channels last): windows of kh x kw pixels
 * every `stride` pixels, the image padded with zeros by `padTop` rows and `padLeft` columns before
 * (and as needed after), giving an outHeight x outWidth grid of windows.
 */
export interface PatchGeometry {
  /** Image height in pixels. */
  readonly height: number;
  /** Image width in pixels. */
  readonly width: number;
  /** Window height. */
  readonly kh: number;
  /** Window width. */
  readonly kw: number;
  /** Pixels between windows, both ways. */
  readonly stride: number;
  /** Rows of zeros above the image. */
  readonly padTop: number;
  /** Columns of zeros left of the image. */
  readonly padLeft: number;
  /** Rows of windows. */
  readonly outHeight: number;
  /** Columns of windows. */
  readonly outWidth: number;
}

/** The name of an op. */
export type OpName = OpSpec["op"];

/** The largest rank any tensor may have; kernels address up to this many dimensions. */
export const MAX_RANK = 4;

let nextGraphId = 1;
let nextVariableId = 1;

/** Number of elements of a shape. */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Formats a shape the way error messages show it: `[2,3]`. */
export function formatShape(shape: Shape): string {
  return `[${shape.join(",")}]`;
}

/** Throws a {@link ShapeError} for `op` unless `shape` is a valid shape. */
export function checkShape(op: string, shape: Shape): void {
  if (shape.length > MAX_RANK) {
    throw new ShapeError(
      op,
      `rank ${shape.length} is above the supported ${MAX_RANK}: shape ${formatShape(shape)}`,
    );
  }
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 1) {
      throw new ShapeError(op, `dimensions must be positive integers, got ${formatShape(shape)}`);
    }
  }
}

/**
 * A named parameter that lives on a backend between runs (weights, optimizer state, cluster centres).
 * It is backend-independent: each backend allocates its own storage the first time a compiled graph
 * uses it, filled from {@link Variable.initial}.
 */
export class Variable {
  /** A process-unique id. */
  readonly id: number = nextVariableId++;
  /** The starting value, row-major. */
  readonly initial: Float32Array;

  /** Creates a variable; `initial` defaults to zeros and must hold exactly `sizeOf(shape)` values. */
  constructor(readonly name: string, readonly shape: Shape, initial?: ArrayLike<number>) {
    checkShape(`variable "${name}"`, shape);
    const size = sizeOf(shape);
    if (initial !== undefined && initial.length !== size) {
      throw new ShapeError(
        `variable "${name}"`,
        `initial value has ${initial.length} elements, shape ${formatShape(shape)} needs ${size}`,
      );
    }
    this.initial = initial === undefined ? new Float32Array(size) : Float32Array.from(initial);
  }

  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }
}

/** A symbolic tensor: one node of a {@link Graph}. It holds no data; a backend computes its value. */
export class Tensor {
  /** Creates a node; use the op functions or the {@link Graph} methods rather than this. */
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly spec: OpSpec,
    readonly inputs: readonly Tensor[],
    readonly shape: Shape,
    readonly dtype: DType,
    readonly name?: string,
    /** The layer that built it, in words (see {@link Graph.inLayer}), for messages about it. */
    readonly layer?: string,
  ) {}

  /** The op's name (`spec.op`). */
  get op(): OpName {
    return this.spec.op;
  }

  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }

  /** Number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  /** A short description for messages: op, id and shape. */
  toString(): string {
    return `${this.name ?? this.op}#${this.id}${formatShape(this.shape)}`;
  }
}

/**
 * A computation graph. Inputs are fed at run time by name; variables persist on the backend; constants
 * are uploaded once when a graph is compiled.
 */
export class Graph {
  /** A process-unique id. */
  readonly id: number = nextGraphId++;
  readonly #nodes: Tensor[] = [];
  readonly #inputs = new Map<string, Tensor>();
  readonly #variables = new Map<Variable, Tensor>();
  readonly #scalars = new Map<number, Tensor>();
  /** Computed nodes by what they compute (op, attributes, inputs): see {@link Graph.addNode}. */
  readonly #computed = new Map<string, Tensor>();
  #layer: string | undefined = undefined;

  /** All nodes, in creation (topological) order. */
  get nodes(): readonly Tensor[] {
    return this.#nodes;
  }

  /**
   * Adds a node. Ops call this after checking their shapes. A computed node that would compute
   * exactly what an existing one does (same op, attributes and inputs) is that node: a graph
   * written naturally, and the gradients added to it, compute each value once (a normalisation's
   * x - mean serves its variance and its output alike).
   */
  addNode(spec: OpSpec, inputs: readonly Tensor[], shape: Shape, dtype: DType): Tensor {
    for (const t of inputs) {
      if (t.graph !== this) {
        throw new ShapeError(spec.op, `input ${t} belongs to another graph`);
      }
    }
    checkShape(spec.op, shape);
    // Sources (constants, variables) have no inputs and are never merged here.
    const key = inputs.length === 0
      ? null
      : `${JSON.stringify(spec)}|${inputs.map((t) => t.id).join(",")}|${shape.join(",")}|${dtype}`;
    if (key !== null) {
      const existing = this.#computed.get(key);
      if (existing !== undefined) return existing;
    }
    const node = new Tensor(
      this,
      this.#nodes.length,
      spec,
      inputs,
      shape,
      dtype,
      undefined,
      this.#layer,
    );
    this.#nodes.push(node);
    if (key !== null) this.#computed.set(key, node);
    return node;
  }

  /**
   * Builds with `build`, stamping every node it adds with `layer` (a name in the user's terms, such
   * as "convolution 2 (64 channels)"), so that a message about a node (a tensor too large for the
   * device, say) can say which layer it belongs to. Undefined leaves nodes unstamped.
   */
  inLayer<T>(layer: string | undefined, build: () => T): T {
    const outer = this.#layer;
    this.#layer = layer;
    try {
      return build();
    } finally {
      this.#layer = outer;
    }
  }

  /** A placeholder fed at run time under `name` (float data, or int32 indices). */
  input(name: string, shape: Shape, dtype: DType = "float"): Tensor {
    if (this.#inputs.has(name)) throw new ShapeError("input", `an input named "${name}" exists`);
    checkShape(`input "${name}"`, shape);
    const node = new Tensor(
      this,
      this.#nodes.length,
      { op: "input", name },
      [],
      shape,
      dtype,
      name,
    );
    this.#nodes.push(node);
    this.#inputs.set(name, node);
    return node;
  }

  /** The inputs declared so far, by name. */
  get inputs(): ReadonlyMap<string, Tensor> {
    return this.#inputs;
  }

  /** A constant tensor holding `data` (row-major); float unless `dtype` says int32. */
  constant(data: ArrayLike<number>, shape: Shape, dtype: DType = "float"): Tensor {
    checkShape("constant", shape);
    if (data.length !== sizeOf(shape)) {
      throw new ShapeError(
        "constant",
        `${data.length} values given for shape ${formatShape(shape)} (${sizeOf(shape)} elements)`,
      );
    }
    return this.addNode({ op: "constant", data: Float64Array.from(data) }, [], shape, dtype);
  }

  /** A scalar float constant; equal values share one node. */
  scalar(value: number): Tensor {
    let node = this.#scalars.get(value);
    if (node === undefined) {
      node = this.constant([value], []);
      this.#scalars.set(value, node);
    }
    return node;
  }

  /** The node that reads `v` in this graph (one per variable and graph). */
  variable(v: Variable): Tensor {
    let node = this.#variables.get(v);
    if (node === undefined) {
      node = this.addNode({ op: "variable", variable: v }, [], v.shape, "float");
      this.#variables.set(v, node);
    }
    return node;
  }
}
