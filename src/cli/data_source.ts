/**
 * Where the command line's data comes from: the bundled MNIST (split 80/20), or the user's CSV files
 * (a test file, or a stratified split), standardised with the training statistics. The description
 * is saved in checkpoints so `--resume` reloads exactly the same data.
 */
import { MagnetInputError } from "../errors.ts";
import { type Dataset, subset, validateDataset } from "../data/dataset.ts";
import { readCsvDataset, readCsvRows } from "../data/csv.ts";
import { stratifiedSplit } from "../data/split.ts";
import { fitStandardization, type Standardization, standardize } from "../data/preprocess.ts";

/** How to load the data again. */
export interface DataSource {
  kind: "mnist" | "csv";
  train: string | null;
  test: string | null;
  testFraction: number;
  labelColumn: string;
  splitSeed: number;
}

/** The data of a run. */
export interface LoadedData {
  source: DataSource;
  /** A name for titles: "MNIST" or the training file's name. */
  name: string;
  train: Dataset;
  test: Dataset;
  /** The standardisation applied to both (null for MNIST, whose pixels are already in [0, 1]). */
  standardization: Standardization | null;
}

/** Loads and checks the data described by `source`. */
export async function loadData(source: DataSource): Promise<LoadedData> {
  if (source.kind === "mnist") {
    // Imported on demand: the bundled digits take a moment to parse, and CSV runs never need them.
    const { loadMnist } = await import("../data/mnist.ts");
    const all = loadMnist();
    const split = stratifiedSplit(all.labels, source.testFraction, source.splitSeed);
    return {
      source,
      name: "MNIST",
      train: subset(all, split.train),
      test: subset(all, split.test),
      standardization: null,
    };
  }
  const trainPath = source.train!;
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
  };
}
