/**
 * `deno task experiment <name>`: runs one of the paper's claims as training runs over several
 * seeds, writing results.json and experiment.html into a folder after every finished run. Like
 * `train`, it locks its folder, refuses a used one unless --overwrite, and stops cleanly on
 * SIGINT or SIGTERM; `--resume DIR` continues a stopped experiment, skipping the runs it finished.
 */
import { createBackend } from "../backend/create.ts";
import type { Backend } from "../backend/backend.ts";
import { MagnetInputError } from "../errors.ts";
import { type DataSource, loadData, readDataSource } from "../data/source.ts";
import { writeFileAtomic } from "../io/files.ts";
import { JsonFields } from "../io/json_fields.ts";
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
import { MAX_SEED } from "../train/config.ts";
import { helpText, intFlag, parseFlags, reportFailure, UsageError } from "./args.ts";
import { absolutePath, checkNewRunFolder, RunFolder } from "./run_folder.ts";
import { StopSignals } from "./signals.ts";

const FILES = { results: "results.json", page: "experiment.html" } as const;

/** Rows of the quick version's data: small enough for CI, large enough to mean something. */
const QUICK_ROWS = { train: 3000, test: 1000 } as const;

const FLAGS = {
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
  },
  "backend": {
    kind: "choice",
    default: "auto",
    choices: ["auto", "webgpu", "cpu"],
    help: "compute backend",
  },
  "threads": { kind: "int", default: "all cores", help: "CPU backend: threads" },
  "out": {
    kind: "string",
    default: "runs/experiment-<name>-<timestamp>",
    help: "output folder (new or empty, unless --overwrite)",
  },
  "overwrite": { kind: "flag", help: "let a new experiment replace the results in --out" },
  "resume": {
    kind: "string",
    help: "continue the experiment in this folder, skipping its finished runs",
  },
  "quiet": { kind: "flag", help: "print only the final tables" },
  "help": { kind: "flag", help: "show this help" },
} as const;

/** Flags that may go with --resume. */
const RESUME_FLAGS = ["resume", "backend", "threads", "quiet"];

function usage(): string {
  const names = Object.values(EXPERIMENTS)
    .map((e) => `  ${e.name.padEnd(10)} ${e.title}: ${e.claim}`)
    .join("\n");
  return helpText(
    "experiment <name>",
    `Puts a claim of the paper to the test: trains every setting of the experiment once per ` +
      `seed and writes results.json and experiment.html.\n\nExperiments:\n${names}`,
    FLAGS,
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
  const v = parseFlags(named ? rest : args, FLAGS);
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
  const choice = <T extends string>(flag: keyof typeof FLAGS, fallback: T): T => {
    const value = str(flag);
    const spec = FLAGS[flag] as { choices?: readonly string[] };
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
  if (given.has("data-dir") && dataset !== "fashion-mnist") {
    throw new UsageError("--data-dir is where Fashion-MNIST is: it needs --dataset fashion-mnist");
  }
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

/** A saved experiment to continue, read field by field. */
async function readSaved(dir: string): Promise<SavedResults> {
  const path = `${dir}/${FILES.results}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(`--resume ${dir}: no ${FILES.results} there (is it an experiment?)`);
    }
    throw new UsageError(`--resume ${dir}: cannot read it: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new MagnetInputError(`${path} is damaged: ${(error as Error).message}`);
  }
  const file = new JsonFields(path, "", raw);
  if (file.get("format") !== "magnet-experiment") {
    file.fail("format", '"magnet-experiment"', file.get("format"));
  }
  if (file.get("version") !== 1) file.fail("version", "1", file.get("version"));
  const name = file.get("experiment");
  if (typeof name !== "string" || !(name in EXPERIMENTS)) {
    file.fail("experiment", Object.keys(EXPERIMENTS).join(" or "), name);
  }
  const options = file.object("options");
  options.array("seeds").forEach((s, i) => {
    if (!Number.isInteger(s)) options.fail(`seeds[${i}]`, "an integer", s);
  });
  options.integer("iterations", 1);
  if (!["mlp", "cnn"].includes(options.get("model") as string)) {
    options.fail("model", "mlp or cnn", options.get("model"));
  }
  const source = readDataSource(file.object("source"), ["mnist", "fashion-mnist"]);
  for (const run of file.objects("runs")) {
    if (typeof run.get("key") !== "string") run.fail("key", "a string", run.get("key"));
    run.integer("seed", 0, MAX_SEED);
    run.array("curve");
    run.object("metrics");
  }
  file.number("seconds", 0);
  return { ...(raw as SavedResults), source };
}

function timestamp(): string {
  return new Date().toISOString().replace(/\..*$/, "").replace(/:/g, "-");
}

/** Runs the command with `args`; returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  let backend: Backend | null = null;
  let folder: RunFolder | null = null;
  let wrote = false;
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
      const refused = [...parsed.given].filter((f) => !RESUME_FLAGS.includes(f));
      if (refused.length > 0) {
        throw new UsageError(
          `--resume continues an experiment with its saved settings, so ${
            refused.map((f) => `--${f}`).join(", ")
          } cannot be given with it (allowed: --backend, --threads, --quiet)`,
        );
      }
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
    backend = await createBackend({ kind: parsed.backend, threads: parsed.threads ?? undefined });
    const env: ExperimentEnv = { backend, data, options };
    experiment.plan(env); // a setting the data cannot serve is refused before anything is written

    folder = await RunFolder.acquire(out);
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
    return reportFailure(error);
  } finally {
    folder?.release(!wrote);
    backend?.dispose();
    signals.dispose();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
