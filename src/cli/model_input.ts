/**
 * What the commands that use a saved model (`embed`, `index`, `search`) share: the `--model` flag
 * (a run folder or its model.json) and the rows it is given, read by one loader and checked against
 * the model's input, so every kind of input the loader knows serves all three.
 */
import { MagnetInputError } from "../errors.ts";
import { MNIST_DIM } from "../data/mnist.ts";
import { readRows, type ReadRowsOptions, type Rows } from "../data/rows.ts";
import { loadModel } from "../train/model_file.ts";
import type { SavedModel } from "../train/saved_model.ts";
import { absolutePath } from "./run_folder.ts";

/** The model named by `--model`: a run folder holding model.json, or the file itself. */
export async function loadModelFlag(arg: string): Promise<SavedModel> {
  const modelFile = absolutePath(arg);
  return await loadModel(modelFile.endsWith(".json") ? modelFile : `${modelFile}/model.json`);
}

/**
 * The rows of `path` (absolute) for `saved` to embed: a CSV file read by the model's feature
 * columns (its label, id and ignored columns those of the model's training file unless `options`
 * says: the id column kept as the rows' ids, the ignored ones skipped), or images of the model's
 * size; anything else is a {@link MagnetInputError} naming the file and what the model expects.
 */
export async function readRowsFor(
  saved: SavedModel,
  path: string,
  options: Pick<ReadRowsOptions, "labelColumn" | "format" | "idColumn" | "ignoreColumns"> = {},
): Promise<Rows> {
  const rows = await readRows(path, {
    ...options,
    labelColumn: options.labelColumn ?? saved.columns?.label ?? "label",
    idColumn: options.idColumn !== undefined ? options.idColumn : saved.columns?.id ?? null,
    ignoreColumns: options.ignoreColumns ?? saved.columns?.ignored ?? [],
    featureNames: saved.featureNames,
    classNames: saved.classNames,
  });
  const expected = saved.model.inputDim;
  const spec = saved.model.spec;
  const size = spec.kind === "cnn" ? ` (${spec.input.join("x")} images)` : "";
  if (rows.imageShape !== undefined) {
    const shape = rows.imageShape.join("x");
    if (rows.dim !== expected || (spec.kind === "cnn" && shape !== spec.input.join("x"))) {
      throw new MagnetInputError(
        `${path}: images of ${shape} (${rows.dim} values), the model expects ${expected}${size}`,
      );
    }
  } else if (rows.dim !== expected) {
    throw new MagnetInputError(
      `${path}: rows have ${rows.dim} feature columns, the model expects ${expected}` +
        (saved.featureNames === null && expected === MNIST_DIM ? " (MNIST pixels)" : size),
    );
  }
  return rows;
}
