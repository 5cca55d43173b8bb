/**
 * Command-line flags of `deno task train`: one table gives each flag its type, default, help and
 * when it applies (see flags.ts), so `--help`, parsing, the error messages and the refusal of
 * flags that do not apply cannot disagree.
 */
import { type FlagSpec, intFlag, numberFlag, parseFlags, UsageError } from "./flags.ts";
import { DEFAULT_CONFIG, MAX_SEED, type TrainConfig } from "../train/config.ts";
import { FASHION_MNIST_DIR } from "../data/fashion_mnist.ts";

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
    help: "training CSV (header row, numeric features, a label column) instead of --dataset",
  },
  "test": {
    kind: "string",
    help: "test CSV with the same columns (default: split off --test-fraction)",
    needs: { data: "given" },
    why: "is a CSV test file (the built-in data sets have their own)",
  },
  "test-fraction": {
    kind: "number",
    default: String(CLI_DEFAULTS.testFraction),
    help: "stratified test share when --test is absent",
    needs: { dataset: ["mnist"] },
    conflicts: ["test"],
    why: "is the share split off for testing (Fashion-MNIST keeps its official split)",
  },
  "label-column": {
    kind: "string",
    default: CLI_DEFAULTS.labelColumn,
    help: "name of the label column in the CSV files",
    needs: { data: "given" },
    why: "names a CSV column",
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
  "lr": {
    kind: "number",
    default: String(DEFAULT_CONFIG.lr),
    help: "Adam learning rate",
  },
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
    needs: { dataset: ["mnist"] },
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

/** Parses the flags of `deno task train`. */
export function parseTrainArgs(args: readonly string[]): TrainArgs {
  const v = parseFlags(args, TRAIN_FLAGS);
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
  for (const name of ["out", "data", "test", "resume", "data-dir"]) {
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
  type FlagSpec,
  helpText,
  intFlag,
  numberFlag,
  parseFlags,
  UsageError,
} from "./flags.ts";
export { reportFailure } from "./failure.ts";
