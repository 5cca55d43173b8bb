/**
 * Command-line flags of `deno task train`: one table gives each flag its type, default, help and
 * when it applies (see flags.ts), so `--help`, parsing, the error messages and the refusal of
 * flags that do not apply cannot disagree. The table is long (a flag per setting, for tables,
 * images and the run), and stays whole in one file for that reason.
 */
import {
  backendFlags,
  type FlagFacts,
  type FlagSpec,
  type FlagValues,
  intFlag,
  numberFlag,
  parseFlags,
  UsageError,
} from "./flags.ts";
import { DEFAULT_CONFIG, MAX_SEED, type TrainConfig } from "../train/config.ts";
import type { TrainOptions } from "../train/types.ts";
import {
  DEFAULT_EPOCHS,
  fitToData,
  MAX_DEFAULT_EVALUATIONS,
  MAX_DEFAULT_REFRESHES,
  MIN_DEFAULT_ITERATIONS,
  MIN_EVAL_EPOCHS,
} from "../train/schedule.ts";
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
  /** A CSV's share of training rows held out for validation (the built-in data sets: none). */
  csvValFraction: 0.2,
  labelColumn: "label",
  backend: "auto",
  checkpointEvery: 500,
  splitSeed: 0,
} as const;

/**
 * The defaults fitted to two data sets, as --help shows them: the bundled MNIST (8,000 training
 * rows) and a 150-row table (96 training rows once its test and validation rows are held out).
 */
const FITTED = {
  mnist: fitToData({}, { trainRows: 8000, hasValidation: false }),
  table: fitToData({}, { trainRows: 96, hasValidation: true }),
};

/** What the flags that set up a backbone need, and why. */
const BACKBONE_ONLY = {
  needs: { backbone: "given" },
  why: "sets up the --backbone network",
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
  "val": {
    kind: "string",
    help: "validation CSV with the same columns (instead of --val-fraction): chooses the model " +
      "kept and stops early; the test rows only ever get the final report",
    needs: { source: ["csv"] },
    conflicts: ["val-fraction"],
    why: "is a validation CSV file",
  },
  "val-fraction": {
    kind: "number",
    default: `${CLI_DEFAULTS.csvValFraction} with --data a CSV file, else 0`,
    help: "stratified share of the training rows held out for validation (0: none)",
  },
  "label-column": {
    kind: "string",
    default: CLI_DEFAULTS.labelColumn,
    help: "name of the label column in the CSV files",
    needs: { source: ["csv"] },
    why: "names a CSV column",
  },
  "id-column": {
    kind: "string",
    help: "CSV column of row ids: never a feature; embed writes it as its first column",
    needs: { source: ["csv"] },
    why: "names a CSV column",
  },
  "ignore-columns": {
    kind: "list",
    help: "CSV columns that are neither features nor labels, comma-separated",
    needs: { source: ["csv"] },
    why: "names CSV columns",
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
  ...backendFlags(true),
  "loss": {
    kind: "choice",
    default: DEFAULT_CONFIG.loss,
    choices: ["magnet", "triplet", "softmax"],
    help: "training loss",
  },
  "iterations": {
    kind: "int",
    default:
      `${DEFAULT_EPOCHS} epochs, within ${MIN_DEFAULT_ITERATIONS}-${DEFAULT_CONFIG.iterations}` +
      `: ${FITTED.mnist.iterations} for MNIST and Fashion-MNIST, ${FITTED.table.iterations} for a ` +
      "150-row table",
    help: "training steps",
    resume: true,
  },
  "epochs": {
    kind: "int",
    help: "the run's length in passes over the training rows, instead of --iterations",
    conflicts: ["iterations"],
    why: "sets the run's length",
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
  "backbone": {
    kind: "string",
    help:
      "fine-tune this pretrained network (an ONNX file, external weights beside it) with a new " +
      "linear head of --embedding-dim; image data",
    conflicts: ["model", "hidden", "conv", "norm"],
    why: "brings its own network with a linear head of --embedding-dim",
  },
  "backbone-output": {
    kind: "string",
    default: "the network's output",
    help: "backbone: the value taken as features (a node's output name, e.g. the pooled features)",
    ...BACKBONE_ONLY,
  },
  "freeze-backbone": {
    kind: "flag",
    help: "backbone: keep its weights fixed, train the head only",
    ...BACKBONE_ONLY,
    conflicts: ["backbone-lr-scale"],
  },
  "backbone-lr-scale": {
    kind: "number",
    default: String(DEFAULT_CONFIG.backboneLrScale),
    help: "backbone: learning rate of its weights relative to the head's",
    ...BACKBONE_ONLY,
  },
  "backbone-size": {
    kind: "string",
    default: "as the file declares",
    help: "backbone: the input size it gets, N or HxW (images are resized to it)",
    ...BACKBONE_ONLY,
  },
  "backbone-mean": {
    kind: "string",
    default: "ImageNet's for 3 channels",
    help: "backbone: per-channel mean of its inputs (pixels in [0, 1]), comma-separated",
    ...BACKBONE_ONLY,
  },
  "backbone-std": {
    kind: "string",
    default: "ImageNet's for 3 channels",
    help: "backbone: per-channel standard deviation of its inputs, comma-separated",
    ...BACKBONE_ONLY,
  },
  "backbone-bgr": {
    kind: "flag",
    help: "backbone: it takes its channels in BGR order",
    ...BACKBONE_ONLY,
  },
  "embedding-dim": {
    kind: "int",
    default: String(DEFAULT_CONFIG.embeddingDim),
    help: "embedding width",
  },
  "refresh-every": {
    kind: "int",
    default: `one epoch, longer to refresh at most ${MAX_DEFAULT_REFRESHES} times: ` +
      `${FITTED.mnist.refreshEvery} for MNIST, ${FITTED.table.refreshEvery} for a 150-row table`,
    help: "steps between cluster-index refreshes (0: one epoch)",
    needs: { loss: ["magnet"] },
    why: "schedules the magnet loss's cluster index",
  },
  "eval-every": {
    kind: "int",
    default: `${DEFAULT_CONFIG.evalEvery}, or ${MAX_DEFAULT_EVALUATIONS} times in a shorter run ` +
      `but at most every ${MIN_EVAL_EPOCHS} epochs: ${FITTED.mnist.evalEvery} for MNIST, ` +
      `${FITTED.table.evalEvery} for a 150-row table`,
    help: "steps between evaluations, on the validation rows if any, else the test rows " +
      "(0: only at the end)",
  },
  "keep": {
    kind: "choice",
    choices: ["best", "last"],
    default: "best with validation rows, else last",
    help: "the model kept: the one of the evaluation with the lowest validation error of the " +
      "loss's own rule (magnet rule, or k-NN for the baselines), or the last step's",
    needs: { validation: ["yes"] },
    why: "chooses the model by its validation error (the test rows only get the final report)",
  },
  "early-stop": {
    kind: "int",
    default: "0: never",
    help: "stop after this many validation evaluations in a row without a lower error",
    needs: { validation: ["yes"] },
    why: "stops on the validation error (the test rows only get the final report)",
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
  /** The ONNX file of a backbone to fine-tune, or null. */
  backbone: string | null;
  /** The validation CSV, or null. */
  val: string | null;
  /** The validation share given, or null for the default of the data's kind. */
  valFraction: number | null;
  idColumn: string | null;
  ignoreColumns: string[];
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
  config: TrainOptions;
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
 * What the flags' rules need beyond the flags' values: what the data is (`source`: the bundled
 * MNIST, Fashion-MNIST, a CSV file, or a folder of images given as --data), and whether the run
 * holds out validation rows (`validation`: --val, or a --val-fraction above 0, a CSV's default).
 */
export function trainFacts(v: FlagValues): FlagFacts {
  const data = v.data as string | undefined;
  const source = data === undefined
    ? (v.dataset as string | undefined) ?? "mnist"
    : isFolder(absolutePath(data))
    ? "images"
    : "csv";
  // A CSV holds out validation rows unless told not to; the other data only when asked to.
  const fraction = v["val-fraction"] !== undefined
    ? Number(v["val-fraction"])
    : source === "csv"
    ? CLI_DEFAULTS.csvValFraction
    : 0;
  const validation = v.val !== undefined || fraction > 0 ? "yes" : "no";
  return {
    source: { value: source, words: SOURCE_WORDS },
    validation: {
      value: validation,
      words: { yes: "validation rows (--val, or --val-fraction above 0)", no: "none held out" },
    },
  };
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
  const numbers = (name: string): number[] | undefined => {
    const text = str(name);
    if (text === undefined) return undefined;
    return text.split(",").map((part) => numberFlag(name, part));
  };
  const sizeText = str("backbone-size");
  let backboneSize: [number, number] | undefined;
  if (sizeText !== undefined) {
    const match = /^\s*(\d+)\s*(?:x\s*(\d+)\s*)?$/i.exec(sizeText);
    if (match === null) throw new UsageError(`--backbone-size must be N or HxW, got "${sizeText}"`);
    backboneSize = [Number(match[1]), Number(match[2] ?? match[1])];
  }
  // Which flags go with --backbone, and which it replaces, the flag table has checked.
  const backbone = str("backbone") ?? null;
  const testFraction = num("test-fraction") ?? CLI_DEFAULTS.testFraction;
  if (!(testFraction > 0 && testFraction < 1)) {
    throw new UsageError(`--test-fraction must be between 0 and 1, got ${testFraction}`);
  }
  const valFraction = num("val-fraction") ?? null;
  if (valFraction !== null && !(valFraction >= 0 && valFraction < 1)) {
    throw new UsageError(`--val-fraction must be at least 0 and below 1, got ${valFraction}`);
  }
  const ignoreColumns = str("ignore-columns")?.split(",").map((c) => c.trim()) ?? [];
  if (ignoreColumns.some((c) => c === "")) {
    throw new UsageError(
      `--ignore-columns must be column names separated by commas, got "${str("ignore-columns")}"`,
    );
  }
  const checkpointEvery = int("checkpoint-every") ?? CLI_DEFAULTS.checkpointEvery;
  if (checkpointEvery < 0) {
    throw new UsageError(`--checkpoint-every must be >= 0, got ${checkpointEvery}`);
  }
  const config: TrainOptions = {
    loss: choice("loss") as TrainConfig["loss"] | undefined,
    iterations: int("iterations"),
    epochs: int("epochs"),
    keep: choice("keep") as TrainConfig["keep"] | undefined,
    earlyStop: int("early-stop"),
    m: int("m"),
    d: int("d"),
    k: int("k"),
    alpha: num("alpha"),
    lr: num("lr"),
    model: backbone !== null ? "backbone" : choice("model") as TrainConfig["model"] | undefined,
    backboneOutput: str("backbone-output"),
    freezeBackbone: v["freeze-backbone"] === true ? true : undefined,
    backboneLrScale: num("backbone-lr-scale"),
    backboneSize,
    backboneMean: numbers("backbone-mean"),
    backboneStd: numbers("backbone-std"),
    backboneBgr: v["backbone-bgr"] === true ? true : undefined,
    hidden,
    conv: widths("conv", false),
    norm: choice("norm") as TrainConfig["norm"] | undefined,
    embeddingDim: int("embedding-dim"),
    refreshEvery: int("refresh-every"),
    evalEvery: int("eval-every"),
    seed: int("seed"),
    augment: choice("augment") as TrainConfig["augment"] | undefined,
  };
  for (const key of Object.keys(config) as (keyof TrainOptions)[]) {
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
  for (
    const name of [
      "out",
      "data",
      "test",
      "val",
      "resume",
      "data-dir",
      "id-column",
      "cache",
      "backbone",
      "backbone-output",
    ]
  ) {
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
    backbone,
    val: str("val") ?? null,
    valFraction,
    idColumn: str("id-column") ?? null,
    ignoreColumns,
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
  backendFlags,
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
