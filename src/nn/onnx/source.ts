/**
 * An ONNX network as the importer works with it: the model file decoded, normalised (constant
 * nodes and aliases of weights become initializers of their own), its one image or table input
 * found, and each initializer given its role: a weight that training updates, a running
 * statistic, or a constant. The structure (the file without the weights) is what a saved model
 * keeps; the weights travel as variables.
 */
import { MagnetInputError } from "../../errors.ts";
import {
  AttributeType,
  decodeModel,
  encodeModel,
  type ExternalDataReader,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  tensorValues,
  type ValueInfoProto,
} from "./onnx_proto.ts";

/**
 * Metadata key of our own exports: their input is raw (pixels in [0, 1], unstandardised rows),
 * the preprocessing being inside, so importing one back needs no mean or standard deviation.
 */
export const RAW_INPUT_KEY = "magnet.input";

/** Whether `source` is one of our exports (see {@link RAW_INPUT_KEY}). */
export function takesRawInput(source: OnnxSource): boolean {
  return source.model.metadataProps.some((p) => p.key === RAW_INPUT_KEY);
}

/** What an initializer is to the network. */
export type InitializerRole =
  /** Trained (Conv, Gemm, MatMul weights and biases, batch normalisation's scale and shift). */
  | "weight"
  /** Batch normalisation's running mean and variance: updated by training batches, not by gradient. */
  | "statistic"
  /** Everything else (shapes, axes, clipping bounds, scalars): fixed. */
  | "constant";

/** How a weight is stored in its variable. */
export type WeightLayout =
  /** As in the file. */
  | "onnx"
  /** A convolution kernel [Cout, Cin / groups, kh, kw] stored as [kh, kw, Cin / groups, Cout]. */
  | "conv";

/** One initializer: its declaration and how the importer treats it. */
export interface InitializerInfo {
  /** Its name in the file. */
  readonly name: string;
  /** Dimensions as in the file. */
  readonly dims: readonly number[];
  /** What it is to the network. */
  readonly role: InitializerRole;
  /** How its variable stores it. */
  readonly layout: WeightLayout;
  /** Whether its values are floats (weights and statistics always are). */
  readonly float: boolean;
}

/** A prepared network: see the module comment. */
export interface OnnxSource {
  /** The model, normalised; weights may have no values (a structure read back from a saved model). */
  readonly model: ModelProto;
  /** Every initializer by name. */
  readonly initializers: ReadonlyMap<string, InitializerInfo>;
  /** The graph's one input (not an initializer). */
  readonly input: { readonly name: string; readonly dims: readonly (number | null)[] };
  /** Names of the graph's outputs. */
  readonly outputs: readonly string[];
  /** SHA-256 of the file as given, hex. */
  readonly sha256: string;
  /** Names the file in messages. */
  readonly label: string;
}

/** Options of {@link readOnnx}. */
export interface ReadOnnxOptions {
  /** Names the file in messages. Default "the ONNX model". */
  readonly label?: string;
  /** Reads external weight files (see onnx_proto.ts); without it such weights are an error. */
  readonly external?: ExternalDataReader;
}

/** Inputs of each op that are trained weights, and those that are running statistics. */
const WEIGHT_INPUTS: Readonly<Record<string, readonly number[]>> = {
  Conv: [1, 2],
  Gemm: [0, 1, 2],
  MatMul: [0, 1],
  BatchNormalization: [1, 2],
};
const STATISTIC_INPUTS: Readonly<Record<string, readonly number[]>> = {
  BatchNormalization: [3, 4],
};

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Reads and prepares an ONNX model file. A file we cannot use is a {@link MagnetInputError}. */
export async function readOnnx(
  bytes: Uint8Array,
  options: ReadOnnxOptions = {},
): Promise<OnnxSource> {
  const label = options.label ?? "the ONNX model";
  const model = decodeModel(bytes, label, options.external);
  return prepare(model, await sha256Hex(bytes), label);
}

/** A node's attribute tensor (Constant's value), or null. */
function constantValue(node: NodeProto): TensorProto | null {
  const a = node.attribute.find((x) => x.name === "value");
  if (a?.t !== undefined) return a.t;
  for (const name of ["value_float", "value_floats", "value_int", "value_ints"]) {
    const at = node.attribute.find((x) => x.name === name);
    if (at === undefined) continue;
    const float = name.startsWith("value_float");
    const list = name.endsWith("s")
      ? (float ? at.floats : at.ints)
      : [float ? at.f ?? 0 : at.i ?? 0];
    return {
      dims: name.endsWith("s") ? [list.length] : [],
      dataType: float ? 1 : 7,
      floatData: float ? [...list] : [],
      int64Data: float ? [] : [...list],
      int32Data: [],
      doubleData: [],
      uint64Data: [],
      stringData: [],
      externalData: [],
    };
  }
  return null;
}

/** Prepares a decoded model (see the module comment); `sha256` is the original file's. */
export function prepare(model: ModelProto, sha256: string, label: string): OnnxSource {
  const graph = model.graph!;
  const byName = new Map(graph.initializer.map((t) => [t.name ?? "", t]));
  // Constant nodes and Identity nodes of initializers become initializers of their own: a
  // weight reached through an alias (exporters merge equal tensors that way) gets its own variable.
  const kept: NodeProto[] = [];
  for (const node of graph.node) {
    const domain = node.domain ?? "";
    if (domain !== "" && domain !== "ai.onnx") {
      throw new MagnetInputError(
        `${label}: node "${
          node.name ?? node.output[0]
        }" (${node.opType}) is of domain "${domain}"; ` +
          "only the standard ONNX operators are supported",
      );
    }
    if (node.opType === "Constant") {
      const t = constantValue(node);
      if (t === null) {
        throw new MagnetInputError(
          `${label}: Constant node "${node.name ?? node.output[0]}" has no tensor value`,
        );
      }
      const copy = { ...t, name: node.output[0] };
      graph.initializer.push(copy);
      byName.set(node.output[0], copy);
      continue;
    }
    if (node.opType === "Identity" && byName.has(node.input[0])) {
      const source = byName.get(node.input[0])!;
      const copy = { ...source, name: node.output[0] };
      graph.initializer.push(copy);
      byName.set(node.output[0], copy);
      continue;
    }
    kept.push(node);
  }
  graph.node = kept;
  const roles = new Map<string, InitializerRole>();
  const layouts = new Map<string, WeightLayout>();
  for (const node of kept) {
    for (const [i, name] of node.input.entries()) {
      if (!byName.has(name)) continue;
      const op = node.opType ?? "";
      const role: InitializerRole = WEIGHT_INPUTS[op]?.includes(i)
        ? "weight"
        : STATISTIC_INPUTS[op]?.includes(i)
        ? "statistic"
        : "constant";
      // A weight anywhere is a weight everywhere; a kernel used only by convolutions is stored as one.
      const previous = roles.get(name);
      if (previous === undefined || previous === "constant") roles.set(name, role);
      const layout: WeightLayout = op === "Conv" && i === 1 ? "conv" : "onnx";
      const had = layouts.get(name);
      layouts.set(name, had === undefined || had === layout ? layout : "onnx");
    }
  }
  const initializers = new Map<string, InitializerInfo>();
  for (const t of graph.initializer) {
    const name = t.name ?? "";
    const float = [1, 10, 11, 16].includes(t.dataType ?? 0);
    let role = roles.get(name) ?? "constant";
    if (!float) role = "constant";
    const layout = role === "constant" ? "onnx" : layouts.get(name) ?? "onnx";
    if (layout === "conv" && t.dims.length !== 4) {
      throw new MagnetInputError(
        `${label}: convolution kernel "${name}" has ${t.dims.length} dimensions; only 2-D ` +
          "convolutions ([Cout, Cin, kh, kw]) are supported",
      );
    }
    initializers.set(name, { name, dims: [...t.dims], role, layout, float });
  }
  const inputs = graph.input.filter((v) => !byName.has(v.name ?? ""));
  if (inputs.length !== 1) {
    throw new MagnetInputError(
      `${label} has ${inputs.length} inputs (${
        inputs.map((v) => v.name).join(", ") || "none"
      }); a network to embed with takes exactly one (the images or the rows)`,
    );
  }
  return {
    model,
    initializers,
    input: { name: inputs[0].name ?? "", dims: declaredDims(inputs[0]) },
    outputs: graph.output.map((o) => o.name ?? ""),
    sha256,
    label,
  };
}

/** A value's declared dimensions (null where symbolic or unknown). */
function declaredDims(v: ValueInfoProto): (number | null)[] {
  const dims = v.type?.tensorType?.shape?.dim ?? [];
  return dims.map((d) => (d.dimValue !== undefined && d.dimValue > 0 ? d.dimValue : null));
}

/** An initializer's values in the file's layout as float32 (null when the structure has none). */
export function initializerValues(source: OnnxSource, name: string): Float32Array | null {
  const t = source.model.graph!.initializer.find((x) => x.name === name);
  if (t === undefined) return null;
  const hasData = t.rawData !== undefined || t.floatData.length > 0 || t.doubleData.length > 0 ||
    t.int32Data.length > 0 || t.int64Data.length > 0;
  const size = t.dims.reduce((a, b) => a * b, 1);
  if (!hasData && size > 0) return null;
  return Float32Array.from(tensorValues(t, `${source.label}: initializer "${name}"`).data);
}

/** Every initializer's values in the file's layout, for weights and statistics (the variables). */
export function variableValues(source: OnnxSource): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const info of source.initializers.values()) {
    if (info.role === "constant") continue;
    const values = initializerValues(source, info.name);
    if (values !== null) out.set(info.name, values);
  }
  return out;
}

/**
 * The model file without the values of its weights and statistics (they are variables, saved
 * apart), as bytes: what a saved model keeps to build the network again.
 */
export function structureBytes(source: OnnxSource): Uint8Array<ArrayBuffer> {
  const graph = source.model.graph!;
  const stripped: ModelProto = {
    ...source.model,
    graph: {
      ...graph,
      initializer: graph.initializer.map((t) =>
        source.initializers.get(t.name ?? "")?.role === "constant" ? t : {
          ...t,
          rawData: undefined,
          floatData: [],
          doubleData: [],
          int32Data: [],
          int64Data: [],
          uint64Data: [],
        }
      ),
    },
  };
  return encodeModel(stripped);
}

/** A structure written by {@link structureBytes}, read back (its weights without values). */
export function structureSource(bytes: Uint8Array, sha256: string, label: string): OnnxSource {
  return prepare(decodeModel(bytes, label), sha256, label);
}

/** The attribute `name` of `node`, typed by what it holds (undefined when absent). */
export function attribute(node: NodeProto, name: string) {
  const a = node.attribute.find((x) => x.name === name);
  if (a === undefined) return undefined;
  const type = a.type ?? 0;
  if (type === AttributeType.FLOAT || (type === 0 && a.f !== undefined)) return a.f ?? 0;
  if (type === AttributeType.INT || (type === 0 && a.i !== undefined)) return a.i ?? 0;
  if (type === AttributeType.STRING || (type === 0 && a.s !== undefined)) {
    return new TextDecoder().decode(a.s ?? new Uint8Array());
  }
  if (type === AttributeType.FLOATS) return a.floats;
  if (type === AttributeType.INTS) return a.ints;
  if (type === AttributeType.TENSOR) return a.t;
  return a.ints.length > 0 ? a.ints : a.floats.length > 0 ? a.floats : undefined;
}
