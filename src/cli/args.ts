/**
 * Command-line flags of `deno task train`: one table gives each flag its type, default, help and
 * when it applies (see flags.ts), so `--help`, parsing, the error messages and the refusal of
 * flags that do not apply cannot disagree.
 */
import {
  type FlagFacts,
  type FlagSpec,
  type FlagValues,
  intFlag,
  numberFlag,
  parseFlags,
  UsageError,
} from "./flags.ts";
import { DEFAULT_CONFIG, MAX_SEED, type TrainConfig } from "../train/config.ts";
import { FASHION_MNIST_DIR } from "../data/fashion_mnist.ts";
import { absolutePath } from "./run_folder.ts";
import { AUGMENT_KINDS } from "../data/images/augment.ts";
import {
  type ImageSize,
  parseImageSize,
  RESIZE_MODES,
  type ResizeMode,
} from "../data/images/settings.ts";

/** The command line's own defaults (the training settings' are DEFAULT_CONFIG's). */
export const CLI_DEFAULTS = {
  testFraction: 0.2,
  labelColumn: "label",
  backend: "auto",
  checkpointEvery: 500,
  splitSeed: 0,
} as const;

/** The flags of `deno task train`, in help order. */
export const TRAIN_FLAGS: Readonly<Record<string, FlagSpec>> = {
  "dataset": {
    kind: "choice",
    default: "mnist",
    choices: ["mnist", "fashion-mnist"],
    help: "built-in data when --data is absent: the bundled MNIST digits (split 80/20), or " +
      "Fashion-MNIST (official 60,000/10,000 split, from --data-dir)",
    conflicts: ["data"],
    why: "names a built-in data set",
  },
  "data-dir": {
    kind: "string",
    default: FASHION_MNIST_DIR,
    help: "folder of Fashion-MNIST's four IDX files (.gz or not)",
    needs: { dataset: ["fashion-mnist"] },
    why: "is where Fashion-MNIST is",
  },
  "data": {
    kind: "string",
    help: "training CSV (header row, numeric features, a label column), or a folder of images " +
      "with one subfolder per class, instead of --dataset",
  },
  "test": {
    kind: "string",
    help: "test CSV with the same columns, or test folder of the same classes (default: split " +
      "off --test-fraction)",
    needs: { data: "given" },
    why: "is a test file or folder (the built-in data sets have their own)",
  },
  "test-fraction": {
    kind: "number",
    default: String(CLI_DEFAULTS.testFraction),
    help: "stratified test share when --test is absent",
    needs: { source: ["mnist", "csv", "images"] },
    conflicts: ["test"],
    why: "is the share split off for testing (Fashion-MNIST keeps its official split)",
  },
  "label-column": {
    kind: "string",
    default: CLI_DEFAULTS.labelColumn,
    help: "name of the label column in the CSV files",
    needs: { source: ["csv"] },
    why: "names a CSV column",
  },
  "image-size": {
    kind: "string",
    default: "the images' common size",
    help: "images: the size they are brought to, N (N x N) or WxH",
    needs: { source: ["images"] },
    why: "sets the size images are read at",
  },
  "resize": {
    kind: "choice",
    default: "crop",
    choices: RESIZE_MODES,
    help: "images: how they reach --image-size (crop: cover it and cut the middle; pad: fit " +
      "inside on black; stretch)",
    needs: { source: ["images"] },
    why: "sets how images are resized",
  },
  "channels": {
    kind: "choice",
    default: "3 when any file is in colour, else 1",
    choices: ["1", "3"],
    help: "images: 1 (grey) or 3 (RGB)",
    needs: { source: ["images"] },
    why: "sets the channels images are read with",
  },
  "augment": {
    kind: "choice",
    default: DEFAULT_CONFIG.augment,
    choices: AUGMENT_KINDS,
    help: "images: augmentation of training batches (crop-flip: random resized crop, then flip)",
    needs: { source: ["mnist", "fashion-mnist", "images"] },
    why: "transforms images",
  },
  "cache": {
    kind: "string",
    default: "~/.cache/magnet/images",
    help: "images: folder of the decode cache",
    needs: { source: ["images"] },
    why: "is where decoded images are kept",
  },
  "skip-bad-images": {
    kind: "flag",
    help: "images: skip (and count) files that cannot be decoded instead of stopping",
    needs: { source: ["images"] },
    why: "is about image files",
  },
  "backend": {
    kind: "choice",
    default: CLI_DEFAULTS.backend,
    choices: ["auto", "webgpu", "cpu"],
    help: "compute backend (auto: a hardware GPU when WebGPU has one, else the CPU)",
    resume: true,
  },
  "threads": {
    kind: "int",
    default: "all cores",
    help: "CPU backend: threads that share large kernels",
    needs: { backend: ["cpu", "auto"] },
    why: "sets the CPU backend's threads",
    resume: true,
  },
  "loss": {
    kind: "choice",
    default: DEFAULT_CONFIG.loss,
    choices: ["magnet", "triplet", "softmax"],
    help: "training loss",
  },
  "iterations": {
    kind: "int",
    default: String(DEFAULT_CONFIG.iterations),
    help: "training steps",
    resume: true,
  },
  "m": { kind: "int", default: String(DEFAULT_CONFIG.m), help: "clusters per batch (M)" },
  "d": { kind: "int", default: String(DEFAULT_CONFIG.d), help: "examples per cluster (D)" },
  "k": {
    kind: "int",
    default: String(DEFAULT_CONFIG.k),
    help: "clusters per class in the index (K)",
    needs: { loss: ["magnet"] },
    why: "sets the magnet loss's cluster index",
  },
  "alpha": {
    kind: "number",
    default: String(DEFAULT_CONFIG.alpha),
    help: "magnet margin alpha",
    needs: { loss: ["magnet"] },
    why: "is the magnet loss's margin",
  },
  "lr": { kind: "number", default: String(DEFAULT_CONFIG.lr), help: "Adam learning rate" },
  "model": {
    kind: "choice",
    default: DEFAULT_CONFIG.model,
    choices: ["mlp", "cnn"],
    help: "embedding network: multilayer perceptron, or convolutional (image data only)",
  },
  "hidden": {
    kind: "list",
    default: DEFAULT_CONFIG.hidden.join(","),
    help: "dense hidden layer widths, comma-separated (a CNN's follow its convolutions)",
  },
  "conv": {
    kind: "list",
    default: DEFAULT_CONFIG.conv.join(","),
    help: "CNN: channels of each 3x3 convolution block (each halves the image), comma-separated",
    needs: { model: ["cnn"] },
    why: "sets a CNN's convolutions",
  },
  "norm": {
    kind: "choice",
    default: DEFAULT_CONFIG.norm,
    choices: ["batch", "none"],
    help: "CNN: batch normalisation after each convolution, or none",
    needs: { model: ["cnn"] },
    why: "sets a CNN's normalisation",
  },
  "embedding-dim": {
    kind: "int",
    default: String(DEFAULT_CONFIG.embeddingDim),
    help: "embedding width",
  },
  "refresh-every": {
    kind: "int",
    default: String(DEFAULT_CONFIG.refreshEvery),
    help: "steps between cluster-index refreshes (0: once per epoch)",
    needs: { loss: ["magnet"] },
    why: "schedules the magnet loss's cluster index",
  },
  "eval-every": {
    kind: "int",
    default: String(DEFAULT_CONFIG.evalEvery),
    help: "steps between test evaluations (0: only at the end)",
  },
  "checkpoint-every": {
    kind: "int",
    default: String(CLI_DEFAULTS.checkpointEvery),
    help: "steps between checkpoints (0: only at the end)",
    resume: true,
  },
  "seed": {
    kind: "int",
    default: String(DEFAULT_CONFIG.seed),
    help: "seed of the model, sampling and k-means",
  },
  "split-seed": {
    kind: "int",
    default: String(CLI_DEFAULTS.splitSeed),
    help: "seed of the train/test split (0 to 4294967295)",
    needs: { source: ["mnist", "csv", "images"] },
    conflicts: ["test"],
    why: "seeds the split off for testing (Fashion-MNIST keeps its official split)",
  },
  "out": {
    kind: "string",
    default: "runs/<timestamp>",
    help: "output folder (new or empty, unless --overwrite)",
    resume: true,
  },
  "overwrite": {
    kind: "flag",
    help: "let a new run replace the run files (checkpoint, model, metrics, report) in --out",
    resume: true,
  },
  "resume": {
    kind: "string",
    help: "continue the run saved in this folder, with its settings (into --out if given)",
    why: "continues a run with its saved settings and data",
  },
  "map": {
    kind: "choice",
    default: "pca",
    choices: ["pca", "umap"],
    help: "projection of report.html's embedding map",
    resume: true,
  },
  "quiet": { kind: "flag", help: "print only the final summary", resume: true },
  "help": { kind: "flag", help: "show this help" },
};

/** The parsed flags of `deno task train`. */
export interface TrainArgs {
  help: boolean;
  quiet: boolean;
  overwrite: boolean;
  /** The flags given on the command line, by name (without the dashes). */
  given: ReadonlySet<string>;
  /** The built-in data set used when `data` is null. */
  dataset: "mnist" | "fashion-mnist";
  /** Where Fashion-MNIST's files are. */
  dataDir: string;
  data: string | null;
  test: string | null;
  /** The report's map projection. */
  map: "pca" | "umap";
  /** Image folders: the target size (null: the images' common size). */
  imageSize: ImageSize | null;
  /** Image folders: how images reach the size. */
  resize: ResizeMode;
  /** Image folders: 1 or 3 channels (null: from the images). */
  channels: 1 | 3 | null;
  /** Image folders: the decode cache's folder as given (null: the default). */
  cache: string | null;
  /** Image folders: skip images that cannot be decoded. */
  skipBadImages: boolean;
  testFraction: number;
  labelColumn: string;
  backend: "auto" | "webgpu" | "cpu";
  /** CPU threads, or null for all cores. */
  threads: number | null;
  out: string | null;
  resume: string | null;
  checkpointEvery: number;
  splitSeed: number;
  /** Only the settings given on the command line (the rest keep their defaults or saved values). */
  config: Partial<TrainConfig>;
}

/** `--image-size`'s value, or a usage error. */
function imageSize(text: string): ImageSize {
  try {
    return parseImageSize(text);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** What `--data` names, in the words a refusal uses. */
const SOURCE_WORDS = {
  mnist: "the bundled MNIST",
  "fashion-mnist": "--dataset fashion-mnist",
  csv: "--data a CSV file",
  images: "--data a folder of images",
} as const;

/**
 * What the data of the flags `v` is: the bundled MNIST, Fashion-MNIST, a CSV file or a folder of
 * images (a folder given as --data), for the flags whose rules need it (`needs: { source: ... }`).
 */
export function trainFacts(v: FlagValues): FlagFacts {
  const data = v.data as string | undefined;
  const value = data === undefined
    ? (v.dataset as string | undefined) ?? "mnist"
    : isFolder(absolutePath(data))
    ? "images"
    : "csv";
  return { source: { value, words: SOURCE_WORDS } };
}

/** Whether `path` is a folder (a symbolic link to one included). */
export function isFolder(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** Parses the flags of `deno task train`. */
export function parseTrainArgs(args: readonly string[]): TrainArgs {
  const v = parseFlags(args, TRAIN_FLAGS, trainFacts);
  const str = (name: string): string | undefined => v[name] as string | undefined;
  const choice = (name: string): string | undefined => {
    const value = str(name);
    const choices = TRAIN_FLAGS[name].choices!;
    if (value !== undefined && !choices.includes(value)) {
      throw new UsageError(`--${name} must be one of ${choices.join(", ")}, got "${value}"`);
    }
    return value;
  };
  const int = (name: string) => (str(name) === undefined ? undefined : intFlag(name, str(name)!));
  const num = (
    name: string,
  ) => (str(name) === undefined ? undefined : numberFlag(name, str(name)!));
  const widths = (name: string, allowEmpty: boolean): number[] | undefined => {
    const text = str(name);
    if (text === undefined) return undefined;
    if (text.trim() === "") {
      if (allowEmpty) return [];
      throw new UsageError(`--${name} needs at least one width`);
    }
    return text.split(",").map((part) => {
      const width = Number(part.trim());
      if (!/^\s*\d+\s*$/.test(part) || !Number.isSafeInteger(width) || width < 1) {
        throw new UsageError(
          `--${name} must be positive integers separated by commas, got "${text}"`,
        );
      }
      return width;
    });
  };
  const hidden = widths("hidden", true);
  const testFraction = num("test-fraction") ?? CLI_DEFAULTS.testFraction;
  if (!(testFraction > 0 && testFraction < 1)) {
    throw new UsageError(`--test-fraction must be between 0 and 1, got ${testFraction}`);
  }
  const checkpointEvery = int("checkpoint-every") ?? CLI_DEFAULTS.checkpointEvery;
  if (checkpointEvery < 0) {
    throw new UsageError(`--checkpoint-every must be >= 0, got ${checkpointEvery}`);
  }
  const config: Partial<TrainConfig> = {
    loss: choice("loss") as TrainConfig["loss"] | undefined,
    iterations: int("iterations"),
    m: int("m"),
    d: int("d"),
    k: int("k"),
    alpha: num("alpha"),
    lr: num("lr"),
    model: choice("model") as TrainConfig["model"] | undefined,
    hidden,
    conv: widths("conv", false),
    norm: choice("norm") as TrainConfig["norm"] | undefined,
    embeddingDim: int("embedding-dim"),
    refreshEvery: int("refresh-every"),
    evalEvery: int("eval-every"),
    seed: int("seed"),
    augment: choice("augment") as TrainConfig["augment"] | undefined,
  };
  for (const key of Object.keys(config) as (keyof TrainConfig)[]) {
    if (config[key] === undefined) delete config[key];
  }
  const threads = int("threads") ?? null;
  if (threads !== null && (threads < 1 || threads > 256)) {
    throw new UsageError(`--threads must be an integer from 1 to 256, got ${threads}`);
  }
  const splitSeed = int("split-seed") ?? CLI_DEFAULTS.splitSeed;
  if (splitSeed < 0 || splitSeed > MAX_SEED) {
    throw new UsageError(`--split-seed must be an integer in [0, ${MAX_SEED}], got ${splitSeed}`);
  }
  for (const name of ["out", "data", "test", "resume", "data-dir", "cache"]) {
    if (str(name)?.trim() === "") throw new UsageError(`--${name} must not be empty`);
  }
  return {
    help: v.help === true,
    quiet: v.quiet === true,
    overwrite: v.overwrite === true,
    given: new Set(Object.keys(v).filter((name) => v[name] !== undefined)),
    dataset: (choice("dataset") ?? "mnist") as TrainArgs["dataset"],
    dataDir: str("data-dir") ?? FASHION_MNIST_DIR,
    data: str("data") ?? null,
    test: str("test") ?? null,
    map: (choice("map") ?? "pca") as TrainArgs["map"],
    imageSize: str("image-size") === undefined ? null : imageSize(str("image-size")!),
    resize: (choice("resize") ?? "crop") as ResizeMode,
    channels: choice("channels") === undefined ? null : Number(choice("channels")) as 1 | 3,
    cache: str("cache") ?? null,
    skipBadImages: v["skip-bad-images"] === true,
    testFraction,
    labelColumn: str("label-column") ?? CLI_DEFAULTS.labelColumn,
    backend: (choice("backend") ?? CLI_DEFAULTS.backend) as TrainArgs["backend"],
    threads,
    out: str("out") ?? null,
    resume: str("resume") ?? null,
    checkpointEvery,
    splitSeed,
    config,
  };
}

// The command line's shared pieces, where the commands have always found them.
export {
  checkFlagRules,
  type FlagFacts,
  type FlagSpec,
  type FlagValues,
  helpText,
  intFlag,
  numberFlag,
  parseFlags,
  UsageError,
} from "./flags.ts";
export { reportFailure } from "./failure.ts";
