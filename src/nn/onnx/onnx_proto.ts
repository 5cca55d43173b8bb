/**
 * ONNX model files: the messages of onnx.proto this project reads and writes (as schemas for
 * protobuf.ts, with their TypeScript shapes), a tensor's values as typed arrays, and whole model
 * files decoded, checked and encoded.
 *
 * A long file, as each message is declared twice (its TypeScript shape with a line of
 * documentation per field, and its schema table), and the two are read against each other.
 */
import { MagnetInputError } from "../../errors.ts";
import { decodeMessage, encodeMessage, type MessageSchema } from "./protobuf.ts";

/** TensorProto.DataType values. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const;

/** AttributeProto.AttributeType values. */
export const AttributeType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
} as const;

/** A key and a value (external data locations, metadata). */
export interface StringEntry {
  /** The key. */
  key?: string;
  /** The value. */
  value?: string;
}

/** TensorProto: a tensor's dimensions, element type and values (in one of several fields). */
export interface TensorProto {
  /** Dimensions. */
  dims: number[];
  /** Element type (see {@link DataType}). */
  dataType?: number;
  /** Name (of an initializer). */
  name?: string;
  /** Documentation. */
  docString?: string;
  /** Float values, when not raw. */
  floatData: number[];
  /** int32 values, and float16 or bfloat16 bits, when not raw. */
  int32Data: number[];
  /** int64 values, when not raw. */
  int64Data: number[];
  /** float64 values, when not raw. */
  doubleData: number[];
  /** uint64 values, when not raw. */
  uint64Data: number[];
  /** Strings. */
  stringData: Uint8Array[];
  /** The values as little-endian bytes. */
  rawData?: Uint8Array;
  /** Where the values are when they live in another file (location, offset, length). */
  externalData: StringEntry[];
  /** 1 when the values are external. */
  dataLocation?: number;
}

/** AttributeProto: a named attribute of a node. */
export interface AttributeProto {
  /** The attribute's name. */
  name?: string;
  /** Which field holds the value (see {@link AttributeType}). */
  type?: number;
  /** A float. */
  f?: number;
  /** An integer. */
  i?: number;
  /** A string's bytes. */
  s?: Uint8Array;
  /** A tensor. */
  t?: TensorProto;
  /** Floats. */
  floats: number[];
  /** Integers. */
  ints: number[];
  /** Strings' bytes. */
  strings: Uint8Array[];
  /** Tensors. */
  tensors: TensorProto[];
  /** A graph (control flow: not supported by the importer). */
  g?: GraphProto;
  /** Graphs. */
  graphs: GraphProto[];
}

/** NodeProto: one op application. */
export interface NodeProto {
  /** Names of the values it reads ("" for an absent optional input). */
  input: string[];
  /** Names of the values it computes. */
  output: string[];
  /** The node's name. */
  name?: string;
  /** The operator. */
  opType?: string;
  /** The operator's domain ("" for the standard ones). */
  domain?: string;
  /** Attributes. */
  attribute: AttributeProto[];
  /** Documentation. */
  docString?: string;
}

/** One dimension of a declared shape: a number, a symbol, or unknown. */
export interface DimensionProto {
  /** A fixed size. */
  dimValue?: number;
  /** A symbolic size ("batch", "N"). */
  dimParam?: string;
}

/** ValueInfoProto: a graph input's or output's name and type. */
export interface ValueInfoProto {
  /** The value's name. */
  name?: string;
  /** Its element type and shape. */
  type?: {
    tensorType?: { elemType?: number; shape?: { dim: DimensionProto[] } };
  };
  /** Documentation. */
  docString?: string;
}

/** GraphProto: nodes in topological order, initializers, inputs and outputs. */
export interface GraphProto {
  /** Nodes, each after the nodes whose outputs it reads. */
  node: NodeProto[];
  /** The graph's name. */
  name?: string;
  /** Constant tensors: weights and more. */
  initializer: TensorProto[];
  /** Sparse constants (counted only, to be refused). */
  sparseInitializer: unknown[];
  /** Documentation. */
  docString?: string;
  /** Inputs (older files list the initializers here too). */
  input: ValueInfoProto[];
  /** Outputs. */
  output: ValueInfoProto[];
  /** Declared types of intermediate values. */
  valueInfo: ValueInfoProto[];
}

/** OperatorSetIdProto: a domain and its opset version. */
export interface OpsetId {
  /** The domain ("" or "ai.onnx" for the standard operators). */
  domain?: string;
  /** The opset version. */
  version?: number;
}

/** ModelProto: the file. */
export interface ModelProto {
  /** The format's version. */
  irVersion?: number;
  /** Opsets per domain. */
  opsetImport: OpsetId[];
  /** The program that wrote it. */
  producerName?: string;
  /** Its version. */
  producerVersion?: string;
  /** The model's domain. */
  domain?: string;
  /** The model's version. */
  modelVersion?: number;
  /** Documentation. */
  docString?: string;
  /** The graph. */
  graph?: GraphProto;
  /** Key-value metadata. */
  metadataProps: StringEntry[];
  /** Local functions (counted only, to be refused). */
  functions: unknown[];
}

const stringEntry: MessageSchema = {
  1: { name: "key", type: "string" },
  2: { name: "value", type: "string" },
};

const tensor: MessageSchema = {
  1: { name: "dims", type: "int64", repeated: true, packed: false },
  2: { name: "dataType", type: "int32" },
  4: { name: "floatData", type: "float", repeated: true, packed: true },
  5: { name: "int32Data", type: "int32", repeated: true, packed: true },
  6: { name: "stringData", type: "bytes", repeated: true },
  7: { name: "int64Data", type: "int64", repeated: true, packed: true },
  8: { name: "name", type: "string" },
  9: { name: "rawData", type: "bytes" },
  10: { name: "doubleData", type: "double", repeated: true, packed: true },
  11: { name: "uint64Data", type: "uint64", repeated: true, packed: true },
  12: { name: "docString", type: "string" },
  13: { name: "externalData", type: () => stringEntry, repeated: true },
  14: { name: "dataLocation", type: "int32" },
};

const dimension: MessageSchema = {
  1: { name: "dimValue", type: "int64" },
  2: { name: "dimParam", type: "string" },
};

const tensorType: MessageSchema = {
  1: { name: "elemType", type: "int32" },
  2: { name: "shape", type: () => ({ 1: { name: "dim", type: () => dimension, repeated: true } }) },
};

const typeProto: MessageSchema = {
  1: { name: "tensorType", type: () => tensorType },
};

const valueInfo: MessageSchema = {
  1: { name: "name", type: "string" },
  2: { name: "type", type: () => typeProto },
  3: { name: "docString", type: "string" },
};

const attribute: MessageSchema = {
  1: { name: "name", type: "string" },
  2: { name: "f", type: "float" },
  3: { name: "i", type: "int64" },
  4: { name: "s", type: "bytes" },
  5: { name: "t", type: () => tensor },
  6: { name: "g", type: () => graph },
  7: { name: "floats", type: "float", repeated: true, packed: false },
  8: { name: "ints", type: "int64", repeated: true, packed: false },
  9: { name: "strings", type: "bytes", repeated: true },
  10: { name: "tensors", type: () => tensor, repeated: true },
  11: { name: "graphs", type: () => graph, repeated: true },
  20: { name: "type", type: "int32" },
};

const node: MessageSchema = {
  1: { name: "input", type: "string", repeated: true },
  2: { name: "output", type: "string", repeated: true },
  3: { name: "name", type: "string" },
  4: { name: "opType", type: "string" },
  5: { name: "attribute", type: () => attribute, repeated: true },
  6: { name: "docString", type: "string" },
  7: { name: "domain", type: "string" },
};

const graph: MessageSchema = {
  1: { name: "node", type: () => node, repeated: true },
  2: { name: "name", type: "string" },
  5: { name: "initializer", type: () => tensor, repeated: true },
  10: { name: "docString", type: "string" },
  11: { name: "input", type: () => valueInfo, repeated: true },
  12: { name: "output", type: () => valueInfo, repeated: true },
  13: { name: "valueInfo", type: () => valueInfo, repeated: true },
  // Kept only to be refused by name: sparse weights are not supported.
  15: { name: "sparseInitializer", type: "bytes", repeated: true },
};

const opsetId: MessageSchema = {
  1: { name: "domain", type: "string" },
  2: { name: "version", type: "int64" },
};

const model: MessageSchema = {
  1: { name: "irVersion", type: "int64" },
  2: { name: "producerName", type: "string" },
  3: { name: "producerVersion", type: "string" },
  4: { name: "domain", type: "string" },
  5: { name: "modelVersion", type: "int64" },
  6: { name: "docString", type: "string" },
  7: { name: "graph", type: () => graph },
  8: { name: "opsetImport", type: () => opsetId, repeated: true },
  14: { name: "metadataProps", type: () => stringEntry, repeated: true },
  // Kept only to be refused by name: local functions are not supported.
  25: { name: "functions", type: "bytes", repeated: true },
};

/** The lowest and highest opsets of the default domain this importer reads. */
export const OPSET_RANGE = [7, 22] as const;

/**
 * Reads the file an external tensor's data lives in (its `location`, relative to the model file),
 * for models saved with their weights beside them (what `torch.onnx.export` does by default).
 */
export type ExternalDataReader = (location: string) => Uint8Array;

/**
 * Decodes an ONNX model file and checks what every later step relies on: a graph, a default-domain
 * opset we read, no local functions, no sparse weights; weights kept as external data are read
 * through `external` (an error without it). `source` names the file in errors.
 */
export function decodeModel(
  bytes: Uint8Array,
  source = "the ONNX model",
  external?: ExternalDataReader,
): ModelProto {
  const m = decodeMessage(bytes, model) as unknown as ModelProto;
  if (m.graph === undefined || m.opsetImport.length === 0) {
    throw new MagnetInputError(`${source} is not an ONNX model (no graph or opset found)`);
  }
  const opset = defaultOpset(m);
  if (opset < OPSET_RANGE[0] || opset > OPSET_RANGE[1]) {
    throw new MagnetInputError(
      `${source} uses ONNX opset ${opset}; opsets ${OPSET_RANGE[0]} to ${OPSET_RANGE[1]} are ` +
        "supported: convert it with onnx.version_converter",
    );
  }
  if (m.functions.length > 0) {
    throw new MagnetInputError(
      `${source} defines local functions, which are not supported: inline them first ` +
        "(onnx.inliner.inline_local_functions)",
    );
  }
  if (m.graph.sparseInitializer.length > 0) {
    throw new MagnetInputError(`${source} holds sparse initializers, which are not supported`);
  }
  const files = new Map<string, Uint8Array>();
  for (const t of m.graph.initializer) {
    if (t.dataLocation !== 1 && t.externalData.length === 0) continue;
    const entry = (key: string) => t.externalData.find((e) => e.key === key)?.value;
    const location = entry("location");
    if (external === undefined || location === undefined) {
      throw new MagnetInputError(
        `${source} keeps the weights of "${t.name}" as external data (in ${
          location ?? "another file"
        }), which cannot be read here: give the model file's path, with that file beside it, or ` +
          "save the model as one file (onnx.save(model, path, save_as_external_data=False))",
      );
    }
    if (!files.has(location)) files.set(location, external(location));
    const data = files.get(location)!;
    const offset = Number(entry("offset") ?? 0);
    const length = entry("length") === undefined ? data.length - offset : Number(entry("length"));
    if (!(offset >= 0 && length >= 0 && offset + length <= data.length)) {
      throw new MagnetInputError(
        `${source}: the external data of "${t.name}" (${length} bytes at ${offset} in ` +
          `${location}) lies past the end of that file (${data.length} bytes)`,
      );
    }
    t.rawData = data.subarray(offset, offset + length);
    t.externalData = [];
    t.dataLocation = undefined;
  }
  return m;
}

/** The model's opset version of the default ("" or "ai.onnx") domain. */
export function defaultOpset(m: ModelProto): number {
  const entry = m.opsetImport.find((o) => (o.domain ?? "") === "" || o.domain === "ai.onnx");
  return entry?.version ?? 0;
}

/** Encodes a model file. */
export function encodeModel(m: ModelProto): Uint8Array<ArrayBuffer> {
  return encodeMessage(m as unknown as Record<string, unknown>, model);
}

/** A tensor's values: floats (of any float type) as float32, integers and booleans as float64. */
export type TensorValues =
  | { readonly kind: "float"; readonly data: Float32Array }
  | { readonly kind: "int"; readonly data: Float64Array };

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1, exponent = (h >> 10) & 0x1f, fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** The values of `t`; `what` names it in errors. */
export function tensorValues(t: TensorProto, what: string): TensorValues {
  const size = t.dims.reduce((a, b) => a * b, 1);
  const type = t.dataType ?? 0;
  const raw = t.rawData;
  const view = raw === undefined ? null : new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const fail = (found: string): never => {
    throw new MagnetInputError(`${what}: ${size} values expected, found ${found}`);
  };
  const fromRaw = (
    bytesEach: number,
    read: (offset: number) => number,
    into: Float32Array | Float64Array,
  ) => {
    if (raw!.length !== size * bytesEach) fail(`${raw!.length} bytes of ${bytesEach} each`);
    for (let i = 0; i < size; i++) into[i] = read(i * bytesEach);
    return into;
  };
  const fromList = (list: ArrayLike<number>, into: Float32Array | Float64Array) => {
    if (list.length !== size) fail(`${list.length}`);
    into.set(list);
    return into;
  };
  switch (type) {
    case DataType.FLOAT: {
      if (view === null) {
        return {
          kind: "float",
          data: fromList(t.floatData, new Float32Array(size)) as Float32Array,
        };
      }
      if (raw!.length !== size * 4) fail(`${raw!.length} bytes`);
      // A copy: aligned, and owned (the file's bytes may go).
      const data = new Float32Array(size);
      new Uint8Array(data.buffer).set(raw!);
      return { kind: "float", data };
    }
    case DataType.DOUBLE:
      return {
        kind: "float",
        data:
          (view === null
            ? fromList(t.doubleData, new Float32Array(size))
            : fromRaw(8, (o) => view.getFloat64(o, true), new Float32Array(size))) as Float32Array,
      };
    case DataType.FLOAT16:
    case DataType.BFLOAT16: {
      const convert = type === DataType.FLOAT16
        ? halfToFloat
        : (h: number) => new Float32Array(new Uint32Array([h << 16]).buffer)[0];
      const data = new Float32Array(size);
      if (view === null) {
        if (t.int32Data.length !== size) fail(`${t.int32Data.length}`);
        t.int32Data.forEach((h, i) => (data[i] = convert(h)));
      } else fromRaw(2, (o) => convert(view.getUint16(o, true)), data);
      return { kind: "float", data };
    }
    case DataType.INT64:
      return {
        kind: "int",
        data: (view === null ? fromList(t.int64Data, new Float64Array(size)) : fromRaw(
          8,
          (o) => Number(view.getBigInt64(o, true)),
          new Float64Array(size),
        )) as Float64Array,
      };
    case DataType.UINT64:
      return {
        kind: "int",
        data: (view === null ? fromList(t.uint64Data, new Float64Array(size)) : fromRaw(
          8,
          (o) => Number(view.getBigUint64(o, true)),
          new Float64Array(size),
        )) as Float64Array,
      };
    case DataType.INT32:
    case DataType.INT16:
    case DataType.INT8:
    case DataType.UINT16:
    case DataType.UINT8:
    case DataType.UINT32:
    case DataType.BOOL: {
      if (view === null) {
        return { kind: "int", data: fromList(t.int32Data, new Float64Array(size)) as Float64Array };
      }
      const readers: Record<number, [number, (o: number) => number]> = {
        [DataType.INT32]: [4, (o) => view.getInt32(o, true)],
        [DataType.UINT32]: [4, (o) => view.getUint32(o, true)],
        [DataType.INT16]: [2, (o) => view.getInt16(o, true)],
        [DataType.UINT16]: [2, (o) => view.getUint16(o, true)],
        [DataType.INT8]: [1, (o) => view.getInt8(o)],
        [DataType.UINT8]: [1, (o) => view.getUint8(o)],
        [DataType.BOOL]: [1, (o) => view.getUint8(o)],
      };
      const [bytes, read] = readers[type];
      return { kind: "int", data: fromRaw(bytes, read, new Float64Array(size)) as Float64Array };
    }
    default:
      throw new MagnetInputError(`${what} has element type ${type}, which is not supported`);
  }
}

/** A float32 tensor (raw little-endian data). */
export function floatTensor(
  name: string,
  dims: readonly number[],
  data: ArrayLike<number>,
): TensorProto {
  const values = Float32Array.from(data);
  return {
    name,
    dims: [...dims],
    dataType: DataType.FLOAT,
    rawData: new Uint8Array(values.buffer),
    floatData: [],
    int32Data: [],
    int64Data: [],
    doubleData: [],
    uint64Data: [],
    stringData: [],
    externalData: [],
  };
}

/** An int64 tensor. */
export function int64Tensor(
  name: string,
  dims: readonly number[],
  data: ArrayLike<number>,
): TensorProto {
  return {
    ...floatTensor(name, dims, []),
    dataType: DataType.INT64,
    rawData: undefined,
    int64Data: Array.from(data),
  };
}
