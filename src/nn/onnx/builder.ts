/**
 * Writing ONNX graphs: nodes with typed attributes, initializers, declared inputs and outputs,
 * assembled into a model file. What the exporter writes with (and the tests, for one-node models).
 */
import {
  type AttributeProto,
  AttributeType,
  DataType,
  encodeModel,
  floatTensor,
  int64Tensor,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from "./onnx_proto.ts";

/**
 * An attribute value: an integer, a list of integers, a string, a float (`{ float }`), a list of
 * floats (`{ floats }`) or a tensor.
 */
export type AttributeValue =
  | number
  | readonly number[]
  | string
  | { readonly float: number }
  | { readonly floats: readonly number[] }
  | TensorProto;

function attributeProto(name: string, value: AttributeValue): AttributeProto {
  const base: AttributeProto = { name, floats: [], ints: [], strings: [], tensors: [], graphs: [] };
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: ${value} is not an integer`);
    return { ...base, type: AttributeType.INT, i: value };
  }
  if (typeof value === "string") {
    return { ...base, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  }
  if (Array.isArray(value)) return { ...base, type: AttributeType.INTS, ints: [...value] };
  if ("float" in value) return { ...base, type: AttributeType.FLOAT, f: value.float };
  if ("floats" in value) return { ...base, type: AttributeType.FLOATS, floats: [...value.floats] };
  return { ...base, type: AttributeType.TENSOR, t: value as TensorProto };
}

function valueInfo(name: string, dims?: readonly (number | string)[]): ValueInfoProto {
  const shape = dims === undefined ? undefined : {
    dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })),
  };
  return { name, type: { tensorType: { elemType: DataType.FLOAT, shape } } };
}

/** Builds one ONNX graph. */
export class OnnxBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  #next = 0;

  /** A builder for a graph of the default domain's `opset`. */
  constructor(readonly opset = 17) {}

  /** A fresh value name with `hint` in it. */
  name(hint: string): string {
    return `${hint}_${this.#next++}`;
  }

  /** Declares the graph input `name` of float32 values ("N" and other strings: symbolic). */
  input(name: string, dims: readonly (number | string)[]): string {
    this.inputs.push(valueInfo(name, dims));
    return name;
  }

  /** Declares `name` a graph output (of unstated shape unless `dims` are given). */
  output(name: string, dims?: readonly (number | string)[]): void {
    this.outputs.push(valueInfo(name, dims));
  }

  /** A float32 initializer. */
  floats(name: string, dims: readonly number[], data: ArrayLike<number>): string {
    this.initializers.push(floatTensor(name, dims, data));
    return name;
  }

  /** An int64 initializer (shapes, axes). */
  ints(name: string, data: readonly number[], dims: readonly number[] = [data.length]): string {
    this.initializers.push(int64Tensor(name, dims, data));
    return name;
  }

  /**
   * A node of `op` reading `inputs` ("" for an absent optional one); returns its output names
   * (`outputs` of them, named from the op unless given).
   */
  node(
    op: string,
    inputs: readonly string[],
    attributes: Readonly<Record<string, AttributeValue>> = {},
    outputs: number | readonly string[] = 1,
  ): string[] {
    const names = typeof outputs === "number"
      ? Array.from({ length: outputs }, () => this.name(op))
      : [...outputs];
    this.nodes.push({
      input: [...inputs],
      output: names,
      name: this.name(`node_${op}`),
      opType: op,
      domain: "",
      attribute: Object.entries(attributes).map(([k, v]) => attributeProto(k, v)),
    });
    return names;
  }

  /** The model. */
  model(producer = "magnet"): ModelProto {
    return {
      irVersion: 8,
      opsetImport: [{ domain: "", version: this.opset }],
      producerName: producer,
      metadataProps: [],
      functions: [],
      graph: {
        name: "graph",
        node: this.nodes,
        initializer: this.initializers,
        sparseInitializer: [],
        input: this.inputs,
        output: this.outputs,
        valueInfo: [],
      },
    };
  }

  /** The model file's bytes. */
  bytes(producer = "magnet"): Uint8Array<ArrayBuffer> {
    return encodeModel(this.model(producer));
  }
}
