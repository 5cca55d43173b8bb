/**
 * A small convolutional embedding network for images: for each entry of `conv`, a 3 x 3
 * convolution ("same" padding), batch normalisation, ReLU and a 2 x 2 max pool; then dense layers
 * with ReLU, and a linear embedding. Rows are images flattened channels last, as the data sets
 * give them.
 *
 * Batch normalisation trains on each batch's statistics and updates running means and variances
 * (momentum 0.1, as PyTorch), which inference uses: they are state, saved with the model.
 */
import type { Update } from "../backend/backend.ts";
import { MagnetInputError, ShapeError } from "../errors.ts";
import { columnMoments, conv2d, maxPool2d, normalize } from "../graph/conv.ts";
import { add, matmul, mul, relu, reshape } from "../graph/ops.ts";
import { formatShape, type Tensor, Variable } from "../graph/tensor.ts";
import { Random } from "../util/random.ts";
import type { CnnSpec, Model, VariableShape } from "./model.ts";
import { checkVariableShapes } from "./size.ts";

/** Momentum of the running statistics: running = (1 - m) running + m batch. */
const MOMENTUM = 0.1;

/** The variables of one convolution block. */
interface ConvBlock {
  kernel: Variable;
  bias: Variable | null;
  gamma: Variable | null;
  beta: Variable | null;
  runningMean: Variable | null;
  runningVariance: Variable | null;
}

/** A convolutional network; make one with {@link createCnn}. */
export class Cnn implements Model {
  readonly #blocks: ConvBlock[];
  readonly #dense: { weight: Variable; bias: Variable }[];

  /** Builds the network from its architecture and its variables (see {@link createCnn}). */
  constructor(readonly spec: CnnSpec, variables: ReadonlyMap<string, Variable>) {
    const get = (name: string) => {
      const v = variables.get(name);
      if (v === undefined) throw new MagnetInputError(`the CNN has no variable "${name}"`);
      return v;
    };
    const batch = spec.norm === "batch";
    this.#blocks = spec.conv.map((_, i) => ({
      kernel: get(`cnn.conv${i}.kernel`),
      // Batch normalisation's shift makes a convolution bias redundant.
      bias: batch ? null : get(`cnn.conv${i}.bias`),
      gamma: batch ? get(`cnn.conv${i}.gamma`) : null,
      beta: batch ? get(`cnn.conv${i}.beta`) : null,
      runningMean: batch ? get(`cnn.conv${i}.runningMean`) : null,
      runningVariance: batch ? get(`cnn.conv${i}.runningVariance`) : null,
    }));
    this.#dense = [...spec.dense, spec.embeddingDim].map((_, i) => ({
      weight: get(`cnn.dense${i}.weight`),
      bias: get(`cnn.dense${i}.bias`),
    }));
  }

  /** Width of an input row: height x width x channels. */
  get inputDim(): number {
    const [h, w, c] = this.spec.input;
    return h * w * c;
  }

  /** Width of the embedding. */
  get outputDim(): number {
    return this.spec.embeddingDim;
  }

  /** Every trained variable: kernels, biases, normalisation scales and shifts, dense layers. */
  get parameters(): Variable[] {
    return [
      ...this.#blocks.flatMap((b) =>
        [b.kernel, b.bias, b.gamma, b.beta].filter((v): v is Variable => v !== null)
      ),
      ...this.#dense.flatMap((d) => [d.weight, d.bias]),
    ];
  }

  /** The running statistics of batch normalisation. */
  get state(): Variable[] {
    return this.#blocks.flatMap((b) =>
      [b.runningMean, b.runningVariance].filter((v): v is Variable => v !== null)
    );
  }

  forward(x: Tensor): Tensor {
    return this.#run(x, false, (v) => x.graph.variable(v)).output;
  }

  trainingForward(x: Tensor): { output: Tensor; updates: Update[] } {
    return this.#run(x, true, (v) => x.graph.variable(v));
  }

  /**
   * The network with its variables replaced by the tensors `values` (by variable name), in training
   * or inference mode: what the gradient checker differentiates through.
   */
  apply(x: Tensor, values: Readonly<Record<string, Tensor>>, training: boolean): Tensor {
    return this.#run(x, training, (v) => {
      const value = values[v.name];
      if (value === undefined) throw new ShapeError("Cnn.apply", `no tensor for "${v.name}"`);
      return value;
    }).output;
  }

  #run(
    x: Tensor,
    training: boolean,
    tensorOf: (v: Variable) => Tensor,
  ): { output: Tensor; updates: Update[] } {
    if (x.rank !== 2 || x.shape[1] !== this.inputDim) {
      throw new ShapeError(
        "Cnn.forward",
        `expects rows [N, ${this.inputDim}], got ${formatShape(x.shape)}`,
      );
    }
    const n = x.shape[0];
    const updates: Update[] = [];
    const names = cnnLayerNames(this.spec);
    const g = x.graph;
    let h = reshape(x, [n, ...this.spec.input]);
    for (const [i, block] of this.#blocks.entries()) {
      h = g.inLayer(names.conv[i], () => this.#block(h, block, training, tensorOf, updates));
    }
    h = reshape(h, [n, h.size / n]);
    this.#dense.forEach((d, i) => {
      const width = d.bias.size;
      h = g.inLayer(names.dense[i], () => {
        const y = add(matmul(h, tensorOf(d.weight)), reshape(tensorOf(d.bias), [1, width]));
        return i < this.#dense.length - 1 ? relu(y) : y;
      });
    });
    return { output: h, updates };
  }

  /** One convolution block: convolution, normalisation, ReLU and pooling. */
  #block(
    input: Tensor,
    block: ConvBlock,
    training: boolean,
    tensorOf: (v: Variable) => Tensor,
    updates: Update[],
  ): Tensor {
    const n = input.shape[0];
    let h = input;
    h = conv2d(h, tensorOf(block.kernel), block.bias && tensorOf(block.bias));
    if (block.gamma !== null) {
      const [, height, width, c] = h.shape;
      const flat = reshape(h, [n * height * width, c]);
      const mean = tensorOf(block.runningMean!), variance = tensorOf(block.runningVariance!);
      let moments = { mean: reshape(mean, [1, c]), variance: reshape(variance, [1, c]) };
      if (training) {
        moments = columnMoments(flat);
        // Running statistics move towards the batch's (variance unbiased, as PyTorch).
        const rows = flat.shape[0];
        const unbiased = mul(moments.variance, rows / Math.max(rows - 1, 1));
        updates.push(
          [
            block.runningMean!,
            add(mul(mean, 1 - MOMENTUM), mul(reshape(moments.mean, [c]), MOMENTUM)),
          ],
          [
            block.runningVariance!,
            add(mul(variance, 1 - MOMENTUM), mul(reshape(unbiased, [c]), MOMENTUM)),
          ],
        );
      }
      h = reshape(
        normalize(flat, moments, tensorOf(block.gamma), tensorOf(block.beta!)),
        h.shape,
      );
    }
    h = maxPool2d(relu(h), 2);
    return h;
  }
}

/** Options of {@link createCnn}: the architecture and the seed of its initial weights. */
export interface CnnOptions {
  /** Input images as [height, width, channels]. */
  readonly input: readonly [number, number, number];
  /** Channels of each convolution block. Default [32, 64]. */
  readonly conv?: readonly number[];
  /** Dense layer widths. Default [128]. */
  readonly dense?: readonly number[];
  /** Embedding width. Default 64. */
  readonly embeddingDim?: number;
  /** Default "batch". */
  readonly norm?: "batch" | "none";
  /** Default 1. */
  readonly seed?: number;
}

/** The architecture {@link createCnn} builds for `options`, checked. */
export function cnnSpec(options: CnnOptions): CnnSpec {
  const spec: CnnSpec = {
    kind: "cnn",
    input: options.input,
    conv: options.conv ?? [32, 64],
    dense: options.dense ?? [128],
    embeddingDim: options.embeddingDim ?? 64,
    norm: options.norm ?? "batch",
  };
  const positive = (what: string, values: readonly number[]) => {
    if (values.some((v) => !Number.isInteger(v) || v < 1)) {
      throw new MagnetInputError(`CNN ${what} must be positive integers, got [${values}]`);
    }
  };
  positive("input size", spec.input);
  positive("convolution channels", spec.conv);
  positive("dense widths", spec.dense);
  positive("embedding width", [spec.embeddingDim]);
  const [h, w] = spec.input;
  const shrink = 2 ** spec.conv.length;
  if (h < shrink || w < shrink) {
    throw new MagnetInputError(
      `${spec.conv.length} pooling stages halve ${h}x${w} images below one pixel: use fewer ` +
        "convolutions",
    );
  }
  if (spec.norm !== "batch" && spec.norm !== "none") {
    throw new MagnetInputError(`CNN norm must be "batch" or "none", got "${spec.norm}"`);
  }
  return spec;
}

/** The names of a CNN's layers, for messages: convolutions, dense layers, the embedding. */
function cnnLayerNames(spec: CnnSpec): { conv: string[]; dense: string[] } {
  const widths = [...spec.dense, spec.embeddingDim];
  return {
    conv: spec.conv.map((out, i) => `convolution ${i + 1} (${out} channels, --conv)`),
    dense: widths.map((out, i) =>
      i + 1 < widths.length
        ? `dense layer ${i + 1} (${out} wide, --hidden)`
        : `the embedding layer (${out} wide, --embedding-dim)`
    ),
  };
}

/** The names and shapes of a CNN's variables, in order, before any value exists. */
export function cnnVariableShapes(spec: CnnSpec): VariableShape[] {
  const names = cnnLayerNames(spec);
  const shapes: VariableShape[] = [];
  const add = (name: string, shape: number[], layer: string, role: VariableShape["role"]) =>
    shapes.push({ name, shape, layer, role });
  let [h, w, channels] = spec.input;
  spec.conv.forEach((out, i) => {
    const layer = names.conv[i];
    add(`cnn.conv${i}.kernel`, [3, 3, channels, out], layer, "parameter");
    if (spec.norm === "batch") {
      add(`cnn.conv${i}.gamma`, [out], layer, "parameter");
      add(`cnn.conv${i}.beta`, [out], layer, "parameter");
      add(`cnn.conv${i}.runningMean`, [out], layer, "state");
      add(`cnn.conv${i}.runningVariance`, [out], layer, "state");
    } else {
      add(`cnn.conv${i}.bias`, [out], layer, "parameter");
    }
    channels = out;
    h = Math.floor(h / 2);
    w = Math.floor(w / 2);
  });
  let width = h * w * channels;
  [...spec.dense, spec.embeddingDim].forEach((out, i) => {
    add(`cnn.dense${i}.weight`, [width, out], names.dense[i], "parameter");
    add(`cnn.dense${i}.bias`, [out], names.dense[i], "parameter");
    width = out;
  });
  return shapes;
}

/**
 * A CNN's variables with their starting values: He initialisation (variance 2 / fan-in) for the
 * kernels and dense weights, drawn in order from `seed`; scales and running variances 1; the rest 0.
 */
export function cnnVariables(spec: CnnSpec, seed: number): Map<string, Variable> {
  const shapes = cnnVariableShapes(spec);
  checkVariableShapes(shapes);
  const rng = new Random(seed);
  const vars = new Map<string, Variable>();
  for (const { name, shape } of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const kind = name.slice(name.lastIndexOf(".") + 1);
    let init: Float32Array;
    if (kind === "kernel" || kind === "weight") {
      const fanIn = n / shape[shape.length - 1];
      const std = Math.sqrt(2 / fanIn);
      init = Float32Array.from({ length: n }, () => rng.normal() * std);
    } else {
      init = new Float32Array(n).fill(kind === "gamma" || kind === "runningVariance" ? 1 : 0);
    }
    vars.set(name, new Variable(name, shape, init));
  }
  return vars;
}

/** Creates a CNN with seeded initial weights. */
export function createCnn(options: CnnOptions): Cnn {
  const spec = cnnSpec(options);
  return new Cnn(spec, cnnVariables(spec, options.seed ?? 1));
}
