/**
 * One training step as a compiled graph: the model's forward pass on a batch, the chosen loss (from
 * the registry), the gradients of every parameter, and the optimizer's update of each, applied
 * only when the loss and every value the step writes are finite. Its outputs are read by name.
 */
import type { Backend, Executable } from "../backend/backend.ts";
import { gradients } from "../graph/autodiff.ts";
import { allFinite } from "../graph/functions.ts";
import { Graph, type Variable } from "../graph/tensor.ts";
import { LOSSES } from "../losses/registry.ts";
import { MagnetInputError } from "../errors.ts";
import type { Dataset, Features } from "../data/dataset.ts";
import { cnnSpec } from "../nn/cnn.ts";
import type { Model, ModelSpec } from "../nn/model.ts";
import { createModel } from "../nn/models.ts";
import { adam, type Optimizer, sgd } from "../optim/optimizer.ts";
import type { TrainConfig } from "./config.ts";

/** Where each output of the compiled step sits, by name (null when the loss has none). */
export interface StepOutputs {
  /** Scalar: 1 when the step's loss and every value it writes were finite (and it was applied). */
  readonly applied: number;
  /** Scalar: the mean loss. */
  readonly loss: number;
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
}

/** The architecture the settings ask for, for rows of `train`. */
export function modelSpecFor(config: TrainConfig, train: Dataset<Features>): ModelSpec {
  if (config.model === "mlp") {
    return { kind: "mlp", sizes: [train.dim, ...config.hidden, config.embeddingDim] };
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

/** Builds and compiles the step for the rows of `train`. */
export async function compileStep(
  backend: Backend,
  config: TrainConfig,
  train: Dataset<Features>,
): Promise<TrainingStep> {
  const loss = LOSSES[config.loss];
  const model = createModel(modelSpecFor(config, train), config.seed);
  const inputDim = train.dim, classes = train.classNames.length;
  const optimizer = config.optimizer === "adam"
    ? adam({ lr: config.lr })
    : sgd({ lr: config.lr, momentum: 0.9 });
  const lossVariables = loss.variables?.(config, classes) ?? [];
  const rows = config.m * config.d;
  const g = new Graph();
  const forward = model.trainingForward(g.input("x", [rows, inputDim]));
  const built = loss.build(
    {
      embeddings: forward.output,
      clusterOf: g.input("clusterOf", [rows], "int32"),
      clusterClasses: g.input("clusterClasses", [config.m]),
      numClusters: config.m,
    },
    config,
    lossVariables,
  );
  const params = [...model.parameters, ...lossVariables];
  const grads = gradients(built.loss, params.map((p) => g.variable(p)));
  // The optimizer's updates, and the model's own (running statistics).
  const updates = [...optimizer.updates(params, grads), ...forward.updates];
  // The step applies its updates only if the loss and every value it writes are finite, so a
  // diverging run keeps its last good state on every backend (a NaN can hide behind a ReLU).
  const applied = allFinite([built.loss, ...updates.map(([, value]) => value)]);
  const outputs = [applied, built.loss];
  const at = (t: typeof built.variance) => (t === undefined ? null : outputs.push(t) - 1);
  const named: StepOutputs = {
    applied: 0,
    loss: 1,
    exampleLosses: at(built.exampleLosses),
    variance: at(built.variance),
  };
  const executable = await backend.compile({ outputs, updates, guard: applied });
  return { executable, outputs: named, model, optimizer, lossVariables };
}
