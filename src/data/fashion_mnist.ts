/**
 * Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017): 70,000 28 x 28 grey images of clothing in 10
 * classes, 60,000 for training and 10,000 for testing, read from the four standard IDX files.
 * Debian's package `dataset-fashion-mnist` installs them in {@link FASHION_MNIST_DIR}.
 */
import { MagnetInputError } from "../errors.ts";
import type { Dataset } from "./dataset.ts";
import { readIdx } from "./files.ts";
import type { IdxArray } from "./idx.ts";

/** Where Debian's `dataset-fashion-mnist` puts the files. */
export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

/** The class names, in label order. */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

/** The four files, by part. */
export const FASHION_MNIST_FILES = {
  trainImages: "train-images-idx3-ubyte.gz",
  trainLabels: "train-labels-idx1-ubyte.gz",
  testImages: "t10k-images-idx3-ubyte.gz",
  testLabels: "t10k-labels-idx1-ubyte.gz",
} as const;

/** The official split. */
export interface FashionMnist {
  /** The 60,000 training images. */
  readonly train: Dataset;
  /** The 10,000 test images. */
  readonly test: Dataset;
}

/** Pixels scaled to [0, 1], labels checked, as a Dataset of 28 x 28 x 1 images. */
function toDataset(images: IdxArray, labels: IdxArray, imagePath: string, labelPath: string) {
  if (images.shape.length !== 3) {
    throw new MagnetInputError(
      `${imagePath}: images should have 3 dimensions [n, height, width], found [${images.shape}]`,
    );
  }
  const [n, height, width] = images.shape;
  if (n === 0 || height === 0 || width === 0) {
    throw new MagnetInputError(
      `${imagePath} holds no pixels: its dimensions are [${images.shape}]`,
    );
  }
  if (labels.shape.length !== 1) {
    throw new MagnetInputError(
      `${labelPath}: labels should have 1 dimension [n], found ${labels.shape.length} ` +
        `[${labels.shape}]: is it a labels file?`,
    );
  }
  if (labels.shape[0] !== n) {
    throw new MagnetInputError(
      `${labelPath}: ${labels.shape[0]} labels for the ${n} images of ${imagePath}`,
    );
  }
  const bad = labels.data.findIndex((label) => label >= FASHION_MNIST_CLASSES.length);
  if (bad >= 0) {
    throw new MagnetInputError(
      `${labelPath}, item ${bad + 1}: label ${labels.data[bad]}, expected 0 to ${
        FASHION_MNIST_CLASSES.length - 1
      }`,
    );
  }
  const features = new Float32Array(images.data.length);
  for (let i = 0; i < features.length; i++) features[i] = images.data[i] / 255;
  const dataset: Dataset = {
    features,
    dim: height * width,
    labels: Int32Array.from(labels.data),
    classNames: [...FASHION_MNIST_CLASSES],
    imageShape: [height, width, 1],
  };
  return dataset;
}

/**
 * Reads Fashion-MNIST from `dir` (default {@link FASHION_MNIST_DIR}), each file gzipped (the
 * standard names) or not (the names without ".gz"). When a file is missing the error says how to
 * get them.
 */
export async function loadFashionMnist(dir: string = FASHION_MNIST_DIR): Promise<FashionMnist> {
  const folder = dir.replace(/(.)\/+$/, "$1");
  const missing: string[] = [];
  const found = new Map<string, string>();
  for (const name of Object.values(FASHION_MNIST_FILES)) {
    // Whatever is there is taken (and named by readIdx should it be a directory, a FIFO or a
    // link loop): only a name with nothing at it is missing.
    const path = [`${folder}/${name}`, `${folder}/${name.replace(/\.gz$/, "")}`]
      .find((candidate) => isThere(candidate));
    if (path === undefined) missing.push(name);
    else found.set(name, path);
  }
  if (missing.length > 0) {
    throw new MagnetInputError(
      `Fashion-MNIST is not in ${folder} (missing ${missing.join(", ")}): install it with ` +
        "`apt-get install dataset-fashion-mnist`, or put the four files in a folder and give " +
        "it with --data-dir",
    );
  }
  const path = (name: string) => found.get(name)!;
  const f = FASHION_MNIST_FILES;
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(
    [f.trainImages, f.trainLabels, f.testImages, f.testLabels].map((name) => readIdx(path(name))),
  );
  const train = toDataset(trainImages, trainLabels, path(f.trainImages), path(f.trainLabels));
  const test = toDataset(testImages, testLabels, path(f.testImages), path(f.testLabels));
  if (train.imageShape!.join() !== test.imageShape!.join()) {
    throw new MagnetInputError(
      `${path(f.testImages)}: images of ${test.imageShape!.slice(0, 2).join("x")} pixels, but ` +
        `the training images (${path(f.trainImages)}) are ${
          train.imageShape!.slice(0, 2).join("x")
        }`,
    );
  }
  return { train, test };
}

/** Whether anything is at `path` (a link counts, even one that leads nowhere). */
function isThere(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
