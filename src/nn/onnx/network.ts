/**
 * An imported ONNX network in our graph: its weights and statistics as variables (kernels stored
 * channels last), and a builder that turns its nodes, in the file's order, into graph ops for a
 * batch of images (channels last, [N, H, W, C]) or rows ([N, F]), taking one of its values as the
 * output. Only the nodes the output needs are converted.
 */
import { MagnetInputError, ShapeError } from "../../errors.ts";
import type { Update } from "../../backend/backend.ts";
import { reshape, transpose } from "../../graph/ops.ts";
import { type Tensor, Variable } from "../../graph/tensor.ts";
import { defaultOpset, type NodeProto, tensorValues } from "./onnx_proto.ts";
import { type ConvertContext, ConvertError, CONVERTERS, SUPPORTED_OPS } from "./converters.ts";
import type { InitializerInfo, OnnxSource } from "./source.ts";
import { constValue, logicalShape, permute32, plain, tensorValue, type Value } from "./values.ts";

/** ONNX [Cout, Cin / groups, kh, kw] to our [kh, kw, Cin / groups, Cout], and back. */
const KERNEL_TO_STORED = [2, 3, 1, 0];
const KERNEL_TO_ONNX = [3, 2, 0, 1];

/** The shape a variable has in our storage. */
export function storedShape(info: InitializerInfo): number[] {
  const d = info.dims;
  return info.layout === "conv" ? [d[2], d[3], d[1], d[0]] : [...d];
}

/** Values in the file's layout, as our variable stores them. */
export function toStored(info: InitializerInfo, values: Float32Array): Float32Array {
  return info.layout === "conv" ? permute32(values, info.dims, KERNEL_TO_STORED) : values;
}

/** Values of our variable, in the file's layout. */
export function toOnnxLayout(info: InitializerInfo, values: Float32Array): Float32Array {
  return info.layout === "conv" ? permute32(values, storedShape(info), KERNEL_TO_ONNX) : values;
}

/** Options of {@link OnnxNetwork}. */
export interface NetworkOptions {
  /** The value taken as the output. Default: the graph's first output. */
  readonly output?: string;
  /** Variable names are this prefix, a dot and the initializer's name. Default "onnx". */
  readonly prefix?: string;
  /**
   * Initial values by initializer name, in our layout (see {@link toStored}); missing ones come
   * from the file, and when it has none (a structure only), zeros until written.
   */
  readonly values?: ReadonlyMap<string, Float32Array>;
}

/** A network's graph: see the module comment. */
export class OnnxNetwork {
  /** Variables by initializer name: the weights and the running statistics. */
  readonly variables: ReadonlyMap<string, Variable>;
  /** The value taken as the output. */
  readonly output: string;
  /** The nodes the output needs, in order. */
  readonly #nodes: readonly NodeProto[];
  readonly #constants = new Map<string, Value>();

  /** Prepares the variables and checks every needed node's operator is supported. */
  constructor(readonly source: OnnxSource, options: NetworkOptions = {}) {
    const graph = source.model.graph!;
    this.output = options.output ?? source.outputs[0];
    const prefix = options.prefix ?? "onnx";
    const producers = new Map<string, number>();
    graph.node.forEach((node, i) => node.output.forEach((o) => producers.set(o, i)));
    if (!producers.has(this.output) && this.output !== source.input.name) {
      throw new MagnetInputError(
        `${source.label} has no value named "${this.output}" (its outputs: ${
          source.outputs.join(", ")
        }); give the name of a node's output`,
      );
    }
    // The nodes the output depends on.
    const needed = new Set<number>();
    const stack = [this.output];
    const seen = new Set<string>();
    while (stack.length > 0) {
      const name = stack.pop()!;
      if (seen.has(name)) continue;
      seen.add(name);
      const at = producers.get(name);
      if (at === undefined) continue;
      needed.add(at);
      for (const input of graph.node[at].input) if (input !== "") stack.push(input);
    }
    const nodes = graph.node.filter((_, i) => needed.has(i));
    const unsupported = nodes.filter((n) => !(n.opType! in CONVERTERS));
    if (unsupported.length > 0) {
      const n = unsupported[0];
      throw new MagnetInputError(
        `${source.label}: node "${n.name || n.output[0]}" is a ${n.opType}, which is not ` +
          `supported${
            unsupported.length > 1
              ? ` (nor ${[...new Set(unsupported.slice(1).map((u) => u.opType))].join(", ")})`
              : ""
          }; supported operators: ${SUPPORTED_OPS.join(", ")}`,
      );
    }
    this.#nodes = nodes;
    const variables = new Map<string, Variable>();
    const used = new Set(nodes.flatMap((n) => n.input));
    for (const info of source.initializers.values()) {
      if (!used.has(info.name)) continue;
      const t = graph.initializer.find((x) => x.name === info.name)!;
      if (info.role === "constant") {
        const values = tensorValues(t, `${source.label}: initializer "${info.name}"`);
        this.#constants.set(info.name, constValue(values.data, info.dims, values.kind === "int"));
        continue;
      }
      let initial = options.values?.get(info.name);
      if (initial === undefined) {
        const hasData = t.rawData !== undefined || t.floatData.length > 0 ||
          t.doubleData.length > 0;
        initial = hasData
          ? toStored(
            info,
            Float32Array.from(tensorValues(t, `${source.label}: "${info.name}"`).data),
          )
          : undefined;
      }
      variables.set(info.name, new Variable(`${prefix}.${info.name}`, storedShape(info), initial));
    }
    this.variables = variables;
  }

  /** The nodes the output needs, in order (as in the file). */
  get nodes(): readonly NodeProto[] {
    return this.#nodes;
  }

  /** Whether a node the output needs reads the value `name`. */
  reads(name: string): boolean {
    return this.#nodes.some((n) => n.input.includes(name));
  }

  /** Whether the initializer behind a variable is a running statistic (else a weight). */
  isStatistic(name: string): boolean {
    return this.source.initializers.get(name)?.role === "statistic";
  }

  /**
   * The output for the batch `x` (images [N, H, W, C] channels last, or rows [N, F], as the
   * network's input is declared), flattened to [N, features], and in training mode the updates
   * of the running statistics. `tensorOf` gives each variable's tensor (default: the variable).
   */
  build(
    x: Tensor,
    training: boolean,
    tensorOf: (v: Variable) => Tensor = (v) => x.graph.variable(v),
  ): { output: Tensor; updates: Update[] } {
    const source = this.source;
    const g = x.graph;
    const values = new Map<string, Value>(this.#constants);
    const declared = source.input.dims;
    if (x.rank === 4) {
      const c = declared[1];
      if (declared.length !== 4 || (c !== null && c !== x.shape[3])) {
        throw new MagnetInputError(
          `${source.label} takes input of shape [${declared.map((d) => d ?? "?")}], not images ` +
            `of ${x.shape[3]} channels`,
        );
      }
      values.set(source.input.name, tensorValue(x, true));
    } else {
      if (
        declared.length !== x.rank ||
        declared.slice(1).some((d, i) => d !== null && d !== x.shape[i + 1])
      ) {
        throw new MagnetInputError(
          `${source.label} takes input of shape [${declared.map((d) => d ?? "?")}], not rows of ` +
            `shape [${x.shape}]`,
        );
      }
      values.set(source.input.name, tensorValue(x));
    }
    const stored = new Map<string, Tensor>();
    for (const [name, v] of this.variables) stored.set(name, tensorOf(v));
    const updates: Update[] = [];
    const opset = defaultOpset(source.model);
    const batch = { declared: declared[0] ?? null, actual: x.shape[0] };
    for (const node of this.#nodes) {
      const lookup = (i: number): Value | undefined => {
        const name = node.input[i];
        if (name === undefined || name === "") return undefined;
        const v = values.get(name);
        if (v !== undefined) return v;
        const variable = stored.get(name);
        if (variable !== undefined) {
          // A kernel stored channels last is seen in the file's layout by any other reader.
          const conv = source.initializers.get(name)!.layout === "conv";
          return tensorValue(conv ? transpose(variable, KERNEL_TO_ONNX) : variable);
        }
        throw new MagnetInputError(
          `${source.label}: node "${node.name || node.output[0]}" reads "${name}", which no node ` +
            "before it computes (is the graph sorted, and is every output it reads supported?)",
        );
      };
      const ctx: ConvertContext = {
        graph: g,
        node,
        opset,
        training,
        batch,
        input: lookup,
        kernel: (i) => {
          const name = node.input[i];
          const info = source.initializers.get(name);
          if (info?.layout === "conv" && stored.has(name)) return stored.get(name)!;
          const v = lookup(i);
          if (v === undefined) throw new ConvertError("needs its weights");
          const w = plain(g, v);
          if (w.rank !== 4) {
            throw new ConvertError(`expects weights [Cout, Cin, kh, kw], got [${w.shape}]`);
          }
          return transpose(w, KERNEL_TO_STORED);
        },
        variable: (i) => {
          const name = node.input[i];
          const v = this.variables.get(name);
          return v !== undefined && this.isStatistic(name) ? v : null;
        },
        update: (u) => updates.push(u),
      };
      let outputs: Value[];
      try {
        outputs = CONVERTERS[node.opType!](ctx);
      } catch (error) {
        if (!(error instanceof ConvertError || error instanceof ShapeError)) throw error;
        throw new MagnetInputError(
          `${source.label}: node "${
            node.name || node.output[0]
          }" (${node.opType}): ${error.message}`,
        );
      }
      outputs.forEach((v, i) => {
        if (node.output[i] !== undefined && node.output[i] !== "") values.set(node.output[i], v);
      });
    }
    const out = values.get(this.output)!;
    const shape = logicalShape(out);
    if (out.kind === "const" || shape.length < 1 || shape[0] !== x.shape[0]) {
      throw new MagnetInputError(
        `${source.label}: "${this.output}" has shape [${shape}], not one row per input ` +
          `(${x.shape[0]}): choose a value computed from the input`,
      );
    }
    const flat = plain(g, out);
    return { output: reshape(flat, [x.shape[0], flat.size / x.shape[0]]), updates };
  }
}
