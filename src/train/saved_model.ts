/**
 * A trained model on disk: the network's parameters, how to preprocess rows, and how to classify
 * (the magnet rule over the final cluster index, or k-NN against stored training embeddings for the
 * baselines). Saved as one JSON file, written atomically.
 */
import { MagnetInputError } from "../errors.ts";
import type { Backend } from "../backend/backend.ts";
import { type Standardization, standardize } from "../data/preprocess.ts";
import { Variable } from "../graph/tensor.ts";
import { ClusterIndex } from "../index/cluster_index.ts";
import { Mlp } from "../nn/mlp.ts";
import { magnetClassify } from "../eval/magnet_rule.ts";
import { nearestNeighbours } from "../eval/neighbours.ts";
import { knnClassify } from "../eval/knn.ts";
import { decodeArray, encodeArray, type EncodedArray, writeFileAtomic } from "../io/files.ts";
import { embed } from "./embed.ts";
import type { LossKind } from "./config.ts";

/** How a saved model assigns classes. */
export type Classifier =
  | {
    kind: "magnet";
    /** Cluster centres (n x embedding dim) and their classes. */
    centres: Float32Array;
    centreClasses: Int32Array;
    /** The running mean of the training batches' variance. */
    variance: number;
    /** L. */
    votingClusters: number;
  }
  | {
    kind: "knn";
    /** Training embeddings and their classes. */
    references: Float32Array;
    referenceLabels: Int32Array;
    k: number;
  };

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
  let file: ModelFile;
  try {
    file = JSON.parse(text);
  } catch {
    throw new MagnetInputError(`${path} is not a magnet model file (not JSON)`);
  }
  if (file?.format !== "magnet-model" || file.version !== 1) {
    throw new MagnetInputError(`${path} is not a magnet model file (format/version missing)`);
  }
  const what = (name: string) => `${path}: ${name}`;
  const sizes = file.sizes;
  const weights: Variable[] = [];
  const biases: Variable[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    const w = `mlp.${i}.weight`, b = `mlp.${i}.bias`;
    weights.push(
      new Variable(
        w,
        [sizes[i], sizes[i + 1]],
        decodeArray(file.parameters[w], "float32", what(w)),
      ),
    );
    biases.push(
      new Variable(b, [sizes[i + 1]], decodeArray(file.parameters[b], "float32", what(b))),
    );
  }
  const c = file.classifier;
  const classifier: Classifier = c.kind === "magnet"
    ? {
      kind: "magnet",
      centres: decodeArray(c.centres, "float32", what("centres")),
      centreClasses: decodeArray(c.centreClasses, "int32", what("centre classes")),
      variance: c.variance,
      votingClusters: c.votingClusters,
    }
    : {
      kind: "knn",
      references: decodeArray(c.references, "float32", what("references")),
      referenceLabels: decodeArray(c.referenceLabels, "int32", what("reference labels")),
      k: c.k,
    };
  return {
    model: new Mlp(sizes, weights, biases),
    loss: file.loss,
    classNames: file.classNames,
    featureNames: file.featureNames,
    standardization: file.standardization === null ? null : {
      mean: decodeArray(file.standardization.mean, "float32", what("standardization mean")),
      scale: decodeArray(file.standardization.scale, "float32", what("standardization scale")),
    },
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
  const outDim = saved.model.outputDim;
  const c = saved.classifier;
  let predicted: Int32Array;
  if (c.kind === "magnet") {
    const index = new ClusterIndex(outDim, c.centres, c.centreClasses, new Int32Array(0), []);
    predicted = await magnetClassify(backend, embeddings, index, c.variance, c.votingClusters);
  } else {
    const k = Math.min(c.k, c.referenceLabels.length);
    const neighbours = await nearestNeighbours(backend, embeddings, c.references, outDim, k);
    predicted = knnClassify(neighbours, c.referenceLabels, k);
  }
  return { embeddings, predicted };
}
