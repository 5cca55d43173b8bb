/**
 * Where a run's data comes from: the bundled MNIST (split 80/20), Fashion-MNIST (its
 * official split, from a folder of IDX files), the user's CSV files (a test file, or a stratified
 * split), standardised with the training statistics, or the user's folders of images (one
 * subfolder per class; a test folder, or a stratified split), normalised per channel with the
 * training statistics; and the validation rows that choose the model (a stratified share of the
 * training rows, or a CSV file), never the test rows. The description is saved in checkpoints so
 * `--resume` reloads exactly the same data.
 */
import { MagnetInputError } from "../errors.ts";
import { type Dataset, type Features, subset, validateDataset } from "./dataset.ts";
import { canonicalNumber } from "./csv.ts";
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
  /** Share of each class of the training rows held out for validation (absent: none). */
  valFraction?: number;
}

/** Fashion-MNIST's IDX files, with their official split. */
export interface FashionMnistSource {
  kind: "fashion-mnist";
  /** The folder of the four files (absolute). */
  dir: string;
  /** Share of each class of the training rows held out for validation (absent: none), seed 0. */
  valFraction?: number;
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
  /** The validation file (absolute); null: hold out `valFraction` of the training rows. */
  val: string | null;
  /** Share of each class of the training rows held out for validation (0: none). */
  valFraction: number;
  /** The column of row ids (never a feature), or null. */
  idColumn: string | null;
  /** Columns that are neither features nor labels. */
  ignoreColumns: string[];
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
  /** Share of each class of the training images held out for validation (absent: none). */
  valFraction?: number;
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
  // Files written before validation splits, ids and ignored columns existed have none.
  const absent = (name: string) => fields.get(name) === undefined;
  const valFraction = () => {
    if (absent("valFraction")) return 0;
    const value = fields.number("valFraction");
    if (!(value >= 0 && value < 1)) fields.fail("valFraction", "a number in [0, 1)", value);
    return value;
  };
  // The built-in sets record a validation share only when they held one out.
  const held = () => absent("valFraction") ? {} : { valFraction: valFraction() };
  switch (kind) {
    case "mnist":
      return { kind, ...split(), ...held() };
    case "fashion-mnist":
      return { kind, dir: fields.string("dir", true), ...held() };
    case "csv": {
      const ignoreColumns = absent("ignoreColumns") ? [] : fields.array("ignoreColumns");
      if (!ignoreColumns.every((c) => typeof c === "string" && c !== "")) {
        fields.fail("ignoreColumns", "a list of column names", ignoreColumns);
      }
      return {
        kind,
        train: fields.string("train", true),
        test: fields.nullableString("test"),
        labelColumn: fields.string("labelColumn", true),
        ...split(),
        val: absent("val") ? null : fields.nullableString("val"),
        valFraction: valFraction(),
        idColumn: absent("idColumn") ? null : fields.nullableString("idColumn"),
        ignoreColumns: ignoreColumns as string[],
      };
    }
    case "images": {
      const size = fields.nullableObject("size");
      const resize: ResizeMode = fields.oneOf("resize", RESIZE_MODES);
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
        ...held(),
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
  /** The rows that choose the model (the best evaluation, early stopping), or null. */
  validation: Dataset<Features> | null;
  /** The rows of the final report only. */
  test: Dataset<Features>;
  /** The standardisation applied to all tables (null for images). */
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
    validation: data.validation === null ? null : plain(data.validation),
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
  // the whole data set is needed. A run without validation rows hashes as it did before them.
  const parts: Promise<Uint8Array>[] = [];
  for (const d of [data.train, data.test, ...(data.validation ? [data.validation] : [])]) {
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
  const files = [source.train, source.test, source.kind === "csv" ? source.val : null]
    .filter((f) => f !== null);
  return files.length === 3 ? `${files[0]}, ${files[1]} and ${files[2]}` : files.join(" and ");
}

/** The seed of the validation split: apart from the test split's, yet given by the same seed. */
function valSeed(splitSeed: number): number {
  return (Math.imul(splitSeed ^ 0x5bd1e995, 0x27d4eb2d) ^ 0x165667b1) >>> 0;
}

/**
 * Holds out `fraction` of each class of `train` for validation (none when 0); every class keeps at
 * least two training rows.
 */
function holdOut<R extends Features>(
  train: Dataset<R>,
  fraction: number,
  splitSeed: number,
): { train: Dataset<R>; validation: Dataset<R> | null } {
  if (fraction === 0) return { train, validation: null };
  const split = stratifiedSplit(train.labels, fraction, valSeed(splitSeed), { keep: 2 });
  if (split.test.length === 0) return { train, validation: null };
  return { train: subset(train, split.train), validation: subset(train, split.test) };
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
      ...holdOut(subset(all, split.train), source.valFraction ?? 0, source.splitSeed),
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
      ...holdOut(train, source.valFraction ?? 0, 0),
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
      ...holdOut(loaded.train, source.valFraction ?? 0, source.splitSeed),
      standardization: null,
    };
  }
  const trainPath = source.train;
  const full = await readCsvDataset(trainPath, {
    labelColumn: source.labelColumn,
    idColumn: source.idColumn,
    ignoreColumns: source.ignoreColumns,
  });
  let train: Dataset, test: Dataset, validation: Dataset | null;
  if (source.test !== null) {
    train = full;
    test = await readHeldOutCsv(source.test, full, source);
  } else {
    const split = stratifiedSplit(full.labels, source.testFraction, source.splitSeed);
    train = subset(full, split.train);
    test = subset(full, split.test);
  }
  if (source.val !== null) validation = await readHeldOutCsv(source.val, full, source);
  else ({ train, validation } = holdOut(train, source.valFraction, source.splitSeed));
  const part = source.test === null || validation !== null && source.val === null;
  validateDataset(train, part ? `${trainPath} (training part)` : trainPath);
  const standardization = fitStandardization(train.features, train.dim);
  const scaled = (d: Dataset) => ({
    ...d,
    features: standardize(d.features, d.dim, standardization),
  });
  return {
    source,
    name: trainPath.split(/[\\/]/).pop()!,
    train: scaled(train),
    validation: validation === null ? null : scaled(validation),
    test: scaled(test),
    standardization,
  };
}

/** A test or validation CSV read against the training set's columns and classes. */
async function readHeldOutCsv(path: string, train: Dataset, source: CsvSource): Promise<Dataset> {
  const labelColumn = source.labelColumn;
  const rows = await readCsvRows(path, {
    labelColumn,
    requireLabel: true,
    featureNames: train.featureNames,
    idColumn: source.idColumn,
    ignoreColumns: source.ignoreColumns,
  });
  const classIndex = new Map(train.classNames.map((name, i) => [name, i]));
  // Numeric classes compare as numbers: a test label "1.0" is the training class "1".
  const numeric = train.classNames.every((name) => canonicalNumber(name) === name);
  const labels = new Int32Array(rows.labels!.length);
  rows.labels!.forEach((label, i) => {
    const name = numeric ? canonicalNumber(label) ?? label : label;
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
  const held: Dataset = {
    features: rows.features,
    dim: rows.dim,
    labels,
    classNames: train.classNames,
    featureNames: rows.featureNames,
    sourceRows: rows.lines,
  };
  if (rows.ids !== null) held.ids = rows.ids;
  return held;
}
