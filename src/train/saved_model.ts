/**
 * A trained model on disk: the network's parameters, how to preprocess rows, and how to classify
 * (the magnet rule over the final cluster index, or k-NN against stored training embeddings for the
 * baselines). Saved as one JSON file, written atomically.
 */
import { MagnetInputError } from "../errors.ts";
import type { Backend } from "../backend/backend.ts";
import { type Standardization, standardize } from "../data/preprocess.ts";
import { Variable } from "../graph/tensor.ts";
import { Mlp } from "../nn/mlp.ts";
import { type Classifier, classifyEmbeddings } from "../eval/classifier.ts";
import { encodeArray, type EncodedArray, writeFileAtomic } from "../io/files.ts";
import { JsonFields } from "../io/json_fields.ts";
import { embed } from "../nn/embed.ts";
import type { LossKind } from "./config.ts";

export type { Classifier };

/** A model ready to embed and classify rows. */
export interface SavedModel {
  /** The embedding network, parameters as saved. */
  model: Mlp;
  /** The loss it was trained with. */
  loss: LossKind;
  /** Names of the classes predictions index into. */
  classNames: string[];
  /** The feature columns the model was trained on (null for the bundled MNIST). */
  featureNames: string[] | null;
  /** How raw rows were standardised for training (null: used as they are). */
  standardization: Standardization | null;
  /** How classes are assigned. */
  classifier: Classifier;
}

interface ModelFile {
  format: "magnet-model";
  version: 1;
  loss: LossKind;
  sizes: number[];
  parameters: Record<string, EncodedArray>;
  classNames: string[];
  featureNames: string[] | null;
  standardization: { mean: EncodedArray; scale: EncodedArray } | null;
  classifier:
    | {
      kind: "magnet";
      centres: EncodedArray;
      centreClasses: EncodedArray;
      variance: number;
      votingClusters: number;
    }
    | { kind: "knn"; references: EncodedArray; referenceLabels: EncodedArray; k: number };
}

/** Writes `saved` (with the parameters' current values on `backend`) to `path`, atomically. */
export async function saveModel(path: string, backend: Backend, saved: SavedModel): Promise<void> {
  const parameters: Record<string, EncodedArray> = {};
  for (const p of saved.model.parameters) {
    parameters[p.name] = encodeArray(Float32Array.from(await backend.readVariable(p)));
  }
  const c = saved.classifier;
  const file: ModelFile = {
    format: "magnet-model",
    version: 1,
    loss: saved.loss,
    sizes: [...saved.model.sizes],
    parameters,
    classNames: saved.classNames,
    featureNames: saved.featureNames,
    standardization: saved.standardization === null ? null : {
      mean: encodeArray(saved.standardization.mean),
      scale: encodeArray(saved.standardization.scale),
    },
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
  };
  await writeFileAtomic(path, JSON.stringify(file));
}

/** Reads a model written by {@link saveModel}; a bad file is a {@link MagnetInputError} naming it. */
export async function loadModel(path: string): Promise<SavedModel> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new MagnetInputError(`model file not found: ${path}`);
    }
    throw new MagnetInputError(`cannot read model file ${path}: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new MagnetInputError(`${path} is not a magnet model file (not JSON)`);
  }
  const file: JsonFields = new JsonFields(path, "", raw);
  if (
    raw === null || typeof raw !== "object" || file.get("format") !== "magnet-model" ||
    file.get("version") !== 1
  ) {
    throw new MagnetInputError(`${path} is not a magnet model file (format/version missing)`);
  }
  const loss = file.get("loss");
  if (!["magnet", "triplet", "softmax"].includes(loss as string)) {
    file.fail("loss", "magnet, triplet or softmax", loss);
  }
  const sizes = file.array("sizes");
  if (
    sizes.length < 2 || !sizes.every((s) => typeof s === "number" && Number.isInteger(s) && s > 0)
  ) {
    file.fail("sizes", "at least two positive integers (the layer widths)", sizes);
  }
  const widths = sizes as number[];
  const classNames = file.array("classNames");
  if (!classNames.every((c) => typeof c === "string")) {
    file.fail("classNames", "a list of strings", classNames);
  }
  const names = classNames as string[];
  const featureNames = file.get("featureNames");
  if (
    featureNames !== null &&
    !(Array.isArray(featureNames) && featureNames.length === widths[0] &&
      featureNames.every((f) => typeof f === "string"))
  ) {
    file.fail("featureNames", `null or ${widths[0]} column names`, featureNames);
  }
  const parameters: JsonFields = file.object("parameters");
  const weights: Variable[] = [];
  const biases: Variable[] = [];
  for (let i = 0; i + 1 < widths.length; i++) {
    const w = `mlp.${i}.weight`, b = `mlp.${i}.bias`;
    const weight = parameters.encoded(w, "float32");
    const bias = parameters.encoded(b, "float32");
    if (weight.length !== widths[i] * widths[i + 1] || bias.length !== widths[i + 1]) {
      parameters.fail(w, `${widths[i]} x ${widths[i + 1]} weights and ${widths[i + 1]} biases`, [
        weight.length,
        bias.length,
      ]);
    }
    weights.push(new Variable(w, [widths[i], widths[i + 1]], weight));
    biases.push(new Variable(b, [widths[i + 1]], bias));
  }
  const outDim = widths[widths.length - 1];
  const c: JsonFields = file.object("classifier");
  const kind = c.get("kind");
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
  } else if (kind === "knn") {
    classifier = {
      kind: "knn",
      references: points = c.encoded("references", "float32"),
      referenceLabels: classes = c.encoded("referenceLabels", "int32"),
      k: c.integer("k", 1),
    };
  } else {
    c.fail("kind", '"magnet" or "knn"', kind);
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
    mean = standardization.encoded("mean", "float32");
    scale = standardization.encoded("scale", "float32");
    if (mean.length !== widths[0] || scale.length !== widths[0]) {
      file.fail("standardization", `${widths[0]} means and scales`, [mean.length, scale.length]);
    }
  }
  return {
    model: new Mlp(widths, weights, biases),
    loss: loss as LossKind,
    classNames: names,
    featureNames: featureNames as string[] | null,
    standardization: mean === null ? null : { mean, scale: scale! },
    classifier,
  };
}

/** Embeddings and predicted classes of raw `features` rows (preprocessed as the training rows were). */
export async function classify(
  backend: Backend,
  saved: SavedModel,
  features: Float32Array,
): Promise<{ embeddings: Float32Array; predicted: Int32Array }> {
  const dim = saved.model.inputDim;
  if (features.length % dim !== 0) {
    throw new MagnetInputError(
      `rows have ${features.length} values, not a multiple of the model's ${dim} features`,
    );
  }
  const rows = saved.standardization === null
    ? features
    : standardize(features, dim, saved.standardization);
  const embeddings = await embed(backend, saved.model, rows);
  const predicted = await classifyEmbeddings(
    backend,
    saved.classifier,
    embeddings,
    saved.model.outputDim,
  );
  return { embeddings, predicted };
}
