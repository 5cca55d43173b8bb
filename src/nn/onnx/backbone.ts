/**
 * A pretrained network as an embedding model: the rows a data set gives (images in [0, 1],
 * channels last, at their own size; or table rows) made into what the network expects (resized,
 * grey repeated to colour, channels reordered, standardised), the imported network up to a chosen
 * value, and a new linear embedding head on top. Fine-tuned (the network's weights trained with
 * the head, batch normalisation on batch statistics) or frozen (only the head trains).
 */
import type { Update } from "../../backend/backend.ts";
import { MagnetInputError, ShapeError } from "../../errors.ts";
import { resizeImages } from "../../graph/resize.ts";
import { add, broadcastTo, div, matmul, reshape, sub } from "../../graph/ops.ts";
import { take } from "../../graph/slices.ts";
import { formatShape, Graph, type Tensor, Variable } from "../../graph/tensor.ts";
import { fromBase64, toBase64 } from "../../io/arrays.ts";
import { Random } from "../../util/random.ts";
import type { BackboneInput, BackboneSpec, Model } from "../model.ts";
import { OnnxNetwork, toStored } from "./network.ts";
import {
  initializerValues,
  type OnnxSource,
  readOnnx,
  type ReadOnnxOptions,
  structureBytes,
  structureSource,
  takesRawInput,
} from "./source.ts";

export type { BackboneInput, BackboneSpec };

/** ImageNet's per-channel mean and standard deviation (RGB), what most pretrained networks expect. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
/** See {@link IMAGENET_MEAN}. */
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** What {@link backboneSpec} needs besides the network. */
export interface BackboneOptions {
  /** The value taken as the features. Default: the network's first output. */
  readonly output?: string;
  /** The rows' images [height, width, channels]; absent: the network takes table rows. */
  readonly rows?: readonly [number, number, number];
  /** The network's input size [height, width]. Default: as declared by the file. */
  readonly size?: readonly [number, number];
  /** Per-channel mean. Default: ImageNet's for 3 channels (required for other counts). */
  readonly mean?: readonly number[];
  /** Per-channel standard deviation. Default: ImageNet's for 3 channels. */
  readonly std?: readonly number[];
  /** Reverse the channels. Default false. */
  readonly bgr?: boolean;
  /** Width of a new linear head. Default: none. */
  readonly embeddingDim?: number | null;
  /** Keep the network's weights fixed. Default false. */
  readonly frozen?: boolean;
}

/** The spec of `source` used with `options`, checked against the network's declared input. */
export function backboneSpec(source: OnnxSource, options: BackboneOptions = {}): BackboneSpec {
  const declared = source.input.dims;
  const label = source.label;
  let input: BackboneInput;
  if (declared.length === 4) {
    const channels = declared[1];
    if (channels === null) {
      throw new MagnetInputError(`${label} does not declare its input's channels`);
    }
    const size = options.size ?? [declared[2], declared[3]];
    if (size[0] === null || size[1] === null) {
      throw new MagnetInputError(
        `${label} does not declare its input's height and width: give the size it expects ` +
          "(--backbone-size)",
      );
    }
    // Without the data's image shape, rows are images as the network takes them.
    const [rh, rw, rc] = options.rows ?? [size[0], size[1], channels];
    const raw = takesRawInput(source);
    if (rc !== channels && rc !== 1) {
      throw new MagnetInputError(
        `${label} takes ${channels}-channel images; the data's have ${rc} (grey images are ` +
          "repeated to every channel, other counts cannot be adapted)",
      );
    }
    // Our own exports standardise inside; most pretrained networks expect ImageNet's statistics.
    const zeros = new Array<number>(channels).fill(0), ones = new Array<number>(channels).fill(1);
    const mean = options.mean ?? (raw ? zeros : channels === 3 ? IMAGENET_MEAN : undefined);
    const std = options.std ?? (raw ? ones : channels === 3 ? IMAGENET_STD : undefined);
    if (mean === undefined || std === undefined) {
      throw new MagnetInputError(
        `${label} takes ${channels}-channel images: give the mean and standard deviation it was ` +
          "trained with (--backbone-mean, --backbone-std), one per channel",
      );
    }
    for (const [what, values] of [["mean", mean], ["standard deviation", std]] as const) {
      if (values.length !== channels || values.some((v) => !Number.isFinite(v))) {
        throw new MagnetInputError(
          `${label}: the ${what} needs ${channels} finite values (one per channel), got [${values}]`,
        );
      }
    }
    if (std.some((v) => v <= 0)) {
      throw new MagnetInputError(`${label}: standard deviations must be positive, got [${std}]`);
    }
    if (![size[0], size[1]].every((v) => Number.isInteger(v) && v >= 1 && v <= 4096)) {
      throw new MagnetInputError(`${label}: input size ${size[0]}x${size[1]} is not a usable size`);
    }
    input = {
      kind: "image",
      rows: [rh, rw, rc],
      network: [size[0], size[1], channels],
      mean: [...mean],
      std: [...std],
      bgr: options.bgr ?? false,
    };
  } else if (declared.length === 2 && declared[1] !== null) {
    if (options.rows !== undefined) {
      throw new MagnetInputError(
        `${label} takes table rows of ${declared[1]} features, not images`,
      );
    }
    input = { kind: "table", features: declared[1] };
  } else {
    throw new MagnetInputError(
      `${label} takes input of shape [${declared.map((d) => d ?? "?")}]; images [N, C, H, W] or ` +
        "rows [N, features] can be imported",
    );
  }
  const dim = options.embeddingDim ?? null;
  if (dim !== null && !(Number.isInteger(dim) && dim >= 1)) {
    throw new MagnetInputError(`the embedding width must be a positive integer, got ${dim}`);
  }
  return {
    kind: "backbone",
    onnx: {
      file: label,
      sha256: source.sha256,
      structure: toBase64(structureBytes(source)),
    },
    output: options.output ?? source.outputs[0],
    input,
    embeddingDim: dim,
    frozen: options.frozen ?? false,
  };
}

/** The network a spec keeps (its structure; weights without values). */
export function specSource(spec: BackboneSpec): OnnxSource {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(spec.onnx.structure);
  } catch {
    throw new MagnetInputError(`the saved network ${spec.onnx.file} is not valid base64`);
  }
  return structureSource(bytes, spec.onnx.sha256, spec.onnx.file);
}

/** A backbone model; make one with {@link createBackbone} or restore one from saved values. */
export class BackboneModel implements Model {
  /** The imported network. */
  readonly network: OnnxNetwork;
  /** The head's variables (null without a head). */
  readonly head: { readonly weight: Variable; readonly bias: Variable } | null;
  /** Width of the network's features. */
  readonly featureDim: number;

  /**
   * Builds the model. `values` gives variables by name (a restore); missing network weights come
   * from `source`, a missing head is drawn with `seed`.
   */
  constructor(
    readonly spec: BackboneSpec,
    source: OnnxSource,
    values: ReadonlyMap<string, Float32Array> = new Map(),
    seed = 1,
  ) {
    if (source.sha256 !== spec.onnx.sha256) {
      throw new MagnetInputError(
        `${source.label} is not the network this model was made with (${spec.onnx.file}, ` +
          `SHA-256 ${spec.onnx.sha256.slice(0, 12)}...)`,
      );
    }
    const prefix = "backbone";
    const initial = new Map<string, Float32Array>();
    for (const info of source.initializers.values()) {
      const saved = values.get(`${prefix}.${info.name}`);
      if (saved !== undefined) initial.set(info.name, saved);
    }
    this.network = new OnnxNetwork(source, { output: spec.output, prefix, values: initial });
    const g = new Graph();
    this.featureDim = this.network.build(this.#adapt(g.input("x", [1, this.inputDim])), false)
      .output.shape[1];
    const dim = spec.embeddingDim;
    if (dim === null) {
      this.head = null;
    } else {
      const rng = new Random(seed);
      const fanIn = this.featureDim;
      const std = Math.sqrt(2 / (fanIn + dim)); // Glorot: the head is linear
      const weight = values.get("head.weight") ??
        Float32Array.from({ length: fanIn * dim }, () => rng.normal() * std);
      this.head = {
        weight: new Variable("head.weight", [fanIn, dim], weight),
        bias: new Variable("head.bias", [dim], values.get("head.bias")),
      };
    }
  }

  /** Width of an input row. */
  get inputDim(): number {
    const input = this.spec.input;
    return input.kind === "table" ? input.features : input.rows[0] * input.rows[1] * input.rows[2];
  }

  /** Width of the embedding. */
  get outputDim(): number {
    return this.spec.embeddingDim ?? this.featureDim;
  }

  /** The network's weights (not its running statistics). */
  get pretrained(): Variable[] {
    return [...this.network.variables].filter(([name]) => !this.network.isStatistic(name))
      .map(([, v]) => v);
  }

  /** Trained by gradient: the head, and the network's weights unless frozen. */
  get parameters(): Variable[] {
    const head = this.head === null ? [] : [this.head.weight, this.head.bias];
    return this.spec.frozen ? head : [...this.pretrained, ...head];
  }

  /** Kept and saved, not trained by gradient: running statistics, and frozen weights. */
  get state(): Variable[] {
    const statistics = [...this.network.variables].filter(([name]) =>
      this.network.isStatistic(name)
    )
      .map(([, v]) => v);
    return this.spec.frozen ? [...this.pretrained, ...statistics] : statistics;
  }

  forward(x: Tensor): Tensor {
    return this.#run(x, false, (v) => x.graph.variable(v)).output;
  }

  trainingForward(x: Tensor): { output: Tensor; updates: Update[] } {
    return this.#run(x, !this.spec.frozen, (v) => x.graph.variable(v));
  }

  /** The model with its variables replaced by tensors (by variable name), for gradient checks. */
  apply(x: Tensor, values: Readonly<Record<string, Tensor>>, training: boolean): Tensor {
    return this.#run(x, training, (v) => {
      const t = values[v.name];
      if (t === undefined) throw new ShapeError("BackboneModel.apply", `no tensor for "${v.name}"`);
      return t;
    }).output;
  }

  /** The rows as the network's input: images channels last, resized and standardised. */
  #adapt(x: Tensor): Tensor {
    if (x.rank !== 2 || x.shape[1] !== this.inputDim) {
      throw new ShapeError(
        "BackboneModel.forward",
        `expects rows [N, ${this.inputDim}], got ${formatShape(x.shape)}`,
      );
    }
    const input = this.spec.input;
    if (input.kind === "table") return x;
    const n = x.shape[0];
    const [h, w, c] = input.network;
    let t = resizeImages(reshape(x, [n, ...input.rows]), h, w);
    if (input.rows[2] !== c) t = broadcastTo(t, [n, h, w, c]);
    if (input.bgr) t = take(t, 3, Array.from({ length: c }, (_, i) => c - 1 - i));
    const g = x.graph;
    return div(sub(t, g.constant(input.mean, [1, 1, 1, c])), g.constant(input.std, [1, 1, 1, c]));
  }

  #run(x: Tensor, training: boolean, tensorOf: (v: Variable) => Tensor) {
    const built = this.network.build(this.#adapt(x), training, tensorOf);
    if (this.head === null) return built;
    const width = this.head.bias.size;
    const output = add(
      matmul(built.output, tensorOf(this.head.weight)),
      reshape(tensorOf(this.head.bias), [1, width]),
    );
    return { output, updates: built.updates };
  }
}

/**
 * A backbone model of `spec` with the weights of `source` (the file it was made from) and a head
 * drawn with `seed`.
 */
export function createBackbone(
  spec: BackboneSpec,
  source: OnnxSource,
  seed: number,
): BackboneModel {
  return new BackboneModel(spec, source, new Map(), seed);
}

/** Values of `source`'s weights in our layout, by variable name (for tests and exports). */
export function pretrainedValues(source: OnnxSource): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const info of source.initializers.values()) {
    if (info.role === "constant") continue;
    const values = initializerValues(source, info.name);
    if (values !== null) out.set(`backbone.${info.name}`, toStored(info, values));
  }
  return out;
}

/** Options of {@link importOnnx}: reading the file, adapting the rows, the head and its seed. */
export interface ImportOnnxOptions extends ReadOnnxOptions, BackboneOptions {
  /** Seed of the head's initial weights. Default 1. */
  readonly seed?: number;
}

/**
 * An ONNX network (the bytes of its file) as an embedding model, behind the same interface as the
 * MLP and the CNN: by default its output for images at its own size (rows flattened channels last,
 * pixels in [0, 1], standardised with ImageNet's statistics for 3 channels) or for table rows;
 * `options` choose the value taken, the data's image shape, the statistics, a head, freezing.
 *
 * @example
 * ```ts
 * const model = await importOnnx(await Deno.readFile("resnet18.onnx"), {
 *   output: "/Flatten_output_0", rows: [64, 64, 3], size: [64, 64], embeddingDim: 64,
 * });
 * ```
 */
export async function importOnnx(
  bytes: Uint8Array,
  options: ImportOnnxOptions = {},
): Promise<BackboneModel> {
  const source = await readOnnx(bytes, options);
  return new BackboneModel(backboneSpec(source, options), source, new Map(), options.seed ?? 1);
}
