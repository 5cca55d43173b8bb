/**
 * Rows for a trained model to embed, from a user's file of any kind it can read: a CSV table (the
 * model's feature columns and an optional label column), an IDX file of images (the format of
 * MNIST and Fashion-MNIST, gzipped or not, labelled by the labels file beside it when there is one),
 * or image files (a folder, searched through, or one file), made into rows as a model trained on
 * image files made its training images. What `embed`, `index` and `search` read, so a new kind of
 * input serves all three.
 */
import { MagnetInputError } from "../errors.ts";
import { readCsvRows, readIdx } from "./files.ts";
import { openInputFile } from "../io/input.ts";
import type { Features } from "./row_source.ts";
import type { ImageInput } from "./images/settings.ts";
import type { FolderProgress } from "./image_folders.ts";
import { IMAGE_EXTENSIONS } from "./images/folder.ts";

/** Rows read by {@link readRows}. */
export interface Rows {
  /**
   * `n x dim` feature values, row-major (pixels in [0, 1] for IDX images), or, for image files,
   * the source that makes them (8-bit pixels, normalised as the model's training images).
   */
  features: Features;
  /** Values per row. */
  dim: number;
  /** Each row's class name as the file gives it, or null when the file has no labels. */
  labels: string[] | null;
  /** Each row's id for the user (a file path, an id column), when the source has one. */
  ids?: readonly string[];
  /** Each row's number as messages name it (a CSV file's line, an image's 1-based position). */
  rows: Int32Array;
  /** Images: [height, width, channels] of each row. */
  imageShape?: readonly [number, number, number];
  /** The file's kind. */
  kind: "csv" | "idx" | "images";
  /** What reading found worth saying (image files skipped, decode time), one sentence each. */
  notes?: string[];
}

/** Options of {@link readRows}. */
export interface ReadRowsOptions {
  /** The CSV label column (default "label"); optional in the file. */
  labelColumn?: string;
  /** A CSV column of row ids, kept as the rows' `ids` (never a feature); optional in the file. */
  idColumn?: string | null;
  /** CSV columns that are neither features nor labels; those present are skipped. */
  ignoreColumns?: readonly string[];
  /** A CSV's feature columns, in the model's order (null: every column but the label's). */
  featureNames?: readonly string[] | null;
  /** The names of the class indices an IDX labels file holds (default: the indices). */
  classNames?: readonly string[];
  /** "csv" reads the file as CSV whatever it holds; "auto" (default) looks at its first bytes. */
  format?: "auto" | "csv";
  /** How image files become rows (a model's `images`), for a folder or an image file. */
  images?: {
    /** The model's image size, channels, resize mode and normalisation. */
    input: ImageInput;
    /** The decode cache's folder (null: none). */
    cache: string | null;
    /** Skip (and count) files that cannot be decoded rather than fail. */
    skipBadImages: boolean;
    /** Progress of the decoding. */
    onProgress?: (progress: FolderProgress) => void;
  };
}

/** Whether `path` names image files: a folder, or a file with an image's extension. */
export function isImagePath(path: string): boolean {
  try {
    if (Deno.statSync(path).isDirectory) return true;
  } catch {
    // not there: its name decides
  }
  return IMAGE_EXTENSIONS.some((ext) => path.toLowerCase().endsWith(ext));
}

/**
 * The first bytes of `path`, with a message naming it when it cannot be read as a file (a folder, a
 * FIFO, a link loop: named before it is opened, so nothing blocks; see io/input.ts).
 */
async function firstBytes(path: string): Promise<Uint8Array> {
  const file = await openInputFile(path, "a CSV file or an IDX file of images");
  try {
    const bytes = new Uint8Array(4);
    const n = await file.read(bytes);
    return bytes.subarray(0, n ?? 0);
  } finally {
    file.close();
  }
}

/** Whether bytes start an IDX file, plain (two zero bytes) or gzipped. */
function looksLikeIdx(bytes: Uint8Array): boolean {
  return (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) ||
    (bytes.length >= 3 && bytes[0] === 0 && bytes[1] === 0);
}

/** Reads the rows of `path`: a CSV file, or an IDX file of images (see the module's doc). */
export async function readRows(path: string, options: ReadRowsOptions = {}): Promise<Rows> {
  if (options.format !== "csv" && isImagePath(path)) {
    if (options.images === undefined) {
      const what = IMAGE_EXTENSIONS.some((e) => path.toLowerCase().endsWith(e))
        ? "an image file"
        : "a folder";
      throw new MagnetInputError(
        `${path} is ${what}: give a CSV file or an IDX file (image files are read for a model ` +
          "trained on image files)",
      );
    }
    // Imported on demand: reading tables never loads the image code.
    const { loadImagesToEmbed } = await import("./image_folders.ts");
    const { input, ...rest } = options.images;
    const loaded = await loadImagesToEmbed(path, input, { ...rest });
    const n = loaded.ids.length;
    return {
      features: loaded.rows,
      dim: loaded.rows.dim,
      labels: null,
      ids: loaded.ids,
      rows: Int32Array.from({ length: n }, (_, i) => i + 1),
      imageShape: loaded.rows.shape,
      kind: "images",
      notes: loaded.notes,
    };
  }
  const bytes = await firstBytes(path);
  if (options.format !== "csv" && looksLikeIdx(bytes)) return await readIdxRows(path, options);
  const csv = await readCsvRows(path, {
    labelColumn: options.labelColumn,
    idColumn: options.idColumn,
    ignoreColumns: options.ignoreColumns,
    ...(options.featureNames != null ? { featureNames: options.featureNames } : {}),
  });
  const rows: Rows = {
    features: csv.features,
    dim: csv.dim,
    labels: csv.labels,
    rows: csv.lines,
    kind: "csv",
  };
  if (csv.ids !== null) rows.ids = csv.ids;
  return rows;
}

/** The labels file beside an images file, by MNIST's naming (`*-images-idx3-*` -> `*-labels-idx1-*`). */
function labelsFileOf(path: string): string | null {
  const slash = path.lastIndexOf("/") + 1;
  const name = path.slice(slash);
  if (!name.includes("images-idx3")) return null;
  const base = path.slice(0, slash) + name.replace("images-idx3", "labels-idx1");
  for (const candidate of [base, base.endsWith(".gz") ? base.slice(0, -3) : `${base}.gz`]) {
    try {
      // Whatever is there is taken, for readIdx to name should it not be a file.
      Deno.lstatSync(candidate);
      return candidate;
    } catch {
      // not there: try the other spelling
    }
  }
  return null;
}

async function readIdxRows(path: string, options: ReadRowsOptions): Promise<Rows> {
  const images = await readIdx(path);
  if (images.shape.length !== 3 && images.shape.length !== 4) {
    throw new MagnetInputError(
      `${path}: IDX images have 3 dimensions [n, height, width] (or 4, with channels), found ` +
        `[${images.shape}]`,
    );
  }
  const [n, height, width, channels = 1] = images.shape;
  const dim = height * width * channels;
  if (dim === 0) {
    throw new MagnetInputError(`${path} holds no pixels: its dimensions are [${images.shape}]`);
  }
  const features = new Float32Array(images.data.length);
  for (let i = 0; i < features.length; i++) features[i] = images.data[i] / 255;
  let labels: string[] | null = null;
  const labelsPath = labelsFileOf(path);
  if (labelsPath !== null) {
    const found = await readIdx(labelsPath);
    if (found.shape.length !== 1 || found.shape[0] !== n) {
      throw new MagnetInputError(
        `${labelsPath}: labels of dimensions [${found.shape}] for the ${n} images of ${path}; ` +
          `expected [${n}]`,
      );
    }
    labels = Array.from(found.data, (k) => options.classNames?.[k] ?? String(k));
  }
  return {
    features,
    dim,
    labels,
    rows: Int32Array.from({ length: n }, (_, i) => i + 1),
    imageShape: [height, width, channels],
    kind: "idx",
  };
}
