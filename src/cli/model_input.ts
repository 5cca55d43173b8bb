/**
 * What the commands that use a saved model (`embed`, `index`, `search`) share: the `--model` flag
 * (a run folder or its model.json) and the rows it is given, read by one loader and checked against
 * the model's input, so every kind of input the loader knows serves all three.
 */
import { MagnetInputError } from "../errors.ts";
import { MNIST_DIM } from "../data/mnist.ts";
import { isImagePath, readRows, type ReadRowsOptions, type Rows } from "../data/rows.ts";
import { defaultCacheDir } from "../data/images/cache.ts";
import type { FolderProgress } from "../data/image_folders.ts";
import { loadModel } from "../train/model_file.ts";
import type { SavedModel } from "../train/saved_model.ts";
import { absolutePath } from "./run_folder.ts";
import type { FlagFacts, FlagSpec, FlagValues } from "./flags.ts";

/** The model named by `--model`: a run folder holding model.json, or the file itself. */
export async function loadModelFlag(arg: string): Promise<SavedModel> {
  const modelFile = absolutePath(arg);
  return await loadModel(modelFile.endsWith(".json") ? modelFile : `${modelFile}/model.json`);
}

/**
 * The flags of image input, shared by the commands that read rows for a model: they apply only
 * when the rows are image files (the `input` fact, see {@link inputFacts}).
 */
export const IMAGE_INPUT_FLAGS = {
  "cache": {
    kind: "string",
    default: "~/.cache/magnet/images",
    help: "images: folder of the decode cache",
    needs: { input: ["images"] },
    why: "is where decoded images are kept",
  },
  "skip-bad-images": {
    kind: "flag",
    help: "images: skip (and count) files that cannot be decoded instead of stopping",
    needs: { input: ["images"] },
    why: "is about image files",
  },
} as const satisfies Readonly<Record<string, FlagSpec>>;

/**
 * What the rows a command reads are, for the flags whose rules need it (`needs: { input: ... }`):
 * `"images"` when `flag`'s value names image files (a folder, or a file with an image's
 * extension), else `"rows"` (a CSV or IDX file); `csvFlag`, when given, always names a CSV file.
 */
export function inputFacts(flag: string, csvFlag?: string): (values: FlagValues) => FlagFacts {
  return (values) => {
    const csv = csvFlag !== undefined && values[csvFlag] !== undefined;
    const path = values[flag];
    const images = !csv && typeof path === "string" && isImagePath(absolutePath(path));
    return {
      input: {
        value: images ? "images" : "rows",
        words: {
          images: `--${flag} a folder of images or an image file`,
          rows: csv ? `--${csvFlag} a CSV file` : `--${flag} a CSV or IDX file`,
        },
      },
    };
  };
}

/** How image files are read, from the values of {@link IMAGE_INPUT_FLAGS}. */
export interface ImageInputOptions {
  /** `--cache` as given (default: the user's cache folder). */
  cache?: string;
  /** `--skip-bad-images`. */
  skipBadImages?: boolean;
  /** Progress of decoding. */
  onProgress?: (progress: FolderProgress) => void;
}

/**
 * The rows of `path` (absolute) for `saved` to embed: a CSV file read by the model's feature
 * columns (its label, id and ignored columns those of the model's training file unless `options`
 * says: the id column kept as the rows' ids, the ignored ones skipped), images of the model's size
 * (an IDX file), or image files for a model trained on image files; anything else is a
 * {@link MagnetInputError} naming the file and what the model expects.
 */
export async function readRowsFor(
  saved: SavedModel,
  path: string,
  options:
    & Pick<ReadRowsOptions, "labelColumn" | "format" | "idColumn" | "ignoreColumns">
    & ImageInputOptions = {},
): Promise<Rows> {
  const { cache, skipBadImages, onProgress, ...rest } = options;
  const images = rest.format !== "csv" && isImagePath(path);
  if (images && !saved.images) {
    throw new MagnetInputError(
      `the model was not trained on image files (its inputs are rows of ${saved.model.inputDim} ` +
        `values, from a CSV or IDX file): give a CSV file of its columns, not ${path}`,
    );
  }
  if (!images && saved.images) {
    throw new MagnetInputError(
      `the model was trained on image files: give a folder of images or an image file, not ${path}`,
    );
  }
  const rows = await readRows(path, {
    ...rest,
    labelColumn: rest.labelColumn ?? saved.columns?.label ?? "label",
    idColumn: rest.idColumn !== undefined ? rest.idColumn : saved.columns?.id ?? null,
    ignoreColumns: rest.ignoreColumns ?? saved.columns?.ignored ?? [],
    featureNames: saved.featureNames,
    classNames: saved.classNames,
    ...(saved.images
      ? {
        images: {
          input: saved.images,
          cache: absolutePath(cache ?? defaultCacheDir()),
          skipBadImages: skipBadImages ?? false,
          onProgress,
        },
      }
      : {}),
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
