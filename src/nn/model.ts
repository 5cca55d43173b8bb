/**
 * What every embedding network is to the rest of the library: rows in, embeddings out, its
 * parameters and state as variables, an architecture that can be written down and rebuilt, and a
 * training mode that may also update state (batch normalisation's running statistics).
 */
import type { Update } from "../backend/backend.ts";
import type { Tensor, Variable } from "../graph/tensor.ts";

/** A multilayer perceptron's architecture. */
export interface MlpSpec {
  /** Which architecture. */
  readonly kind: "mlp";
  /** Layer widths from input to embedding, e.g. [784, 256, 128, 64]. */
  readonly sizes: readonly number[];
}

/** A convolutional network's architecture (see cnn.ts). */
export interface CnnSpec {
  /** Which architecture. */
  readonly kind: "cnn";
  /** Input images as [height, width, channels]; rows hold them flattened, channels last. */
  readonly input: readonly [number, number, number];
  /** Output channels of each 3 x 3 convolution, each followed by a 2 x 2 max pool. */
  readonly conv: readonly number[];
  /** Widths of the dense layers after the convolutions. */
  readonly dense: readonly number[];
  /** Width of the embedding. */
  readonly embeddingDim: number;
  /** Normalisation after each convolution: batch normalisation or none. */
  readonly norm: "batch" | "none";
}

/** How rows become an imported network's input (see onnx/backbone.ts). */
export type BackboneInput =
  | {
    /** Table rows, given to the network as they are ([N, features]). */
    readonly kind: "table";
    readonly features: number;
  }
  | {
    /** Images. */
    readonly kind: "image";
    /** The rows' images as [height, width, channels], flattened channels last. */
    readonly rows: readonly [number, number, number];
    /** The network's input as [height, width, channels]: the rows are resized to it. */
    readonly network: readonly [number, number, number];
    /** Per network channel (in its order), subtracted from the pixels (in [0, 1]) ... */
    readonly mean: readonly number[];
    /** ... which are then divided by this. */
    readonly std: readonly number[];
    /** Reverse the rows' channels (a network trained on BGR images). */
    readonly bgr: boolean;
  };

/** An imported (ONNX) network with its input adaptation and a linear head (see onnx/backbone.ts). */
export interface BackboneSpec {
  /** Which architecture. */
  readonly kind: "backbone";
  /** The network: its file's name and SHA-256, and its structure (the file without weights, base64). */
  readonly onnx: { readonly file: string; readonly sha256: string; readonly structure: string };
  /** The network's value taken as the features. */
  readonly output: string;
  /** How rows become the network's input. */
  readonly input: BackboneInput;
  /** Width of the linear embedding head on the features; null: the features are the embedding. */
  readonly embeddingDim: number | null;
  /** Whether the network's weights stay fixed (and its batch normalisation in inference mode). */
  readonly frozen: boolean;
}

/** Any architecture. */
export type ModelSpec = MlpSpec | CnnSpec | BackboneSpec;

/**
 * A variable an architecture declares, known before any value exists: what the size checks read
 * (every model kind lists its own, see `modelVariableShapes`), so that a model too large is refused
 * before anything is allocated.
 */
export interface VariableShape {
  /** The variable's name, as saved. */
  readonly name: string;
  /** Its shape. */
  readonly shape: readonly number[];
  /** Its layer, in words: "convolution 2 (64 channels, --conv)". */
  readonly layer: string;
  /** Trained by gradient, or kept (running statistics). */
  readonly role: "parameter" | "state";
}

/** An embedding network. */
export interface Model {
  /** How to build it again (saved with the model). */
  readonly spec: ModelSpec;
  /** Width of an input row. */
  readonly inputDim: number;
  /** Width of an embedding. */
  readonly outputDim: number;
  /** The trained parameters. */
  readonly parameters: readonly Variable[];
  /** Variables it keeps but does not train by gradient (running statistics); saved with it. */
  readonly state: readonly Variable[];
  /**
   * The parameters that came pretrained (an imported network's weights), which training may give
   * a learning rate of their own; absent when there are none.
   */
  readonly pretrained?: readonly Variable[];
  /** Embeddings [N, outputDim] of rows `x` [N, inputDim] for use: no state changes. */
  forward(x: Tensor): Tensor;
  /**
   * Embeddings of a training batch, and the updates of its state the training step applies
   * (batch statistics in, running statistics updated).
   */
  trainingForward(x: Tensor): { output: Tensor; updates: Update[] };
}
