/**
 * A trained model as JSON text: the network's parameters, how to preprocess rows, and how to
 * classify (the magnet rule over the final cluster index, or k-NN against stored training
 * embeddings for the baselines). model_file.ts writes and reads it as a file; a page can keep it
 * wherever it likes. The file is long: it reads every field of every kind of model (MLP, CNN,
 * backbone) one by one, and keeps the whole format in view in one place.
 */
import { MagnetInputError } from "../errors.ts";
import type { Backend } from "../backend/backend.ts";
import { type Standardization, standardize } from "../data/preprocess.ts";
import type { BackboneSpec, Model, ModelSpec } from "../nn/model.ts";
import { modelVariableShapes, restoreModel } from "../nn/models.ts";
import { checkVariableShapes } from "../nn/size.ts";
import { type Classifier, classifyEmbeddings } from "../eval/classifier.ts";
import { encodeArray, type EncodedArray } from "../io/arrays.ts";
import { JsonFields } from "../io/json_fields.ts";
import { embed } from "../nn/embed.ts";
import type { LossKind } from "./config.ts";
import type { KeptModel } from "./types.ts";
import type { Features } from "../data/row_source.ts";
import { type ImageInput, RESIZE_MODES, type ResizeMode } from "../data/images/settings.ts";

export type { Classifier };

/** A model ready to embed and classify rows. */
export interface SavedModel {
  /** The embedding network, its parameters and state as saved. */
  model: Model;
  /** The loss it was trained with. */
  loss: LossKind;
  /** Names of the classes predictions index into. */
  classNames: string[];
  /** The feature columns the model was trained on (null for the bundled MNIST). */
  featureNames: string[] | null;
  /** How raw rows were standardised for training (null: used as they are). */
  standardization: Standardization | null;
  /**
   * For a model trained on image files: their size, channels, resize mode and per-channel
   * normalisation, which new images are given too (null otherwise; absent means null).
   */
  images?: ImageInput | null;
  /** How classes are assigned. */
  classifier: Classifier;
  /** Which step's parameters these are, and why (absent in files written before it was saved). */
  kept?: KeptModel | null;
  /**
   * The smallest and largest value of each input the network saw in training (after
   * standardisation), to warn about rows far outside it; absent in older files.
   */
  inputRange?: { min: Float32Array; max: Float32Array } | null;
  /**
   * The training file's columns that were not features: its label column, its id column and the
   * ignored ones (null for data without such columns, and in older files).
   */
  columns?: ModelColumns | null;
}

/** The columns of a model's training CSV that were not features. */
export interface ModelColumns {
  /** The label column. */
  label: string;
  /** The id column, or null. */
  id: string | null;
  /** The columns skipped. */
  ignored: string[];
}

/** Each input's smallest and largest value over `rows` (n x dim). */
export function inputRangeOf(
  rows: Float32Array,
  dim: number,
): { min: Float32Array; max: Float32Array } {
  const min = new Float32Array(dim).fill(Infinity), max = new Float32Array(dim).fill(-Infinity);
  for (let i = 0; i < rows.length; i++) {
    const d = i % dim;
    if (rows[i] < min[d]) min[d] = rows[i];
    if (rows[i] > max[d]) max[d] = rows[i];
  }
  return { min, max };
}

/** Rows whose inputs lie far outside the training range, with the worst input. */
export interface OutOfRange {
  /** Rows with at least one input far outside. */
  rows: number;
  /** The input that lies farthest outside (0-based). */
  column: number;
  /** That input's range in the rows, and in training, in the file's own units. */
  found: [number, number];
  trained: [number, number];
}

/**
 * Whether raw `features` rows (as a file gives them) lie far outside what the model was trained
 * on: more than one training range beyond it (pixels of 0-255 against a model trained on 0-1, say).
 * Null when they do not, or when the model file does not say its range.
 */
export function outOfRange(saved: SavedModel, features: Float32Array): OutOfRange | null {
  const range = saved.inputRange;
  const dim = saved.model.inputDim;
  if (range === null || range === undefined || features.length === 0) return null;
  const s = saved.standardization;
  const inputs = s === null ? features : standardize(features, dim, s);
  const raw = (d: number, v: number) => s === null ? v : v * s.scale[d] + s.mean[d];
  let rows = 0, worst = -1, worstBy = 0;
  const n = inputs.length / dim;
  for (let i = 0; i < n; i++) {
    let outside = false;
    for (let d = 0; d < dim; d++) {
      const v = inputs[i * dim + d];
      const span = Math.max(range.max[d] - range.min[d], 1e-6);
      const by = Math.max(range.min[d] - v, v - range.max[d]) / span;
      if (by > 1) {
        outside = true;
        if (by > worstBy) [worst, worstBy] = [d, by];
      }
    }
    if (outside) rows++;
  }
  if (rows === 0) return null;
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < n; i++) {
    lo = Math.min(lo, features[i * dim + worst]);
    hi = Math.max(hi, features[i * dim + worst]);
  }
  return {
    rows,
    column: worst,
    found: [lo, hi],
    trained: [raw(worst, range.min[worst]), raw(worst, range.max[worst])],
  };
}

interface ModelFile {
  format: "magnet-model";
  version: 2;
  loss: LossKind;
  /** The architecture (see nn/model.ts). */
  model: ModelSpec;
  /** Every parameter and every state variable, by name. */
  variables: Record<string, EncodedArray>;
  classNames: string[];
  featureNames: string[] | null;
  standardization: { mean: EncodedArray; scale: EncodedArray } | null;
  images: ImageInput | null;
  classifier:
    | {
      kind: "magnet";
      centres: EncodedArray;
      centreClasses: EncodedArray;
      variance: number;
      votingClusters: number;
    }
    | { kind: "knn"; references: EncodedArray; referenceLabels: EncodedArray; k: number };
  kept?: KeptModel | null;
  inputRange?: { min: EncodedArray; max: EncodedArray } | null;
  columns?: ModelColumns | null;
}

/**
 * `saved` as the JSON text of a model file, with the parameters' current values on `backend`
 * (what {@link modelFromJson} reads back).
 */
export async function modelToJson(backend: Backend, saved: SavedModel): Promise<string> {
  const variables: Record<string, EncodedArray> = {};
  for (const v of [...saved.model.parameters, ...saved.model.state]) {
    variables[v.name] = encodeArray(Float32Array.from(await backend.readVariable(v)));
  }
  const c = saved.classifier;
  const file: ModelFile = {
    format: "magnet-model",
    version: 2,
    loss: saved.loss,
    model: saved.model.spec,
    variables,
    classNames: saved.classNames,
    featureNames: saved.featureNames,
    standardization: saved.standardization === null ? null : {
      mean: encodeArray(saved.standardization.mean),
      scale: encodeArray(saved.standardization.scale),
    },
    images: saved.images ?? null,
    classifier: c.kind === "magnet"
      ? {
        kind: "magnet",
        centres: encodeArray(c.centres),
        centreClasses: encodeArray(c.centreClasses),
        variance: c.variance,
        votingClusters: c.votingClusters,
      }
      : {
        kind: "knn",
        references: encodeArray(c.references),
        referenceLabels: encodeArray(c.referenceLabels),
        k: c.k,
      },
    kept: saved.kept ?? null,
    inputRange: saved.inputRange
      ? { min: encodeArray(saved.inputRange.min), max: encodeArray(saved.inputRange.max) }
      : null,
    columns: saved.columns ?? null,
  };
  return JSON.stringify(file);
}

/** What {@link modelFromJson} expects at the top of the text. */
const MODEL_FILE = { format: "magnet-model", versions: [1, 2], what: "a magnet model file" };

/**
 * The model in the JSON text of a model file (written by {@link modelToJson}), every field and
 * every value checked; `path` names it in errors. The architecture's sizes are checked before any
 * value is decoded into a network.
 *
 * @throws {MagnetInputError} naming the field of a damaged file
 */
export function modelFromJson(text: string, path: string): SavedModel {
  const file = JsonFields.parse(text, path, MODEL_FILE);
  const version = file.get("version") as 1 | 2;
  const loss = file.oneOf("loss", ["magnet", "triplet", "softmax"] as const);
  const spec: ModelSpec = version === 1
    ? { kind: "mlp", sizes: file.integers("sizes", 1) }
    : readSpec(file);
  if (spec.kind === "mlp" && spec.sizes.length < 2) {
    file.fail(version === 1 ? "sizes" : "model.sizes", "at least two layer widths", spec.sizes);
  }
  // The declared sizes first: an absurd shape is refused before anything is made from it.
  try {
    checkVariableShapes(modelVariableShapes(spec));
  } catch (error) {
    if (!(error instanceof MagnetInputError)) throw error;
    throw new MagnetInputError(`${path} is damaged: ${error.message}`);
  }
  // Version 1 (MLP only) kept its parameters under "parameters".
  const values: JsonFields = file.object(version === 1 ? "parameters" : "variables");
  const decoded: Record<string, Float32Array> = {};
  for (const name of values.keys()) decoded[name] = values.encoded(name, "float32");
  const model = restoreModel(spec, decoded, path);
  const [inDim, outDim] = [model.inputDim, model.outputDim];
  const names = file.strings("classNames");
  if (names.length < 2 || new Set(names).size !== names.length) {
    file.fail("classNames", "two or more distinct class names", names);
  }
  const featureNames = file.get("featureNames") === null ? null : file.strings("featureNames");
  if (featureNames !== null && featureNames.length !== inDim) {
    file.fail("featureNames", `null or ${inDim} column names`, featureNames);
  }
  const c: JsonFields = file.object("classifier");
  const kind = c.oneOf("kind", ["magnet", "knn"] as const);
  let classifier: Classifier;
  let classes: Int32Array;
  let points: Float32Array;
  if (kind === "magnet") {
    classifier = {
      kind: "magnet",
      centres: points = c.encoded("centres", "float32"),
      centreClasses: classes = c.encoded("centreClasses", "int32"),
      variance: c.number("variance", Number.MIN_VALUE),
      votingClusters: c.integer("votingClusters", 1),
    };
  } else {
    classifier = {
      kind: "knn",
      references: points = c.encoded("references", "float32"),
      referenceLabels: classes = c.encoded("referenceLabels", "int32"),
      k: c.integer("k", 1),
    };
  }
  if (classes.length === 0 || points.length !== classes.length * outDim) {
    c.fail(
      kind === "magnet" ? "centres" : "references",
      `${classes.length} rows of ${outDim} values`,
      `${points.length} values`,
    );
  }
  const unnamed = classes.findIndex((k) => !(k >= 0 && k < names.length));
  if (unnamed >= 0) {
    c.fail(
      kind === "magnet" ? "centreClasses" : "referenceLabels",
      `class indices below the ${names.length} class names`,
      classes[unnamed],
    );
  }
  const standardization = file.nullableObject("standardization");
  let scale: Float32Array | null = null, mean: Float32Array | null = null;
  if (standardization !== null) {
    mean = standardization.encoded("mean", "float32", { length: inDim });
    scale = standardization.encoded("scale", "float32", { length: inDim });
    const flat = scale.findIndex((s) => !(s > 0));
    if (flat >= 0) standardization.fail(`scale[${flat}]`, "a positive number", scale[flat]);
  }
  const images = readImages(file, spec, inDim);
  return {
    model,
    loss,
    classNames: names,
    featureNames,
    standardization: mean === null ? null : { mean, scale: scale! },
    images,
    classifier,
    kept: readKept(file),
    inputRange: readInputRange(file, inDim),
    columns: readColumns(file),
  };
}

/** The kept model's step and rule (files written before it was saved have none). */
function readKept(file: JsonFields): KeptModel | null {
  if (file.get("kept") === undefined || file.get("kept") === null) return null;
  const kept = file.object("kept");
  const rule = kept.get("rule");
  if (rule !== "best" && rule !== "last") kept.fail("rule", '"best" or "last"', rule);
  const metric = kept.get("metric");
  if (metric !== null && metric !== "magnetError" && metric !== "knnError") {
    kept.fail("metric", 'null, "magnetError" or "knnError"', metric);
  }
  return {
    rule: rule as KeptModel["rule"],
    iteration: kept.integer("iteration"),
    metric: metric as KeptModel["metric"],
    // An error rate, given exactly when a metric judged the model.
    value: metric === null ? kept.nullableNumber("value", 0, 1) : kept.number("value", 0, 1),
  };
}

/** The training range of each input (files written before it was saved have none). */
function readInputRange(
  file: JsonFields,
  dim: number,
): { min: Float32Array; max: Float32Array } | null {
  if (file.get("inputRange") === undefined || file.get("inputRange") === null) return null;
  const range = file.object("inputRange");
  const min = range.encoded("min", "float32"), max = range.encoded("max", "float32");
  if (min.length !== dim || max.length !== dim) {
    file.fail("inputRange", `${dim} minima and maxima`, [min.length, max.length]);
  }
  const crossed = min.findIndex((low, i) => !(low <= max[i]));
  if (crossed >= 0) {
    range.fail(`max[${crossed}]`, `at least min[${crossed}] = ${min[crossed]}`, max[crossed]);
  }
  return { min, max };
}

/** The CSV columns that were not features (files written before they existed have none). */
function readColumns(file: JsonFields): ModelColumns | null {
  if (file.get("columns") === undefined || file.get("columns") === null) return null;
  const columns = file.object("columns");
  const ignored = columns.array("ignored");
  if (!ignored.every((c) => typeof c === "string")) {
    columns.fail("ignored", "a list of column names", ignored);
  }
  return {
    label: columns.string("label", true),
    id: columns.nullableString("id"),
    ignored: ignored as string[],
  };
}

/**
 * The images a model was trained on, checked field by field against its input (absent in files of
 * models trained on other data, and in files written before image folders existed).
 */
function readImages(file: JsonFields, spec: ModelSpec, inputDim: number): ImageInput | null {
  const raw = file.get("images");
  if (raw === undefined || raw === null) return null;
  const f: JsonFields = file.object("images");
  const width = f.integer("width", 1), height = f.integer("height", 1);
  const channels = f.get("channels");
  if (channels !== 1 && channels !== 3) f.fail("channels", "1 or 3", channels);
  const resize: ResizeMode = f.oneOf("resize", RESIZE_MODES);
  const perChannel = (name: string, positive: boolean) => {
    const values = f.array(name);
    if (
      values.length !== channels ||
      !values.every((v) => typeof v === "number" && Number.isFinite(v) && (!positive || v > 0))
    ) {
      f.fail(name, `${channels} ${positive ? "positive" : "finite"} numbers`, values);
    }
    return values as number[];
  };
  const mean = perChannel("mean", false), std = perChannel("std", true);
  const fromImages = f.get("channelsFromImages");
  if (typeof fromImages !== "boolean") f.fail("channelsFromImages", "true or false", fromImages);
  const fits = spec.kind === "cnn"
    ? spec.input.join() === [height, width, channels].join()
    : width * height * channels === inputDim;
  if (!fits) {
    f.fail("width", `a size whose pixels are the model's ${inputDim} inputs`, [width, height]);
  }
  return { width, height, channels, resize, mean, std, channelsFromImages: fromImages };
}

/** Embeddings and predicted classes of rows given as {@link embedRows} takes them. */
export async function classify(
  backend: Backend,
  saved: SavedModel,
  features: Features,
): Promise<{ embeddings: Float32Array; predicted: Int32Array }> {
  const embeddings = await embedRows(backend, saved, features);
  const predicted = await classifyEmbeddings(
    backend,
    saved.classifier,
    embeddings,
    saved.model.outputDim,
  );
  return { embeddings, predicted };
}

/**
 * Embeddings of rows: raw `features` of a table (standardised here as the training rows were), or
 * a row source that makes its rows ready for the model (images normalised with the model's
 * `images` statistics, as `loadImagesToEmbed` makes them).
 */
export async function embedRows(
  backend: Backend,
  saved: SavedModel,
  features: Features,
): Promise<Float32Array> {
  const dim = saved.model.inputDim;
  if (features instanceof Float32Array ? features.length % dim !== 0 : features.dim !== dim) {
    throw new MagnetInputError(
      `rows have ${
        features instanceof Float32Array ? features.length : features.dim
      } values, not a multiple of the model's ${dim} features`,
    );
  }
  const rows = saved.standardization === null || !(features instanceof Float32Array)
    ? features
    : standardize(features, dim, saved.standardization);
  return await embed(backend, saved.model, rows);
}

/** A version 2 file's architecture, checked field by field (its sizes are checked after). */
function readSpec(file: JsonFields): ModelSpec {
  const m: JsonFields = file.object("model");
  const kind = m.oneOf("kind", ["mlp", "cnn", "backbone"] as const);
  if (kind === "mlp") return { kind, sizes: m.integers("sizes", 1) };
  if (kind === "backbone") return readBackboneSpec(m);
  const input = m.integers("input", 1);
  if (input.length !== 3) m.fail("input", "[height, width, channels]", input);
  return {
    kind: "cnn",
    input: input as [number, number, number],
    conv: m.integers("conv", 1),
    dense: m.integers("dense", 1),
    embeddingDim: m.integer("embeddingDim", 1),
    norm: m.oneOf("norm", ["batch", "none"] as const),
  };
}

/** A backbone's architecture (an imported network, its input adaptation and head), field by field. */
function readBackboneSpec(m: JsonFields): BackboneSpec {
  const onnx = m.object("onnx");
  const sha256 = onnx.string("sha256", true);
  if (!/^[0-9a-f]{64}$/.test(sha256)) onnx.fail("sha256", "64 hexadecimal digits", sha256);
  const positives = (f: JsonFields, name: string, length: number) => {
    const values = f.array(name);
    if (
      values.length !== length || !values.every((v) => Number.isInteger(v) && (v as number) > 0)
    ) {
      f.fail(name, `${length} positive integers`, values);
    }
    return values as number[];
  };
  const finite = (f: JsonFields, name: string, length: number, positive: boolean) => {
    const values = f.array(name);
    if (
      values.length !== length ||
      !values.every((v) => typeof v === "number" && Number.isFinite(v) && (!positive || v > 0))
    ) {
      f.fail(name, `${length} finite${positive ? " positive" : ""} numbers`, values);
    }
    return values as number[];
  };
  const flag = (f: JsonFields, name: string) => {
    const value = f.get(name);
    if (typeof value !== "boolean") f.fail(name, "true or false", value);
    return value;
  };
  const i = m.object("input");
  const inputKind = i.get("kind");
  let input: BackboneSpec["input"];
  if (inputKind === "table") {
    input = { kind: "table", features: i.integer("features", 1) };
  } else if (inputKind === "image") {
    const network = positives(i, "network", 3) as [number, number, number];
    input = {
      kind: "image",
      rows: positives(i, "rows", 3) as [number, number, number],
      network,
      mean: finite(i, "mean", network[2], false),
      std: finite(i, "std", network[2], true),
      bgr: flag(i, "bgr"),
    };
  } else {
    return i.fail("kind", '"image" or "table"', inputKind);
  }
  const dim = m.get("embeddingDim");
  return {
    kind: "backbone",
    onnx: {
      file: onnx.string("file", true),
      sha256,
      structure: onnx.matching("structure", /^[A-Za-z0-9+/]+={0,2}$/, "base64 text"),
    },
    output: m.string("output", true),
    input,
    embeddingDim: dim === null ? null : m.integer("embeddingDim", 1),
    frozen: flag(m, "frozen"),
  };
}
