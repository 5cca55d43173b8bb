/**
 * A multilayer perceptron embedding model: dense layers with ReLU between them and none on the
 * output. Its parameters are {@link Variable}s, so they live on whichever backend runs the graph.
 */
import { MagnetInputError, ShapeError } from "../errors.ts";
import { add, matmul, relu, reshape } from "../graph/ops.ts";
import { formatShape, type Tensor, Variable } from "../graph/tensor.ts";
import type { Update } from "../backend/backend.ts";
import type { MlpSpec, Model, VariableShape } from "./model.ts";
import { Random } from "../util/random.ts";
import { checkVariableShapes } from "./size.ts";

/** Weight initialisation: He (normal, variance 2 / fan-in) or Glorot (normal, 2 / (fan-in + fan-out)). */
export type MlpInit = "he" | "glorot";

/** Options of {@link createMlp}. */
export interface MlpOptions {
  /** Layer widths from input to output, e.g. [784, 256, 128, 64]. At least two. */
  readonly sizes: readonly number[];
  /** Seed of the initial weights. Default 1. */
  readonly seed?: number;
  /** Default "he". Biases start at 0. */
  readonly init?: MlpInit;
  /** Prefix of the variables' names. Default "mlp". */
  readonly name?: string;
}

/** The name of dense layer `i` of an MLP of layer widths `sizes`, for messages. */
export function mlpLayerName(sizes: readonly number[], i: number): string {
  const widths = `${sizes[i]} -> ${sizes[i + 1]}`;
  return i + 2 < sizes.length
    ? `hidden layer ${i + 1} (${widths} wide, --hidden)`
    : `the embedding layer (${widths} wide, --embedding-dim)`;
}

/** The variables of an MLP of layer widths `sizes` (a weight and a bias per layer), in order. */
export function mlpVariableShapes(sizes: readonly number[], name = "mlp"): VariableShape[] {
  return sizes.slice(1).flatMap((out, i) => [
    {
      name: `${name}.${i}.weight`,
      shape: [sizes[i], out],
      layer: mlpLayerName(sizes, i),
      role: "parameter" as const,
    },
    {
      name: `${name}.${i}.bias`,
      shape: [out],
      layer: mlpLayerName(sizes, i),
      role: "parameter" as const,
    },
  ]);
}

/** A multilayer perceptron. */
export class Mlp implements Model {
  /** Creates the model from its layer widths and existing parameters (see {@link createMlp}). */
  constructor(
    readonly sizes: readonly number[],
    readonly weights: readonly Variable[],
    readonly biases: readonly Variable[],
  ) {}

  /** The architecture. */
  get spec(): MlpSpec {
    return { kind: "mlp", sizes: [...this.sizes] };
  }

  /** An MLP has no state besides its parameters. */
  readonly state: readonly Variable[] = [];

  /** Width of the input rows. */
  get inputDim(): number {
    return this.sizes[0];
  }

  /** Width of the embeddings. */
  get outputDim(): number {
    return this.sizes[this.sizes.length - 1];
  }

  /** Every parameter, weights and biases interleaved by layer. */
  get parameters(): Variable[] {
    return this.weights.flatMap((w, i) => [w, this.biases[i]]);
  }

  /** The embeddings [N, outputDim] of rows `x` [N, inputDim], in x's graph. */
  forward(x: Tensor): Tensor {
    return this.apply(x, this.parameters.map((p) => x.graph.variable(p)));
  }

  /** The same in training: an MLP updates nothing besides its parameters. */
  trainingForward(x: Tensor): { output: Tensor; updates: Update[] } {
    return { output: this.forward(x), updates: [] };
  }

  /**
   * The same network with `parameters` (weights and biases interleaved by layer, shaped like
   * {@link Mlp.parameters}) given as tensors: for checking gradients, or evaluating other values.
   */
  apply(x: Tensor, parameters: readonly Tensor[]): Tensor {
    if (x.rank !== 2 || x.shape[1] !== this.inputDim) {
      throw new ShapeError(
        "Mlp.forward",
        `expects rows [N, ${this.inputDim}], got ${formatShape(x.shape)}`,
      );
    }
    const layers = this.sizes.length - 1;
    if (parameters.length !== 2 * layers) {
      throw new ShapeError(
        "Mlp.apply",
        `expects ${2 * layers} parameters, got ${parameters.length}`,
      );
    }
    let h = x;
    for (let i = 0; i < layers; i++) {
      const out = this.sizes[i + 1];
      h = x.graph.inLayer(mlpLayerName(this.sizes, i), () => {
        const y = add(matmul(h, parameters[2 * i]), reshape(parameters[2 * i + 1], [1, out]));
        return i < layers - 1 ? relu(y) : y;
      });
    }
    return h;
  }
}

/** Creates an MLP with seeded initial weights. */
export function createMlp(options: MlpOptions): Mlp {
  const { sizes } = options;
  if (sizes.length < 2 || sizes.some((s) => !Number.isInteger(s) || s < 1)) {
    throw new MagnetInputError(
      `MLP layer sizes must be at least two positive integers, got [${sizes.join(", ")}]`,
    );
  }
  checkVariableShapes(mlpVariableShapes(sizes, options.name));
  const init = options.init ?? "he";
  if (init !== "he" && init !== "glorot") {
    throw new MagnetInputError(`unknown initialisation "${init}": expected "he" or "glorot"`);
  }
  const rng = new Random(options.seed ?? 1);
  const name = options.name ?? "mlp";
  const weights: Variable[] = [];
  const biases: Variable[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    const [fanIn, fanOut] = [sizes[i], sizes[i + 1]];
    const std = Math.sqrt(init === "he" ? 2 / fanIn : 2 / (fanIn + fanOut));
    const w = Float32Array.from({ length: fanIn * fanOut }, () => rng.normal() * std);
    weights.push(new Variable(`${name}.${i}.weight`, [fanIn, fanOut], w));
    biases.push(new Variable(`${name}.${i}.bias`, [fanOut]));
  }
  return new Mlp(sizes, weights, biases);
}
