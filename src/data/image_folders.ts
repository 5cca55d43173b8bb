/**
 * Folders of images as data sets: the training folder (one subfolder per class) and a test folder
 * of the same classes, or a stratified split of the training folder; decoded once (images/), held
 * as 8-bit pixels and normalised per channel with the training images' mean and standard
 * deviation. Also the images `embed` is given: a folder (searched through) or one file, made into
 * rows exactly as a saved model's training images were.
 */
import { MagnetInputError } from "../errors.ts";
import type { Dataset } from "./dataset.ts";
import { subset } from "./dataset.ts";
import { stratifiedSplit } from "./split.ts";
import { type DecodedImages, decodeImages, type DecodeProgress } from "./images/decode.ts";
import { scanClassFolders, scanImages, type ScannedImages } from "./images/folder.ts";
import {
  fitNormalization,
  identityNormalization,
  ImageRows,
  type Normalization,
} from "./images/image_rows.ts";
import { describeFormat, type ImageInput, type ImageOptions } from "./images/settings.ts";
import type { ImageFolderSource } from "./source.ts";

/** Progress of a decode, with the folder it is of. */
export interface FolderProgress extends DecodeProgress {
  /** The folder being decoded. */
  readonly folder: string;
}

/** Training and test images, how they became rows, and what loading found worth saying. */
export interface LoadedImageFolders {
  /** The training images (normalised with their own per-channel statistics). */
  train: Dataset<ImageRows>;
  /** The test images, normalised as the training images. */
  test: Dataset<ImageRows>;
  /** How files became rows: the format and the normalisation (what a saved model keeps). */
  images: ImageInput;
  /** Sentences about the loading (files skipped, decode time, cache). */
  notes: string[];
}

function plural(n: number, word: string): string {
  return `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;
}

/** Sentences about a decode: files skipped, images that could not be decoded, time and cache. */
function notesOf(
  scan: ScannedImages,
  decoded: DecodedImages,
  seconds: number,
): string[] {
  const notes: string[] = [];
  const { skipped } = scan;
  if (skipped.count > 0) {
    notes.push(
      `${scan.root}: skipped ${plural(skipped.count, "file")} that ${
        skipped.count === 1 ? "is not an image" : "are not images"
      } (${skipped.examples.join(", ")}${skipped.count > skipped.examples.length ? ", ..." : ""})`,
    );
  }
  if (decoded.bad.length > 0) {
    const shown = decoded.bad.slice(0, 3).map((b) => `${b.relative} ${b.reason}`).join("; ");
    notes.push(
      `${scan.root}: skipped ${plural(decoded.bad.length, "image")} that cannot be decoded ` +
        `(--skip-bad-images): ${shown}${decoded.bad.length > 3 ? "; ..." : ""}`,
    );
  }
  notes.push(
    `${scan.root}: ${plural(decoded.files.length, "image")} as ${
      describeFormat(decoded.format)
    } in ${seconds.toFixed(1)} s (${decoded.cached.toLocaleString("en-US")} from the cache, ` +
      `${decoded.decoded.toLocaleString("en-US")} decoded)`,
  );
  if (decoded.cacheWarning !== null) notes.push(`warning: ${decoded.cacheWarning}`);
  return notes;
}

/** Loads the training and test images of `source`; see the module comment. */
export async function loadImageFolders(
  source: ImageFolderSource,
  onProgress?: (progress: FolderProgress) => void,
): Promise<LoadedImageFolders> {
  const notes: string[] = [];
  const decode = async (scan: ScannedImages, settings: ImageOptions, flag: string) => {
    const start = performance.now();
    const decoded = await decodeImages(scan, settings, {
      cacheDir: source.cache,
      skipBadImages: source.skipBadImages,
      onProgress: onProgress && ((p) => onProgress({ ...p, folder: scan.root })),
      what: `${flag} ${scan.root}`,
    });
    notes.push(...notesOf(scan, decoded, (performance.now() - start) / 1000));
    return decoded;
  };
  const trainScan = await scanClassFolders(source.train, true);
  const options: ImageOptions = {
    size: source.size,
    resize: source.resize,
    channels: source.channels,
  };
  const trainImages = await decode(trainScan, options, "--data");
  const format = trainImages.format;
  const shape = [format.height, format.width, format.channels] as const;
  const datasetOf = (
    scan: ScannedImages & { labels: Int32Array },
    decoded: DecodedImages,
    classNames: string[],
    labelOf: (label: number) => number,
  ): Dataset<ImageRows> => ({
    // Normalised below, once the training rows are known.
    features: new ImageRows(decoded.pixels, identityNormalization(format.channels)),
    dim: shape[0] * shape[1] * shape[2],
    labels: Int32Array.from(decoded.files, (i) => labelOf(scan.labels[i])),
    classNames,
    imageShape: shape,
    ids: decoded.files.map((i) => scan.files[i].relative),
  });
  const classNames = trainScan.classNames;
  const full = datasetOf(trainScan, trainImages, classNames, (label) => label);
  let train: Dataset<ImageRows>, test: Dataset<ImageRows>;
  if (source.test !== null) {
    const testScan = await scanClassFolders(source.test, false);
    const index = new Map(classNames.map((name, i) => [name, i]));
    const foreign = testScan.classNames.find((name) => !index.has(name));
    if (foreign !== undefined) {
      throw new MagnetInputError(
        `${source.test}/${foreign}: the test folder has a class the training folder ` +
          `${source.train} lacks (its classes: ${classNames.slice(0, 8).join(", ")}${
            classNames.length > 8 ? ", ..." : ""
          })`,
      );
    }
    // Test images become rows exactly as the training images did.
    const testImages = await decode(testScan, {
      size: { width: format.width, height: format.height },
      resize: format.resize,
      channels: format.channels,
    }, "--test");
    train = full;
    test = datasetOf(
      testScan,
      testImages,
      classNames,
      (label) => index.get(testScan.classNames[label])!,
    );
  } else {
    const split = stratifiedSplit(full.labels, source.testFraction, source.splitSeed);
    train = subset(full, split.train);
    test = subset(full, split.test);
  }
  const normalization = fitNormalization(train.features);
  return {
    train: normalized(train, normalization),
    test: normalized(test, normalization),
    images: {
      ...format,
      mean: normalization.mean,
      std: normalization.std,
      channelsFromImages: source.channels === null,
    },
    notes,
  };
}

function normalized(d: Dataset<ImageRows>, n: Normalization): Dataset<ImageRows> {
  return { ...d, features: d.features.withNormalization(n) };
}

/** Images to embed with a model, as rows, each with its path relative to the folder given. */
export interface ImagesToEmbed {
  /** The images, normalised as the model's training images were. */
  rows: ImageRows;
  /** Each row's path, relative to the folder given (the file's name for one file). */
  ids: string[];
  /** Sentences about the loading (files skipped, decode time, cache). */
  notes: string[];
}

/**
 * The images of `path` (a folder, searched through its subfolders, or one image file) as rows of
 * a model whose training images were `input`.
 *
 * @throws {MagnetInputError} when a file cannot be decoded (unless `skipBadImages`), or when the
 *   model chose grey from grey training images and a file is stored in colour
 */
export async function loadImagesToEmbed(
  path: string,
  input: ImageInput,
  options: {
    cache: string | null;
    skipBadImages: boolean;
    onProgress?: (progress: FolderProgress) => void;
  },
): Promise<ImagesToEmbed> {
  const start = performance.now();
  const scan = await scanImages(path);
  // A grey model chosen from grey images reads the headers, to refuse colour.
  const strict = input.channelsFromImages && input.channels === 1;
  const decoded = await decodeImages(scan, {
    size: { width: input.width, height: input.height },
    resize: input.resize,
    channels: strict ? null : input.channels,
  }, {
    cacheDir: scan.files.length === 1 ? null : options.cache,
    skipBadImages: options.skipBadImages,
    onProgress: options.onProgress && ((p) => options.onProgress!({ ...p, folder: scan.root })),
    what: `--data ${path}`,
  });
  if (decoded.colourFile) {
    throw new MagnetInputError(
      `${scan.root}/${decoded.colourFile} is stored in colour, but the model was trained on grey ` +
        "images (1 channel, chosen because all its training images were grey): give grey " +
        "images, or train with --channels 1 to have colour images turned grey",
    );
  }
  return {
    rows: new ImageRows(decoded.pixels, { mean: input.mean, std: input.std }),
    ids: decoded.files.map((i) => scan.files[i].relative),
    notes: notesOf(scan, decoded, (performance.now() - start) / 1000),
  };
}
