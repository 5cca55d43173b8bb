/**
 * magnet: deep metric learning with the Magnet loss (Rippel et al., "Metric Learning with Adaptive
 * Density Discrimination", ICLR 2016) on WebGPU or on the CPU.
 *
 * The building blocks: a {@link Graph} of symbolic {@link Tensor}s made with the ops below,
 * {@link gradients} for reverse-mode autodiff, a {@link Backend} from {@link createBackend} that
 * compiles and runs graphs, and {@link gradcheck} / {@link crossCheck} to verify any graph.
 *
 * @example
 * ```ts
 * import { createBackend, Graph, gradients, matmul, relu, sumAll } from "@magnet/magnet";
 *
 * const backend = await createBackend(); // WebGPU when available, else CPU
 * const g = new Graph();
 * const x = g.input("x", [2, 3]);
 * const w = g.input("w", [3, 1]);
 * const loss = sumAll(relu(matmul(x, w)));
 * const [dw] = gradients(loss, [w]);
 * const [value, grad] = await backend.run([loss, dw], {
 *   x: [1, 2, 3, 4, 5, 6],
 *   w: [0.1, -0.2, 0.3],
 * });
 * backend.dispose();
 * ```
 * @module
 */

export { type BackendChoice, type BackendOptions, createBackend } from "./src/backend/create.ts";
export type {
  Backend,
  BackendKind,
  CompileRequest,
  Executable,
  Feeds,
  FloatArray,
  HostArray,
  Precision,
  Update,
} from "./src/backend/backend.ts";
export {
  type AttrValue,
  type Attrs,
  type DType,
  Graph,
  MAX_RANK,
  type Shape,
  Tensor,
  Variable,
} from "./src/graph/tensor.ts";
export {
  abs,
  add,
  argmax,
  broadcastTo,
  div,
  equal,
  exp,
  gather,
  greater,
  greaterEqual,
  log,
  matmul,
  max,
  maximum,
  minimum,
  mul,
  neg,
  relu,
  reshape,
  segmentSum,
  sigmoid,
  sign,
  sqrt,
  square,
  step,
  stopGradient,
  sub,
  sum,
  tanh,
  type TensorLike,
  transpose,
  where,
} from "./src/graph/ops.ts";
export {
  logSumExp,
  maskedLogSumExp,
  mean,
  min,
  oneHot,
  segmentMean,
  squaredDistances,
  squaredDistancesExact,
  sumAll,
} from "./src/graph/functions.ts";
export { gradients } from "./src/graph/autodiff.ts";
export {
  assertGradcheck,
  type CheckInput,
  crossCheck,
  type CrossCheckOptions,
  type CrossCheckReport,
  gradcheck,
  type GradcheckOptions,
  type GradcheckReport,
  type GraphBuilder,
  type Mismatch,
} from "./src/check/gradcheck.ts";
export {
  BackendUnavailableError,
  MagnetInputError,
  NonFiniteLossError,
  ShapeError,
} from "./src/errors.ts";
export { Random } from "./src/util/random.ts";
