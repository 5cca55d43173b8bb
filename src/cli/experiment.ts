/**
 * `deno task experiment <name>`: runs one of the paper's claims as training runs over several
 * seeds, writing results.json and experiment.html into a folder after every finished run. Like
 * `train`, it locks its folder, refuses a used one unless --overwrite, and stops cleanly on
 * SIGINT or SIGTERM; `--resume DIR` continues a stopped experiment, skipping the runs it finished.
 */
import { openBackend } from "./backend.ts";
import type { Backend } from "../backend/backend.ts";
import { EnvironmentError, MagnetInputError } from "../errors.ts";
import { type DataSource, loadData, readDataSource } from "../data/source.ts";
import { writeFileAtomic } from "../io/files.ts";
import { JsonFields } from "../io/json_fields.ts";
import { readInputText } from "../io/input.ts";
import {
  buildResults,
  EXPERIMENTS,
  markdownTable,
  type SavedResults,
} from "../experiments/experiments.ts";
import { renderExperimentPage } from "../experiments/page.ts";
import { runExperiment, shrink } from "../experiments/runner.ts";
import type { ExperimentEnv, ExperimentOptions, RunRecord } from "../experiments/types.ts";
import { FASHION_MNIST_DIR } from "../data/fashion_mnist.ts";
import { MAX_SEED, resolveConfig, type TrainConfig } from "../train/config.ts";
import {
  backendFlags,
  type FlagSpec,
  helpText,
  intFlag,
  parseFlags,
  reportFailure,
  UsageError,
} from "./args.ts";
import { absolutePath, checkNewRunFolder, RunFolder } from "./run_folder.ts";
import { StopSignals } from "./signals.ts";

const FILES = { results: "results.json", page: "experiment.html" } as const;

/** Rows of the quick version's data: small enough for CI, large enough to mean something. */
const QUICK_ROWS = { train: 3000, test: 1000 } as const;

/** The flags of `deno task experiment` (see `FlagSpec`). */
export const EXPERIMENT_FLAGS: Readonly<Record<string, FlagSpec>> = {
  "seeds": { kind: "list", default: "1,2,3 (quick: 1)", help: "seeds, comma-separated" },
  "quick": { kind: "flag", help: "a small version: 150 steps on at most 3,000/1,000 rows" },
  "iterations": { kind: "int", default: "6000 (quick: 150)", help: "training steps of every run" },
  "model": { kind: "choice", default: "mlp", choices: ["mlp", "cnn"], help: "embedding network" },
  "dataset": {
    kind: "choice",
    default: "fashion-mnist",
    choices: ["fashion-mnist", "mnist"],
    help: "data set (Fashion-MNIST: its official split; MNIST: the bundled digits, split 80/20)",
  },
  "data-dir": {
    kind: "string",
    default: FASHION_MNIST_DIR,
    help: "folder of Fashion-MNIST's four IDX files",
    needs: { dataset: ["fashion-mnist"] },
    why: "is where Fashion-MNIST is",
  },
  ...backendFlags(true),
  "out": {
    kind: "string",
    default: "runs/experiment-<name>-<timestamp>",
    help: "output folder (new or empty, unless --overwrite)",
  },
  "overwrite": { kind: "flag", help: "let a new experiment replace the results in --out" },
  "resume": {
    kind: "string",
    help: "continue the experiment in this folder, skipping its finished runs",
    why: "continues an experiment with its saved settings",
  },
  "quiet": { kind: "flag", help: "print only the final tables", resume: true },
  "help": { kind: "flag", help: "show this help" },
};

function usage(): string {
  const names = Object.values(EXPERIMENTS)
    .map((e) => `  ${e.name.padEnd(10)} ${e.title}: ${e.claim}`)
    .join("\n");
  return helpText(
    "experiment <name>",
    `Puts a claim of the paper to the test: trains every setting of the experiment once per ` +
      `seed and writes results.json and experiment.html.\n\nExperiments:\n${names}`,
    EXPERIMENT_FLAGS,
  );
}

interface Parsed {
  name: string;
  given: Set<string>;
  options: ExperimentOptions;
  source: DataSource;
  backend: "auto" | "webgpu" | "cpu";
  threads: number | null;
  out: string | null;
  overwrite: boolean;
  resume: string | null;
  quiet: boolean;
}

function parse(args: readonly string[]): Parsed | "help" {
  const [first, ...rest] = args;
  if (first === undefined) {
    throw new UsageError(
      `name an experiment: ${Object.keys(EXPERIMENTS).join(", ")} (see --help)`,
    );
  }
  const named = !first.startsWith("-");
  const v = parseFlags(named ? rest : args, EXPERIMENT_FLAGS);
  if (v.help === true) return "help";
  const given = new Set(Object.keys(v).filter((k) => v[k] !== undefined));
  const str = (name: string) => v[name] as string | undefined;
  if (!named && str("resume") === undefined) {
    throw new UsageError(
      `name an experiment first: deno task experiment <${Object.keys(EXPERIMENTS).join("|")}>`,
    );
  }
  const name = named ? first : "";
  if (named && !(name in EXPERIMENTS)) {
    throw new UsageError(
      `unknown experiment "${name}": choose ${Object.keys(EXPERIMENTS).join(", ")}`,
    );
  }
  const choice = <T extends string>(flag: keyof typeof EXPERIMENT_FLAGS, fallback: T): T => {
    const value = str(flag);
    const spec = EXPERIMENT_FLAGS[flag] as { choices?: readonly string[] };
    if (value !== undefined && !spec.choices!.includes(value)) {
      throw new UsageError(`--${flag} must be one of ${spec.choices!.join(", ")}, got "${value}"`);
    }
    return (value ?? fallback) as T;
  };
  const quick = v.quick === true;
  const seedsText = str("seeds");
  const seeds = seedsText === undefined ? (quick ? [1] : [1, 2, 3]) : seedsText.split(",").map(
    (part) => {
      const seed = intFlag("seeds", part);
      if (seed < 0 || seed > MAX_SEED) {
        throw new UsageError(`--seeds must be integers in [0, ${MAX_SEED}], got ${seed}`);
      }
      return seed;
    },
  );
  if (new Set(seeds).size !== seeds.length) {
    throw new UsageError(`--seeds repeats a seed: "${seedsText}"`);
  }
  const iterations = str("iterations") === undefined
    ? (quick ? 150 : 6000)
    : intFlag("iterations", str("iterations")!);
  if (iterations < 12) throw new UsageError(`--iterations must be at least 12, got ${iterations}`);
  const dataset = choice("dataset", "fashion-mnist");
  const threads = str("threads") === undefined ? null : intFlag("threads", str("threads")!);
  if (threads !== null && (threads < 1 || threads > 256)) {
    throw new UsageError(`--threads must be an integer from 1 to 256, got ${threads}`);
  }
  for (const flag of ["out", "resume", "data-dir"]) {
    if (str(flag)?.trim() === "") throw new UsageError(`--${flag} must not be empty`);
  }
  return {
    name,
    given,
    options: { seeds, quick, iterations, model: choice("model", "mlp") },
    source: dataset === "fashion-mnist"
      ? { kind: dataset, dir: absolutePath(str("data-dir") ?? FASHION_MNIST_DIR) }
      : { kind: dataset, testFraction: 0.2, splitSeed: 0 },
    backend: choice("backend", "auto"),
    threads,
    out: str("out") ?? null,
    overwrite: v.overwrite === true,
    resume: str("resume") ?? null,
    quiet: v.quiet === true,
  };
}

/** What {@link readSaved} expects at the top of results.json. */
const RESULTS_FILE = {
  format: "magnet-experiment",
  versions: [1],
  what: "an experiment's results",
};

/** A saved run, every field and value checked (the settings as training would check them). */
function readRun(run: JsonFields): RunRecord {
  const settings = run.object("settings");
  try {
    resolveConfig(settings.raw as Partial<TrainConfig>);
  } catch (error) {
    if (!(error instanceof MagnetInputError)) throw error;
    throw new MagnetInputError(
      `${run.source} is damaged: ${run.path}settings are invalid: ${error.message}`,
    );
  }
  const metrics = run.object("metrics");
  return {
    key: run.string("key", true),
    seed: run.integer("seed", 0, MAX_SEED),
    settings: settings.raw as Partial<TrainConfig>,
    iterations: run.integer("iterations", 1),
    seconds: run.number("seconds", 0),
    trainSecondsPer1000: run.number("trainSecondsPer1000", 0),
    curve: run.objects("curve", { nonEmpty: true }).map((p) => ({
      iteration: p.integer("iteration", 1),
      seconds: p.number("seconds", 0),
      error: p.number("error", 0, 1),
      knnError: p.number("knnError", 0, 1),
    })),
    metrics: Object.fromEntries(metrics.keys().map((k) => [k, metrics.nullableNumber(k)])),
  };
}

/** A saved experiment to continue, read field by field, values included. */
async function readSaved(dir: string): Promise<SavedResults> {
  const path = `${dir}/${FILES.results}`;
  if (await Deno.lstat(path).catch(() => null) === null) {
    throw new UsageError(`--resume ${dir}: no ${FILES.results} there (is it an experiment?)`);
  }
  const file = JsonFields.parse(await readInputText(path, "a results file"), path, RESULTS_FILE);
  const options = file.object("options");
  const seeds = options.integers("seeds", 0, MAX_SEED);
  if (seeds.length === 0 || new Set(seeds).size !== seeds.length) {
    options.fail("seeds", "distinct seeds, at least one", seeds);
  }
  const data = file.object("data");
  return {
    format: "magnet-experiment",
    version: 1,
    experiment: file.oneOf("experiment", Object.keys(EXPERIMENTS)),
    title: file.string("title"),
    claim: file.string("claim"),
    command: file.string("command", true),
    complete: file.boolean("complete"),
    startedAt: file.date("startedAt"),
    updatedAt: file.date("updatedAt"),
    seconds: file.number("seconds", 0),
    backend: file.string("backend"),
    data: {
      name: data.string("name"),
      train: data.integer("train", 1),
      test: data.integer("test", 1),
    },
    source: readDataSource(file.object("source"), ["mnist", "fashion-mnist"]),
    options: {
      seeds,
      quick: options.boolean("quick"),
      iterations: options.integer("iterations", 12),
      model: options.oneOf("model", ["mlp", "cnn"] as const),
    },
    runs: file.objects("runs").map(readRun),
    tables: [],
    figures: [],
  };
}

/**
 * Refuses saved runs that are not runs of `specs` for the saved seeds (a results file of another
 * experiment, or edited): resuming would mix them into the tables.
 */
function checkSavedRuns(saved: SavedResults, path: string, keys: readonly string[]): void {
  saved.runs.forEach((run, i) => {
    const problem = !keys.includes(run.key)
      ? `"${run.key}" is not a run of the ${saved.experiment} experiment (${keys.join(", ")})`
      : !saved.options.seeds.includes(run.seed)
      ? `seed ${run.seed} is not one of the experiment's seeds (${saved.options.seeds})`
      : saved.runs.findIndex((r) => r.key === run.key && r.seed === run.seed) !== i
      ? `"${run.key}" with seed ${run.seed} is there twice`
      : run.iterations !== saved.options.iterations
      ? `${run.iterations} steps, the experiment's runs take ${saved.options.iterations}`
      : null;
    if (problem !== null) {
      throw new MagnetInputError(`${path} is damaged: runs[${i}]: ${problem}`);
    }
  });
}

function timestamp(): string {
  return new Date().toISOString().replace(/\..*$/, "").replace(/:/g, "-");
}

/** Runs the command with `args`; returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  let backend: Backend | null = null;
  let folder: RunFolder | null = null;
  let wrote = false;
  /** Runs in the newest results.json this invocation wrote (null: none written). */
  let savedRuns: number | null = null;
  const signals = new StopSignals((name) =>
    console.error(`${name} received: finishing the current save first, then exiting`)
  );
  try {
    const parsed = parse(args);
    if (parsed === "help") {
      console.log(usage());
      return 0;
    }
    const saved = parsed.resume === null ? null : await readSaved(absolutePath(parsed.resume));
    if (saved !== null) {
      if (parsed.name !== "" && parsed.name !== saved.experiment) {
        throw new UsageError(
          `--resume ${parsed.resume} holds the ${saved.experiment} experiment, not ${parsed.name}`,
        );
      }
    }
    const experiment = EXPERIMENTS[saved?.experiment ?? parsed.name];
    const options = saved?.options ?? parsed.options;
    const source = saved?.source ?? parsed.source;
    const out = saved !== null
      ? absolutePath(parsed.resume!)
      : absolutePath(parsed.out ?? `runs/experiment-${experiment.name}-${timestamp()}`);
    if (saved === null) checkNewRunFolder(out, parsed.overwrite);
    const log = (line: string) => {
      if (!parsed.quiet) console.log(line);
    };

    const loaded = await loadData(source);
    const full = { name: loaded.name, train: loaded.train, test: loaded.test };
    const data = options.quick ? shrink(full, QUICK_ROWS.train, QUICK_ROWS.test) : full;
    backend = await openBackend({ kind: parsed.backend, threads: parsed.threads ?? undefined });
    const env: ExperimentEnv = { backend, data, options };
    // A setting the data cannot serve is refused before anything is written.
    const keys = experiment.plan(env).map((spec) => spec.key);
    if (saved !== null) checkSavedRuns(saved, `${out}/${FILES.results}`, keys);

    folder = await RunFolder.acquire(out, Object.values(FILES));
    if (saved === null) {
      checkNewRunFolder(out, parsed.overwrite); // again, now that no other run can write it
      await folder.clearRunFiles(Object.values(FILES));
    }
    const startedAt = saved ? new Date(saved.startedAt) : new Date();
    const before = saved?.seconds ?? 0;
    const clock = performance.now();
    const command = saved?.command ??
      ["deno task experiment", experiment.name, ...args.slice(args[0] === experiment.name ? 1 : 0)]
        .join(" ");
    const write = async (records: readonly RunRecord[], complete: boolean) => {
      const results = buildResults(experiment, env, records, complete, {
        command,
        source,
        startedAt,
        seconds: before + (performance.now() - clock) / 1000,
      });
      await writeFileAtomic(folder!.path(FILES.results), JSON.stringify(results, null, 2));
      savedRuns = records.length;
      await writeFileAtomic(folder!.path(FILES.page), renderExperimentPage(results));
      wrote = true;
      return results;
    };
    const total = experiment.plan(env).length * options.seeds.length;
    log(
      `${saved ? "resuming" : "running"} the ${experiment.name} experiment on ${data.name} ` +
        `(${data.train.labels.length} train / ${data.test.labels.length} test rows): ${total} ` +
        `runs of ${options.iterations} steps with ${backend.description}${
          saved ? `, ${saved.runs.length} done` : ""
        }; output in ${out}`,
    );
    const { records, complete } = await runExperiment(experiment, env, {
      signal: signals.signal,
      done: saved?.runs ?? [],
      log,
      onRecord: async (records) => {
        await write(records, false);
      },
    });
    const results = await write(records, complete);
    for (const t of results.tables) console.log(`\n${t.title}\n\n${markdownTable(t)}`);
    if (!complete) {
      console.error(
        `\ninterrupted by ${signals.received}: ${records.length} of ${total} runs are saved in ` +
          `${out}; continue with: deno task experiment --resume ${out}`,
      );
      return signals.exitCode;
    }
    console.log(`\n${total} runs in ${(results.seconds / 60).toFixed(1)} min; results in ${out}`);
    return 0;
  } catch (error) {
    if (error instanceof EnvironmentError && folder !== null) {
      // What the folder holds is said, as train says which checkpoint is kept.
      const kept = savedRuns === null
        ? "no run had been saved yet"
        : `the ${savedRuns} finished runs saved in ${folder.path(FILES.results)} are kept ` +
          `(continue with: deno task experiment --resume ${folder.dir})`;
      return reportFailure(new EnvironmentError(error.code, `${error.message}; ${kept}`));
    }
    return reportFailure(error);
  } finally {
    folder?.release(!wrote);
    backend?.dispose();
    signals.dispose();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
