/**
 * magnet for web pages: everything of the library that needs no files and no Deno, on WebGPU
 * (`navigator.gpu`) or on the WebAssembly CPU device (worker threads when the page is
 * cross-origin isolated, one thread otherwise). The graph, both backends, the gradient checker,
 * losses, networks, optimizers, the cluster index, samplers, evaluation, training, model JSON,
 * CSV and IDX parsing and the report renderer (PCA maps). `mod.ts` adds what reads files (the
 * bundled MNIST, Fashion-MNIST, CSV and IDX files, model files) and UMAP maps.
 *
 * No module this one reaches uses `Deno` or imports `node:` or an npm package
 * (tests/web/browser_clean_test.ts checks), so `deno bundle --platform browser web.ts` gives one
 * ES module a page can import.
 *
 * @example
 * ```ts
 * import { computeMagnetLoss, createBackend } from "@magnet/magnet/web";
 *
 * const backend = await createBackend({ kind: "cpu" });
 * const { loss } = await computeMagnetLoss(backend, {
 *   embeddings: new Float32Array([0, 2, 1, 5]),
 *   dim: 1,
 *   clusters: new Int32Array([7, 7, 3, 3]),
 *   classes: new Int32Array([0, 0, 1, 1]),
 *   alpha: 1,
 * });
 * console.log(backend.description, loss);
 * backend.dispose();
 * ```
 * @module
 */

export {
  type BackendChoice,
  type BackendOptions,
  createBackend,
  type WebGpuMatmul,
} from "./src/backend/create.ts";
export type {
  Backend,
  BackendKind,
  CompileRequest,
  DeviceLimits,
  Executable,
  Feeds,
  FloatArray,
  HostArray,
  Precision,
  Update,
} from "./src/backend/backend.ts";
export {
  type DType,
  type ElementwiseOp,
  Graph,
  MAX_RANK,
  type OpName,
  type OpSpec,
  type PatchGeometry,
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
  isFinite,
  log,
  matmul,
  max,
  maximum,
  minimum,
  mul,
  neg,
  oneHot,
  type Padding,
  patches,
  patchGeometry,
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
  unpatches,
  where,
} from "./src/graph/ops.ts";
export {
  allFinite,
  logSumExp,
  maskedLogSumExp,
  mean,
  min,
  oneHotFloat,
  segmentMean,
  squaredDistances,
  squaredDistancesExact,
  sumAll,
} from "./src/graph/functions.ts";
export {
  avgPool2d,
  columnMoments,
  conv2d,
  type Conv2dOptions,
  globalAvgPool,
  maxPool2d,
  normalize,
} from "./src/graph/conv.ts";
export {
  avgPool,
  type AvgPoolOptions,
  convolution,
  type ConvolutionOptions,
  maxPool,
  type WindowOptions,
} from "./src/graph/windows.ts";
export { resizeImages, resizeMatrix } from "./src/graph/resize.ts";
export { concat, slice, take } from "./src/graph/slices.ts";
export { clip, hardSigmoid, hardSwish } from "./src/graph/activations.ts";
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
  AbortedError,
  BackendUnavailableError,
  DivergenceError,
  type DivergenceReason,
  EnvironmentError,
  MagnetInputError,
  NonFiniteLossError,
  ShapeError,
  TooLargeError,
} from "./src/errors.ts";
export { Random } from "./src/util/random.ts";
export type { WorkOptions, WorkProgress, WorkStage } from "./src/util/work.ts";

// Losses
export {
  computeMagnetLoss,
  type MagnetBatch,
  type MagnetResult,
} from "./src/losses/magnet_batch.ts";
export {
  magnetLoss,
  type MagnetLossGraph,
  type MagnetLossInputs,
  type VarianceForm,
} from "./src/losses/magnet.ts";
export {
  tripletLoss,
  type TripletLossGraph,
  type TripletLossOptions,
  type TripletMining,
} from "./src/losses/triplet.ts";
export { softmaxLoss, type SoftmaxLossGraph } from "./src/losses/softmax.ts";
export {
  type BatchTensors,
  LOSSES,
  type LossOutputs,
  type LossSettings,
  type TrainingLoss,
} from "./src/losses/registry.ts";

// Model and optimizers
export { createMlp, Mlp, type MlpInit, type MlpOptions } from "./src/nn/mlp.ts";
export { Cnn, type CnnOptions, createCnn } from "./src/nn/cnn.ts";
export type {
  BackboneInput,
  BackboneSpec,
  CnnSpec,
  MlpSpec,
  Model,
  ModelSpec,
  VariableShape,
} from "./src/nn/model.ts";
export { createModel, modelVariableShapes, restoreModel } from "./src/nn/models.ts";

// ONNX: pretrained networks in, trained networks out (bytes in and out: no files)
export {
  BackboneModel,
  type BackboneOptions,
  backboneSpec,
  IMAGENET_MEAN,
  IMAGENET_STD,
  importOnnx,
  type ImportOnnxOptions,
} from "./src/nn/onnx/backbone.ts";
export {
  type InitializerInfo,
  type InitializerRole,
  type OnnxSource,
  readOnnx,
  type ReadOnnxOptions,
  type WeightLayout,
} from "./src/nn/onnx/source.ts";
export { type NetworkOptions, OnnxNetwork } from "./src/nn/onnx/network.ts";
export { SUPPORTED_OPS as ONNX_OPERATORS } from "./src/nn/onnx/converters.ts";
export { exportOnnx, type ExportOptions } from "./src/nn/onnx/export.ts";
export type {
  AttributeProto,
  DimensionProto,
  ExternalDataReader,
  GraphProto,
  ModelProto,
  NodeProto,
  OpsetId,
  StringEntry,
  TensorProto,
  ValueInfoProto,
} from "./src/nn/onnx/onnx_proto.ts";
export {
  adam,
  type AdamOptions,
  type Optimizer,
  sgd,
  type SgdOptions,
} from "./src/optim/optimizer.ts";

// Adaptive density discrimination: index, sampling, classification
export {
  buildClusterIndex,
  ClusterIndex,
  type ClusterIndexOptions,
} from "./src/index/cluster_index.ts";
export {
  type BatchPlan,
  NeighbourhoodSampler,
  type SamplerKind,
  type SamplerState,
} from "./src/sample/neighbourhood.ts";
export { ClassBatchSampler } from "./src/sample/class_batches.ts";
export {
  DEFAULT_VOTING_CLUSTERS,
  magnetClassify,
  magnetVote,
  magnetVotes,
} from "./src/eval/magnet_rule.ts";

// Evaluation
export {
  type EvalMetrics,
  evaluate,
  type EvaluateOptions,
  type Evaluation,
} from "./src/eval/evaluate.ts";
export {
  nearestNeighbours,
  type NeighbourOptions,
  type Neighbours,
} from "./src/eval/neighbours.ts";
export { errorRate, knnClassify } from "./src/eval/knn.ts";
export {
  type RetrievalMetrics,
  retrievalMetrics,
  retrievalMetricsFromNeighbours,
  type RetrievalOptions,
} from "./src/eval/retrieval.ts";
export { kmeansNmi, normalizedMutualInformation } from "./src/eval/nmi.ts";

// Training
export { train, Trainer } from "./src/train/trainer.ts";
export type {
  BestState,
  EvalSplit,
  HistoryPoint,
  KeptModel,
  Phase,
  TrainerState,
  TrainEvent,
  TrainOptions,
  TrainResult,
  TrainSetup,
  TrainTimings,
} from "./src/train/types.ts";
export {
  applicableSettings,
  DEFAULT_CONFIG,
  type KeepRule,
  type LossKind,
  type ModelKind,
  type OptimizerKind,
  resolveConfig,
  type TrainConfig,
} from "./src/train/config.ts";
export { type DataShape, fitToData, stepsPerEpoch } from "./src/train/schedule.ts";
export { chunkRowsFor, DEFAULT_CHUNK_ROWS, embed, type EmbedOptions } from "./src/nn/embed.ts";
export { classifyEmbeddings, classifyWithVotes } from "./src/eval/classifier.ts";
export {
  type Classifier,
  classify,
  embedRows,
  type ModelColumns,
  modelFromJson,
  modelToJson,
  type SavedModel,
} from "./src/train/saved_model.ts";
export { stateFromJson, stateToJson } from "./src/train/checkpoint.ts";

// Data
export {
  type Dataset,
  datasetSize,
  type Features,
  type RowSource,
  subset,
  validateDataset,
} from "./src/data/dataset.ts";
export { rowSource, TableRowSource } from "./src/data/row_source.ts";
export { type IdxArray, parseIdx } from "./src/data/idx.ts";
export {
  type CsvOptions,
  type CsvRows,
  type CsvRowsOptions,
  parseCsvDataset,
  parseCsvRows,
} from "./src/data/csv.ts";
export { type Split, type SplitOptions, stratifiedSplit } from "./src/data/split.ts";
export { fitStandardization, type Standardization, standardize } from "./src/data/preprocess.ts";
export {
  fitNormalization,
  identityNormalization,
  ImagePixels,
  ImageRows,
  type Normalization,
} from "./src/data/images/image_rows.ts";
export {
  AUGMENT_KINDS,
  Augmenter,
  augmenterFor,
  type AugmentKind,
  CROP_RATIO,
  CROP_SCALE,
  type CropWindow,
  randomCrop,
} from "./src/data/images/augment.ts";
export {
  type DecodedImage,
  type DecodeRequest,
  ImageDecodeError,
  type ImageDecoder,
  type ImageInfo,
  MAX_IMAGE_PIXELS,
} from "./src/data/images/decoder.ts";
export {
  type ImageFormat,
  type ImageInput,
  type ImageOptions,
  type ImageSize,
  parseImageSize,
  RESIZE_MODES,
  type ResizeMode,
} from "./src/data/images/settings.ts";

// Report
export {
  type EmbeddingData,
  type EmbeddingImages,
  projectTo2d,
  renderReport,
  type ReportData,
  type ReportOptions,
  type RunSummary,
} from "./src/report/report.ts";
export { type RunTimes, runTimes } from "./src/train/times.ts";
