/**
 * One training step as a compiled graph: the model's forward pass on a batch, the chosen loss (from
 * the registry), the gradients of every parameter, and the optimizer's update of each, applied
 * only when the loss and every value the step writes are finite. Its outputs are read by name.
 */
import type { Backend, Executable } from "../backend/backend.ts";
import { gradients } from "../graph/autodiff.ts";
import { allFinite } from "../graph/functions.ts";
import { Graph, Variable } from "../graph/tensor.ts";
import { abs, greaterEqual, max, mul, reshape } from "../graph/ops.ts";
import { LOSSES } from "../losses/registry.ts";
import { MagnetInputError } from "../errors.ts";
import type { Dataset, Features } from "../data/dataset.ts";
import { cnnSpec } from "../nn/cnn.ts";
import { backboneSpec } from "../nn/onnx/backbone.ts";
import type { OnnxSource } from "../nn/onnx/source.ts";
import type { Model, ModelSpec } from "../nn/model.ts";
import { createModel } from "../nn/models.ts";
import { adam, type Optimizer, sgd } from "../optim/optimizer.ts";
import type { TrainConfig } from "./config.ts";

/**
 * The largest embedding coordinate a sound run produces. Squared distances between embeddings below
 * it stay far inside float32 whatever their width (4 x 2^28 x 1e28 < 3.4e38), so the loss, the batch
 * variance, k-means and the evaluation all stay finite; a run whose embeddings grow past it has
 * diverged (a learning rate too large makes them grow step by step while the loss, which does not
 * depend on their scale, looks fine).
 */
export const EMBEDDING_LIMIT = 1e14;

/** Where each output of the compiled step sits, by name (null when the loss has none). */
export interface StepOutputs {
  /** Scalar: 1 when the step was sound (and applied, unless an earlier one was not). */
  readonly applied: number;
  /** Scalar: the mean loss. */
  readonly loss: number;
  /** Scalar: the largest absolute coordinate of the batch's embeddings. */
  readonly scale: number;
  /** [batch]: per-example losses, for neighbourhood sampling. */
  readonly exampleLosses: number | null;
  /** Scalar: the batch variance, for the magnet rule. */
  readonly variance: number | null;
}

/** A compiled step and what it trains. */
export interface TrainingStep {
  readonly executable: Executable;
  readonly outputs: StepOutputs;
  readonly model: Model;
  readonly optimizer: Optimizer;
  /** The loss's own variables (a classifier head), trained with the model. */
  readonly lossVariables: readonly Variable[];
  /** The device-side verdict that keeps a failed step's successors from applying (not state). */
  readonly latch: Variable;
}

/** The architecture the settings ask for, for rows of `train` (and `backbone`, an imported network). */
export function modelSpecFor(
  config: TrainConfig,
  train: Dataset<Features>,
  backbone?: OnnxSource,
): ModelSpec {
  if (config.model === "mlp") {
    return { kind: "mlp", sizes: [train.dim, ...config.hidden, config.embeddingDim] };
  }
  if (config.model === "backbone") {
    if (backbone === undefined) {
      throw new MagnetInputError(
        "model backbone needs the network to fine-tune (--backbone FILE.onnx, or " +
          "TrainSetup.backbone from readOnnx)",
      );
    }
    if (backbone.input.dims.length === 4 && train.imageShape === undefined) {
      throw new MagnetInputError(
        `${backbone.label} takes images; this data is a table of ${train.dim} features`,
      );
    }
    return backboneSpec(backbone, {
      output: config.backboneOutput ?? undefined,
      rows: train.imageShape,
      size: config.backboneSize ?? undefined,
      mean: config.backboneMean ?? undefined,
      std: config.backboneStd ?? undefined,
      bgr: config.backboneBgr,
      embeddingDim: config.embeddingDim,
      frozen: config.freezeBackbone,
    });
  }
  if (train.imageShape === undefined) {
    throw new MagnetInputError(
      `--model cnn needs image rows (the bundled MNIST, Fashion-MNIST or a folder of images); this data is a table ` +
        `of ${train.dim} features: use --model mlp`,
    );
  }
  return cnnSpec({
    input: train.imageShape,
    conv: config.conv,
    dense: config.hidden,
    embeddingDim: config.embeddingDim,
    norm: config.norm,
  });
}

/** Builds and compiles the step for the rows of `train` (`backbone`: the network to fine-tune). */
export async function compileStep(
  backend: Backend,
  config: TrainConfig,
  train: Dataset<Features>,
  backbone?: OnnxSource,
): Promise<TrainingStep> {
  const loss = LOSSES[config.loss];
  const model = createModel(modelSpecFor(config, train, backbone), config.seed, backbone);
  const inputDim = train.dim, classes = train.classNames.length;
  const optimizer = config.optimizer === "adam"
    ? adam({ lr: config.lr })
    : sgd({ lr: config.lr, momentum: 0.9 });
  const lossVariables = loss.variables?.(config, classes) ?? [];
  const rows = config.m * config.d;
  const g = new Graph();
  const forward = model.trainingForward(g.input("x", [rows, inputDim]));
  const built = g.inLayer(`the ${config.loss} loss`, () =>
    loss.build(
      {
        embeddings: forward.output,
        clusterOf: g.input("clusterOf", [rows], "int32"),
        clusterClasses: g.input("clusterClasses", [config.m]),
        numClusters: config.m,
      },
      config,
      lossVariables,
    ));
  const params = [...model.parameters, ...lossVariables];
  const grads = gradients(built.loss, params.map((p) => g.variable(p)));
  // The optimizer's updates, and the model's own (running statistics).
  // Pretrained weights may learn at their own rate (--backbone-lr-scale).
  const pretrained = new Set(model.pretrained ?? []);
  const scales = params.map((p) => (pretrained.has(p) ? config.backboneLrScale : 1));
  const updates = [
    ...g.inLayer(
      `the optimizer (${config.optimizer})`,
      () => optimizer.updates(params, grads, scales),
    ),
    ...forward.updates,
  ];
  // The step applies its updates only if it is sound, so a diverging run keeps its last good state
  // on every backend (a NaN can hide behind a ReLU, an exploding scale behind a finite loss).
  const reported = [built.exampleLosses, built.variance].filter((t) => t !== undefined);
  const scale = max(reshape(abs(forward.output), [forward.output.size]), 0);
  const applied = mul(
    allFinite([built.loss, ...reported, ...updates.map(([, value]) => value)]),
    greaterEqual(EMBEDDING_LIMIT, scale),
  );
  const outputs = [applied, built.loss, scale];
  const at = (t: typeof built.variance) => (t === undefined ? null : outputs.push(t) - 1);
  const named: StepOutputs = {
    applied: 0,
    loss: 1,
    scale: 2,
    exampleLosses: at(built.exampleLosses),
    variance: at(built.variance),
  };
  // Positive while every step so far was sound; a run that failed once applies nothing more.
  const latch = new Variable("step.sound", [], [1]);
  const executable = await backend.compile({ outputs, updates, guard: applied, latch });
  return { executable, outputs: named, model, optimizer, lossVariables, latch };
}
