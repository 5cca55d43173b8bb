/**
 * Where a run's data comes from: the bundled MNIST (split 80/20), Fashion-MNIST (its
 * official split, from a folder of IDX files), the user's CSV files (a test file, or a stratified
 * split), standardised with the training statistics, or the user's folders of images (one
 * subfolder per class; a test folder, or a stratified split), normalised per channel with the
 * training statistics. The description is saved in checkpoints so `--resume` reloads exactly the
 * same data.
 */
import { MagnetInputError } from "../errors.ts";
import { type Dataset, type Features, subset, validateDataset } from "./dataset.ts";
import { readCsvDataset, readCsvRows } from "./files.ts";
import { stratifiedSplit } from "./split.ts";
import { fitStandardization, type Standardization, standardize } from "./preprocess.ts";
import { rowSource } from "./row_source.ts";
import type { JsonFields } from "../io/json_fields.ts";
import {
  type ImageInput,
  type ImageSize,
  RESIZE_MODES,
  type ResizeMode,
} from "./images/settings.ts";
import type { DecodeProgress } from "./images/decode.ts";

/**
 * How to load the data again, with only what applies to its kind (a Fashion-MNIST run records no
 * split it never made).
 */
export type DataSource = MnistSource | FashionMnistSource | CsvSource | ImageFolderSource;

/** The bundled MNIST, split into train and test. */
export interface MnistSource {
  kind: "mnist";
  /** Share of each class held out for testing. */
  testFraction: number;
  splitSeed: number;
}

/** Fashion-MNIST's IDX files, with their official split. */
export interface FashionMnistSource {
  kind: "fashion-mnist";
  /** The folder of the four files (absolute). */
  dir: string;
}

/** The user's CSV files: a test file, or a stratified split of the training file. */
export interface CsvSource {
  kind: "csv";
  /** The training file (absolute). */
  train: string;
  /** The test file (absolute); null: split `train` with `testFraction` and `splitSeed`. */
  test: string | null;
  testFraction: number;
  labelColumn: string;
  splitSeed: number;
}

/**
 * The user's folders of images, one subfolder per class: a test folder, or a stratified split of
 * the training folder; with how the files become rows.
 */
export interface ImageFolderSource {
  /** Which kind of source this is. */
  kind: "images";
  /** The training folder (absolute). */
  train: string;
  /** The test folder (absolute); null: split `train` with `testFraction` and `splitSeed`. */
  test: string | null;
  /** Share of each class held out for testing, when there is no test folder. */
  testFraction: number;
  /** Seed of that split. */
  splitSeed: number;
  /** The size images are brought to; null: the training images' common size. */
  size: ImageSize | null;
  /** How images are brought to the size. */
  resize: ResizeMode;
  /** 1 or 3; null: 3 when any training file is stored in colour. */
  channels: 1 | 3 | null;
  /** The decode cache's folder (absolute); null: no cache. */
  cache: string | null;
  /** Whether images that cannot be decoded are skipped (and counted) rather than an error. */
  skipBadImages: boolean;
}

/** The kinds of data source. */
export const DATA_SOURCE_KINDS = ["mnist", "fashion-mnist", "csv", "images"] as const;

/** Which data a run uses. */
export type DataSourceKind = typeof DATA_SOURCE_KINDS[number];

/**
 * A saved source (in a checkpoint or results.json) read field by field, allowing only `kinds`;
 * fields that its kind does not use (older files kept them all) are ignored.
 */
export function readDataSource(
  fields: JsonFields,
  kinds: readonly DataSourceKind[] = DATA_SOURCE_KINDS,
): DataSource {
  const kind = fields.get("kind") as DataSourceKind;
  if (!kinds.includes(kind)) fields.fail("kind", kinds.join(" or "), kind);
  const split = () => {
    const testFraction = fields.number("testFraction");
    if (!(testFraction > 0 && testFraction < 1)) {
      fields.fail("testFraction", "a number between 0 and 1", testFraction);
    }
    return { testFraction, splitSeed: fields.integer("splitSeed", 0, 0xffffffff) };
  };
  switch (kind) {
    case "mnist":
      return { kind, ...split() };
    case "fashion-mnist":
      return { kind, dir: fields.string("dir", true) };
    case "csv":
      return {
        kind,
        train: fields.string("train", true),
        test: fields.nullableString("test"),
        labelColumn: fields.string("labelColumn", true),
        ...split(),
      };
    case "images": {
      const size = fields.nullableObject("size");
      const resize = fields.get("resize") as ResizeMode;
      if (!RESIZE_MODES.includes(resize)) fields.fail("resize", RESIZE_MODES.join(" or "), resize);
      const channels = fields.get("channels");
      if (channels !== null && channels !== 1 && channels !== 3) {
        fields.fail("channels", "1, 3 or null", channels);
      }
      const skip = fields.get("skipBadImages");
      if (typeof skip !== "boolean") fields.fail("skipBadImages", "true or false", skip);
      return {
        kind,
        train: fields.string("train", true),
        test: fields.nullableString("test"),
        ...split(),
        size: size === null
          ? null
          : { width: size.integer("width", 1), height: size.integer("height", 1) },
        resize,
        channels,
        cache: fields.nullableString("cache"),
        skipBadImages: skip,
      };
    }
  }
}

/** The data of a run. */
export interface LoadedData {
  source: DataSource;
  /** A name for titles: "MNIST", "Fashion-MNIST", the training file's or folder's name. */
  name: string;
  train: Dataset<Features>;
  test: Dataset<Features>;
  /** The standardisation applied to both tables (null for images). */
  standardization: Standardization | null;
  /** How image files became rows, normalisation included (absent or null for other data). */
  images?: ImageInput | null;
  /** What loading found worth saying (files skipped, decode times), one sentence each. */
  notes?: string[];
}

/**
 * `data` with its images as pixels in [0, 1], without the training images' per-channel
 * normalisation: for a network that standardises its input itself (a pretrained backbone, with
 * the statistics it was trained with). Other data is returned as it is.
 */
export async function asPixels(data: LoadedData): Promise<LoadedData> {
  const images = data.images;
  if (images === undefined || images === null) return data;
  const { identityNormalization, ImageRows } = await import("./images/image_rows.ts");
  const identity = identityNormalization(images.channels);
  const plain = (d: Dataset<Features>): Dataset<Features> => {
    if (!(d.features instanceof ImageRows)) return d;
    return { ...d, features: d.features.withNormalization(identity) };
  };
  return {
    ...data,
    train: plain(data.train),
    test: plain(data.test),
    images: { ...images, mean: identity.mean, std: identity.std },
  };
}

/** Options of {@link loadData}. */
export interface LoadOptions {
  /** Progress of decoding image folders (`folder` is the one being decoded). */
  onProgress?: (progress: DecodeProgress & { folder: string }) => void;
}

/**
 * A SHA-256 of the rows a run trains and tests on (features, labels and class names, after any
 * split and standardisation), as hex: a resumed run checks it to be sure it sees the same data.
 */
export async function fingerprint(data: LoadedData): Promise<string> {
  const sha256 = async (bytes: BufferSource) =>
    new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  // One digest per part (a table's rows: its values' bytes), then a digest of those: no copy of
  // the whole data set is needed.
  const parts: Promise<Uint8Array>[] = [];
  for (const d of [data.train, data.test]) {
    parts.push(
      rowSource(d.features, d.dim).digest(),
      sha256(d.labels as Int32Array<ArrayBuffer>),
      sha256(new TextEncoder().encode(JSON.stringify([d.dim, d.classNames]))),
    );
  }
  const digests = await Promise.all(parts);
  const all = new Uint8Array(digests.length * 32);
  digests.forEach((d, i) => all.set(new Uint8Array(d), i * 32));
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A short description of the files behind `source`, for messages. */
export function describeSource(source: DataSource): string {
  if (source.kind === "mnist") return "the bundled MNIST";
  if (source.kind === "fashion-mnist") return `Fashion-MNIST in ${source.dir}`;
  return `${source.train}${source.test ? ` and ${source.test}` : ""}`;
}

/** Loads and checks the data described by `source`. */
export async function loadData(source: DataSource, options: LoadOptions = {}): Promise<LoadedData> {
  if (source.kind === "mnist") {
    // Imported on demand: the bundled digits take a moment to parse, and CSV runs never need them.
    const { loadMnist } = await import("./mnist.ts");
    const all = await loadMnist();
    const split = stratifiedSplit(all.labels, source.testFraction, source.splitSeed);
    return {
      source,
      name: "MNIST",
      train: subset(all, split.train),
      test: subset(all, split.test),
      standardization: null,
    };
  }
  if (source.kind === "fashion-mnist") {
    const { loadFashionMnist } = await import("./fashion_mnist.ts");
    const { train, test } = await loadFashionMnist(source.dir);
    return {
      source,
      name: "Fashion-MNIST",
      train,
      test,
      standardization: null,
    };
  }
  if (source.kind === "images") {
    // Imported on demand: table and MNIST runs never load the image code or its decoder.
    const { loadImageFolders } = await import("./image_folders.ts");
    const loaded = await loadImageFolders(source, options.onProgress);
    return {
      source,
      name: source.train.replace(/\/+$/, "").split("/").pop()!,
      ...loaded,
      standardization: null,
    };
  }
  const trainPath = source.train;
  const full = await readCsvDataset(trainPath, { labelColumn: source.labelColumn });
  let train: Dataset, test: Dataset;
  if (source.test !== null) {
    train = full;
    test = await readTestCsv(source.test, full, source.labelColumn);
  } else {
    const split = stratifiedSplit(full.labels, source.testFraction, source.splitSeed);
    train = subset(full, split.train);
    test = subset(full, split.test);
  }
  validateDataset(train, source.test === null ? `${trainPath} (training part)` : trainPath);
  const standardization = fitStandardization(train.features, train.dim);
  return {
    source,
    name: trainPath.split(/[\\/]/).pop()!,
    train: { ...train, features: standardize(train.features, train.dim, standardization) },
    test: { ...test, features: standardize(test.features, test.dim, standardization) },
    standardization,
  };
}

/** A test CSV read against the training set's columns and classes. */
async function readTestCsv(path: string, train: Dataset, labelColumn: string): Promise<Dataset> {
  const rows = await readCsvRows(path, {
    labelColumn,
    requireLabel: true,
    featureNames: train.featureNames,
  });
  const classIndex = new Map(train.classNames.map((name, i) => [name, i]));
  const labels = new Int32Array(rows.labels!.length);
  rows.labels!.forEach((name, i) => {
    const c = classIndex.get(name);
    if (c === undefined) {
      throw new MagnetInputError(
        `${path}: row ${
          rows.lines[i]
        }, column "${labelColumn}": class "${name}" does not occur in ` +
          "the training data",
      );
    }
    labels[i] = c;
  });
  return {
    features: rows.features,
    dim: rows.dim,
    labels,
    classNames: train.classNames,
    featureNames: rows.featureNames,
    sourceRows: rows.lines,
  };
}
