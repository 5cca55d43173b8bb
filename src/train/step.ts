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
import { createMlp, type Mlp } from "../nn/mlp.ts";
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
  readonly model: Mlp;
  readonly optimizer: Optimizer;
  /** The loss's own variables (a classifier head), trained with the model. */
  readonly lossVariables: readonly Variable[];
}

/** Builds and compiles the step for rows of `inputDim` features and `classes` classes. */
export async function compileStep(
  backend: Backend,
  config: TrainConfig,
  inputDim: number,
  classes: number,
): Promise<TrainingStep> {
  const loss = LOSSES[config.loss];
  const model = createMlp({
    sizes: [inputDim, ...config.hidden, config.embeddingDim],
    seed: config.seed,
  });
  const optimizer = config.optimizer === "adam"
    ? adam({ lr: config.lr })
    : sgd({ lr: config.lr, momentum: 0.9 });
  const lossVariables = loss.variables?.(config, classes) ?? [];
  const rows = config.m * config.d;
  const g = new Graph();
  const built = loss.build(
    {
      embeddings: model.forward(g.input("x", [rows, inputDim])),
      clusterOf: g.input("clusterOf", [rows], "int32"),
      clusterClasses: g.input("clusterClasses", [config.m]),
      numClusters: config.m,
    },
    config,
    lossVariables,
  );
  const params = [...model.parameters, ...lossVariables];
  const grads = gradients(built.loss, params.map((p) => g.variable(p)));
  const updates = optimizer.updates(params, grads);
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
