/**
 * Trained embedding networks as standard ONNX: what the model's `embed` takes before any
 * preprocessing (table rows [N, features], or images [N, C, H, W] as float32 in [0, 1], channels
 * first as PyTorch users expect), with the preprocessing inside (a CSV's standardisation; a
 * backbone's resizing, channel repetition and standardisation), giving the embeddings [N, dim].
 *
 * An MLP is Gemm and Relu nodes; a CNN is Conv, BatchNormalization, Relu and MaxPool (its dense
 * part reads the pixels in our channels-last order, so a Transpose precedes the Flatten); a
 * backbone is its imported network again, with the trained weights, between the input adaptation
 * and a Gemm for the head. The metadata says the preprocessing is inside, so importing the file
 * back needs no mean or standard deviation.
 */
import { ShapeError } from "../../errors.ts";
import type { Backend } from "../../backend/backend.ts";
import { resizeMatrix } from "../../graph/resize.ts";
import type { Model } from "../model.ts";
import { OnnxBuilder } from "./builder.ts";
import { BackboneModel } from "./backbone.ts";
import { toOnnxLayout } from "./network.ts";
import { encodeModel, floatTensor } from "./onnx_proto.ts";
import { permute32 } from "./values.ts";
import { RAW_INPUT_KEY } from "./source.ts";

/** Options of {@link exportOnnx}. */
export interface ExportOptions {
  /** Where the trained values live (default: each variable's value when it was made or loaded). */
  readonly backend?: Backend;
  /** The standardisation of table rows the model was trained on, folded in. */
  readonly standardization?: { readonly mean: Float32Array; readonly scale: Float32Array } | null;
}

/** The ONNX file of `model` (an MLP, a CNN or a backbone), see the module comment. */
export async function exportOnnx(
  model: Model,
  options: ExportOptions = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const values = new Map<string, Float32Array>();
  for (const v of [...model.parameters, ...model.state]) {
    const value = options.backend === undefined ? v.initial : await options.backend.readVariable(v);
    values.set(v.name, Float32Array.from(value));
  }
  const spec = model.spec;
  if (spec.kind === "backbone") {
    if (!(model instanceof BackboneModel)) {
      throw new ShapeError("exportOnnx", "a backbone spec on another model");
    }
    return exportBackbone(model, values, options.standardization ?? null);
  }
  const b = new OnnxBuilder(17);
  const get = (name: string) => {
    const v = values.get(name);
    if (v === undefined) throw new ShapeError("exportOnnx", `the model has no variable "${name}"`);
    return v;
  };
  let x: string;
  if (spec.kind === "mlp") {
    x = standardized(b, b.input("rows", ["N", spec.sizes[0]]), options.standardization ?? null);
    for (let i = 0; i + 1 < spec.sizes.length; i++) {
      const w = b.floats(
        `mlp.${i}.weight`,
        [spec.sizes[i], spec.sizes[i + 1]],
        get(`mlp.${i}.weight`),
      );
      const bias = b.floats(`mlp.${i}.bias`, [spec.sizes[i + 1]], get(`mlp.${i}.bias`));
      x = b.node("Gemm", [x, w, bias])[0];
      if (i + 2 < spec.sizes.length) x = b.node("Relu", [x])[0];
    }
  } else {
    const [h, w, c] = spec.input;
    x = b.input("images", ["N", c, h, w]);
    let channels = c;
    spec.conv.forEach((out, i) => {
      const name = `cnn.conv${i}`;
      const kernel = b.floats(
        `${name}.kernel`,
        [out, channels, 3, 3],
        permute32(get(`${name}.kernel`), [3, 3, channels, out], [3, 2, 0, 1]),
      );
      const conv = [x, kernel];
      if (spec.norm === "none") conv.push(b.floats(`${name}.bias`, [out], get(`${name}.bias`)));
      x = b.node("Conv", conv, { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })[0];
      if (spec.norm === "batch") {
        const stats = ["gamma", "beta", "runningMean", "runningVariance"].map((s) =>
          b.floats(`${name}.${s}`, [out], get(`${name}.${s}`))
        );
        x = b.node("BatchNormalization", [x, ...stats], { epsilon: { float: 1e-5 } })[0];
      }
      x = b.node("Relu", [x])[0];
      x = b.node("MaxPool", [x], { kernel_shape: [2, 2], strides: [2, 2] })[0];
      channels = out;
    });
    // Our dense layers read the pixels channels last.
    x = b.node("Flatten", [b.node("Transpose", [x], { perm: [0, 2, 3, 1] })[0]])[0];
    const widths = [...spec.dense, spec.embeddingDim];
    let width = values.get("cnn.dense0.weight")!.length / widths[0];
    widths.forEach((out, i) => {
      const weight = b.floats(`cnn.dense${i}.weight`, [width, out], get(`cnn.dense${i}.weight`));
      const bias = b.floats(`cnn.dense${i}.bias`, [out], get(`cnn.dense${i}.bias`));
      x = b.node("Gemm", [x, weight, bias])[0];
      if (i < widths.length - 1) x = b.node("Relu", [x])[0];
      width = out;
    });
  }
  b.node("Identity", [x], {}, ["embeddings"]);
  b.output("embeddings", ["N", model.outputDim]);
  const m = b.model();
  m.metadataProps = [{ key: RAW_INPUT_KEY, value: "raw (preprocessing inside)" }];
  return encodeModel(m);
}

/** Rows standardised by Sub and Div nodes, when the model was trained on standardised rows. */
function standardized(
  b: OnnxBuilder,
  x: string,
  s: { readonly mean: Float32Array; readonly scale: Float32Array } | null,
): string {
  if (s === null) return x;
  const shifted = b.node("Sub", [x, b.floats("magnet.mean", [s.mean.length], s.mean)])[0];
  return b.node("Div", [shifted, b.floats("magnet.scale", [s.scale.length], s.scale)])[0];
}

function exportBackbone(
  model: BackboneModel,
  values: ReadonlyMap<string, Float32Array>,
  standardization: ExportOptions["standardization"] | null,
): Uint8Array<ArrayBuffer> {
  const spec = model.spec;
  const source = model.network.source;
  const b = new OnnxBuilder();
  const input = spec.input;
  const name = (hint: string) => `magnet.${hint}`;
  // The network reads its input under a name of ours (its own may be "images", ours).
  const networkInput = name("network_input");
  if (input.kind === "table") {
    const rows = b.input(name("rows"), ["N", input.features]);
    b.node("Identity", [standardized(b, rows, standardization ?? null)], {}, [networkInput]);
  } else {
    const [rh, rw, rc] = input.rows;
    const [h, w, c] = input.network;
    let x = b.input("images", ["N", rc, rh, rw]);
    // Resized as our graph does: a product with each axis' interpolation matrix.
    if (rw !== w) {
      const m = b.floats(
        name("resize_width"),
        [rw, w],
        permute32(Float32Array.from(resizeMatrix(rw, w)), [w, rw], [1, 0]),
      );
      x = b.node("MatMul", [x, m])[0];
    }
    if (rh !== h) {
      const m = b.floats(
        name("resize_height"),
        [rh, h],
        permute32(Float32Array.from(resizeMatrix(rh, h)), [h, rh], [1, 0]),
      );
      const t = b.node("Transpose", [x], { perm: [0, 1, 3, 2] })[0];
      x = b.node("Transpose", [b.node("MatMul", [t, m])[0]], { perm: [0, 1, 3, 2] })[0];
    }
    if (rc !== c) {
      x =
        b.node("Mul", [x, b.floats(name("repeat"), [1, c, 1, 1], new Float32Array(c).fill(1))])[0];
    }
    if (input.bgr) {
      x = b.node("Gather", [
        x,
        b.ints(name("bgr"), Array.from({ length: c }, (_, i) => c - 1 - i)),
      ], { axis: 1 })[0];
    }
    const shifted = b.node("Sub", [x, b.floats(name("mean"), [1, c, 1, 1], input.mean)])[0];
    b.node("Div", [shifted, b.floats(name("std"), [1, c, 1, 1], input.std)], {}, [networkInput]);
  }
  // The network's nodes the features need, with the trained weights.
  const graph = source.model.graph!;
  const renamed = (n: string) => (n === source.input.name ? networkInput : n);
  b.nodes.push(...model.network.nodes.map((n) => ({ ...n, input: n.input.map(renamed) })));
  for (const t of graph.initializer) {
    const info = source.initializers.get(t.name ?? "");
    if (info === undefined || !model.network.variables.has(info.name)) {
      if (model.network.reads(t.name ?? "")) b.initializers.push(t);
      continue;
    }
    const value = values.get(model.network.variables.get(info.name)!.name)!;
    b.initializers.push(floatTensor(info.name, info.dims, toOnnxLayout(info, value)));
  }
  let features = b.node("Flatten", [renamed(spec.output)], {}, [name("features")])[0];
  if (model.head !== null) {
    const head = model.head;
    const w = b.floats(name("head.weight"), head.weight.shape, values.get(head.weight.name)!);
    const bias = b.floats(name("head.bias"), head.bias.shape, values.get(head.bias.name)!);
    features = b.node("Gemm", [features, w, bias])[0];
  }
  b.node("Identity", [features], {}, ["embeddings"]);
  b.output("embeddings", ["N", model.outputDim]);
  const m = b.model();
  m.irVersion = Math.min(Math.max(source.model.irVersion ?? 8, 7), 10);
  m.opsetImport = source.model.opsetImport;
  m.metadataProps = [{ key: RAW_INPUT_KEY, value: "raw (preprocessing inside)" }];
  return encodeModel(m);
}
