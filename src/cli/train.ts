/**
 * `deno task train`: trains on the bundled MNIST, Fashion-MNIST, the user's CSV or folders of
 * images, shows progress,
 * checkpoints atomically, resumes, and writes metrics.json, model.json and report.html into the run
 * folder.
 *
 * Nothing is lost and nothing mixes: a new run takes a new or empty folder (or one it may
 * overwrite) and locks it; SIGINT and SIGTERM finish the step, save and exit, and never cut a write
 * short; a finished run writes its checkpoint first, so the folder can be resumed at every moment.
 * A user mistake is one line on stderr and exit code 2.
 */
import { DivergenceError, EnvironmentError } from "../errors.ts";
import { createBackend } from "../backend/create.ts";
import type { Backend } from "../backend/backend.ts";
import { Trainer } from "../train/trainer.ts";
import type { TrainerState, TrainResult, TrainSetup } from "../train/types.ts";
import { stateFromJson, stateToJson } from "../train/checkpoint.ts";
import { saveModel } from "../train/model_file.ts";
import { writeFileAtomic } from "../io/files.ts";
import {
  helpText,
  isFolder,
  parseTrainArgs,
  reportFailure,
  TRAIN_FLAGS,
  type TrainArgs,
  UsageError,
} from "./args.ts";
import {
  type DataSource,
  describeSource,
  fingerprint,
  loadData,
  readDataSource,
} from "../data/source.ts";
import { JsonFields } from "../io/json_fields.ts";
import { readInputText } from "../io/input.ts";
import { defaultCacheDir } from "../data/images/cache.ts";
import { formatDuration, percent, ProgressPrinter, table } from "./progress.ts";
import { runMetrics, runTimes } from "./metrics_file.ts";
import { writeReport } from "./report_file.ts";
import { absolutePath, checkNewRunFolder, RUN_FILES, RunFolder } from "./run_folder.ts";
import { StopSignals } from "./signals.ts";

/** The command-line settings a checkpoint keeps, so that `--resume DIR` alone continues exactly. */
interface RunSettings {
  backend: "auto" | "webgpu" | "cpu";
  checkpointEvery: number;
}

/** What a checkpoint carries besides the trainer's state. */
interface CheckpointExtra {
  source: DataSource;
  /** See {@link fingerprint}. */
  data: string;
  settings: RunSettings;
}

function timestamp(): string {
  return new Date().toISOString().replace(/\..*$/, "").replace(/:/g, "-");
}

/** A saved run to continue: its state, data and settings. */
interface Saved {
  dir: string;
  /** Its checkpoint file. */
  path: string;
  state: TrainerState;
  extra: CheckpointExtra;
}

/** What a checkpoint carries besides the trainer's state, read field by field. */
function readExtra(extra: JsonFields): CheckpointExtra {
  const source = readDataSource(extra.object("source"));
  // Never optional: a missing or mistyped hash would switch the check of the data off.
  const data = extra.matching("data", /^[0-9a-f]{64}$/, "a SHA-256 in hex (64 digits)");
  const settings = extra.object("settings");
  return {
    source,
    data,
    settings: {
      backend: settings.oneOf("backend", ["auto", "webgpu", "cpu"] as const),
      checkpointEvery: settings.integer("checkpointEvery", 0),
    },
  };
}

async function readCheckpoint(dir: string): Promise<Saved> {
  const path = `${dir}/${RUN_FILES.checkpoint}`;
  if (await Deno.lstat(path).catch(() => null) === null) {
    throw new UsageError(`--resume ${dir}: no ${RUN_FILES.checkpoint} there (is it a run folder?)`);
  }
  const { state, extra } = stateFromJson(await readInputText(path, "a checkpoint file"), path);
  return {
    dir,
    path,
    state,
    extra: readExtra(new JsonFields(path, "", { extra }).object("extra")),
  };
}

/**
 * Where the data comes from, by the flags (whose combinations the flag table has checked: which
 * flags go with which data, see args.ts).
 */
function sourceFromArgs(args: TrainArgs): DataSource {
  const images = args.data !== null && isFolder(absolutePath(args.data));
  if (args.test !== null && isFolder(absolutePath(args.test)) !== images) {
    throw new UsageError(
      images
        ? `--test ${args.test} is not a folder: with --data a folder of images, --test is a ` +
          "folder of the same class subfolders"
        : `--test ${args.test} is a folder, but --data ${args.data} is a file: give both as ` +
          "CSV files, or both as folders of images",
    );
  }
  const split = { testFraction: args.testFraction, splitSeed: args.splitSeed };
  if (args.dataset === "fashion-mnist") {
    return { kind: "fashion-mnist", dir: absolutePath(args.dataDir) };
  }
  if (args.data === null) return { kind: "mnist", ...split };
  if (images) {
    return {
      kind: "images",
      train: absolutePath(args.data),
      test: args.test === null ? null : absolutePath(args.test),
      ...split,
      size: args.imageSize,
      resize: args.resize,
      channels: args.channels,
      cache: absolutePath(args.cache ?? defaultCacheDir()),
      skipBadImages: args.skipBadImages,
    };
  }
  return {
    kind: "csv",
    train: absolutePath(args.data),
    test: args.test === null ? null : absolutePath(args.test),
    labelColumn: args.labelColumn,
    ...split,
  };
}

/** Refuses an end before the steps already done (the flag table refused the other flags). */
function checkResumeArgs(args: TrainArgs, saved: Saved): void {
  const iterations = args.config.iterations;
  if (iterations !== undefined && iterations < saved.state.iteration) {
    throw new UsageError(
      `--iterations ${iterations} is below the ${saved.state.iteration} steps the run in ` +
        `${saved.dir} has done`,
    );
  }
}

/** The settings of this invocation: the saved ones on resume, unless a flag overrides them. */
function settingsOf(args: TrainArgs, saved: Saved | null, note: (line: string) => void) {
  const given = (flag: string) => args.given.has(flag);
  if (saved === null) return { backend: args.backend, checkpointEvery: args.checkpointEvery };
  const was = saved.extra.settings;
  const backend = given("backend") ? args.backend : was.backend;
  const checkpointEvery = given("checkpoint-every") ? args.checkpointEvery : was.checkpointEvery;
  note(
    `resuming ${saved.dir} at step ${saved.state.iteration} with --backend ${backend} ` +
      `--checkpoint-every ${checkpointEvery} (${given("backend") ? "given" : "saved"})`,
  );
  if (given("backend") && backend !== was.backend) {
    note(
      `note: the run used --backend ${was.backend}; on another backend it will not end exactly ` +
        "as an uninterrupted run would",
    );
  }

  return { backend, checkpointEvery };
}

/** Runs the command with `args`; returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  let backend: Backend | null = null;
  let folder: RunFolder | null = null;
  let wrote = false;
  const printer = { current: null as ProgressPrinter | null };
  let out = "";
  let resumedFrom: Saved | null = null;
  /** The newest checkpoint this invocation wrote, if any. */
  let progressSaved: { step: number; finished: boolean } | null = null;
  /** What a failure to write leaves behind, in words. */
  const kept = () =>
    progressSaved?.finished
      ? `the finished run's checkpoint is saved in ${out}: once there is room, ` +
        `deno task train --resume ${out} writes the rest`
      : progressSaved !== null
      ? `the previous checkpoint in ${out} (step ${progressSaved.step}) is kept`
      : resumedFrom !== null && resumedFrom.dir === out
      ? `the checkpoint in ${out} (step ${resumedFrom.state.iteration}) is kept as it was`
      : "no checkpoint had been written yet";
  const signals = new StopSignals((name) =>
    console.error(`${name} received: finishing the save first, then exiting`)
  );
  try {
    const parsed = parseTrainArgs(args);
    if (parsed.help) {
      console.log(helpText(
        "train",
        "Trains an embedding with the Magnet loss (or a baseline) and writes a run folder.",
        TRAIN_FLAGS,
      ));
      return 0;
    }
    const saved = parsed.resume === null ? null : await readCheckpoint(absolutePath(parsed.resume));
    if (saved !== null) checkResumeArgs(parsed, saved);
    resumedFrom = saved;
    out = parsed.out !== null
      ? absolutePath(parsed.out)
      : saved?.dir ?? absolutePath(`runs/${timestamp()}`);
    const newFolder = saved === null || out !== saved.dir;
    if (newFolder) checkNewRunFolder(out, parsed.overwrite);

    const startedAt = new Date();
    const progress = new ProgressPrinter(Deno.stdout.isTerminal(), parsed.quiet);
    printer.current = progress;
    const settings = settingsOf(parsed, saved, (line) => progress.line(line));
    const source = saved?.extra.source ?? sourceFromArgs(parsed);
    const data = await loadData(source, { onProgress: (p) => progress.decoding(p) });
    for (const note of data.notes ?? []) progress.line(note);
    const dataHash = await fingerprint(data);
    if (saved !== null && saved.extra.data !== dataHash) {
      throw new UsageError(
        `--resume ${saved.dir}: the data changed since the checkpoint (${
          describeSource(source)
        } no longer holds the same rows), so the run cannot continue exactly`,
      );
    }
    backend = await createBackend({ kind: settings.backend, threads: parsed.threads ?? undefined });
    const extra: CheckpointExtra = {
      source,
      data: dataHash,
      // The backend that ran, so that a resumed run runs where this one did.
      settings: { backend: backend.kind, checkpointEvery: settings.checkpointEvery },
    };
    const setup: TrainSetup = {
      backend,
      train: data.train,
      test: data.test,
      signal: signals.signal,
      onProgress: (e) => progress.event(e),
      checkpointEvery: settings.checkpointEvery,
      onCheckpoint: async (state) => {
        await writeFileAtomic(folder!.path(RUN_FILES.checkpoint), stateToJson(state, extra));
        wrote = true;
        progressSaved = { step: state.iteration, finished: false };
      },
    };
    const trainer = saved !== null
      ? await Trainer.resume(setup, {
        ...saved.state,
        config: { ...saved.state.config, ...parsed.config },
      }, saved.path)
      : await Trainer.create(setup, parsed.config);

    const startedFrom = trainer.iteration;
    folder = await RunFolder.acquire(out);
    if (newFolder) {
      checkNewRunFolder(out, parsed.overwrite); // again, now that no other run can write it
      await folder.clearRunFiles();
    }
    const c = trainer.config;
    progress.line(
      `${saved ? "resuming" : "training"} ${c.loss} on ${data.name} (${data.train.labels.length} ` +
        `train / ${data.test.labels.length} test rows, ${data.train.classNames.length} classes) ` +
        `with ${backend.description}${
          saved ? ` from step ${trainer.iteration}` : ""
        }; output in ${out}`,
    );
    let result: TrainResult;
    try {
      result = await trainer.run();
    } catch (error) {
      if (!(error instanceof DivergenceError)) throw error;
      progress.finish();
      // The last good state is saved (nothing is lost; it can be inspected or resumed), and the
      // message says what to change.
      await writeFileAtomic(
        folder.path(RUN_FILES.checkpoint),
        stateToJson(await trainer.state(), extra),
      );
      wrote = true;
      console.error(
        `error: ${error.message} The last good state (step ${error.iteration}) is saved in ` +
          `${folder.path(RUN_FILES.checkpoint)}.`,
      );
      return 1;
    }
    progress.finish();
    // The checkpoint first: from here on the folder holds a finished, resumable run whatever
    // stops the process; the other files are written from it (each atomically).
    await writeFileAtomic(
      folder.path(RUN_FILES.checkpoint),
      stateToJson(await trainer.state(), extra),
    );
    wrote = true;
    progressSaved = { step: result.iterations, finished: result.status === "completed" };
    if (result.status === "interrupted") {
      console.error(
        `interrupted by ${signals.received} at step ${result.iterations}: checkpoint saved in ` +
          `${out}; continue with: deno task train --resume ${out}`,
      );
      return signals.exitCode;
    }
    await saveModel(folder.path(RUN_FILES.model), backend, {
      model: trainer.model,
      loss: c.loss,
      classNames: data.train.classNames,
      featureNames: data.train.featureNames ?? null,
      standardization: data.standardization,
      images: data.images ?? null,
      classifier: result.classifier!, // a completed run always has one
    });
    const metrics = runMetrics(result, {
      backend,
      config: c,
      refreshEvery: trainer.refreshEvery,
      checkpointEvery: settings.checkpointEvery,
      data,
      dataHash,
      startedAt,
      startedFrom,
    });
    await writeFileAtomic(folder.path(RUN_FILES.metrics), JSON.stringify(metrics, null, 2));
    await writeReport(folder.path(RUN_FILES.report), trainer, result, data, backend, {
      projection: parsed.map,
    });
    const m = result.test;
    const time = runTimes(result);
    const each = (x: { count: number; secondsEach: number | null }) =>
      x.count === 0 ? "none" : `${x.count} x ${x.secondsEach!.toFixed(2)} s`;
    const rows: [string, string][] = [
      ["backend", backend.description],
      ["loss", c.loss],
      ["data", `${data.name}: ${data.train.labels.length} train / ${data.test.labels.length} test`],
      ["steps", `${result.iterations}`],
      [
        "wall time",
        `${formatDuration(time.seconds)} (${time.secondsPer1000Steps.toFixed(1)} s per 1,000 ` +
        "steps, all included)",
      ],
      ["one step", `${time.msPerStep.toFixed(2)} ms (sample, forward, backward, update)`],
      ...(c.loss === "magnet"
        ? [["index refreshes", each(time.refreshes)] as [string, string]]
        : []),
      ["evaluations", each(time.evaluations)],
      ["magnet-rule error", percent(m?.magnetError)],
      [`${c.knnK}-NN error`, percent(m?.knnError)],
      ["precision@1", percent(m?.precisionAt1)],
      ["R-precision", percent(m?.rPrecision)],
      ["MAP@R", percent(m?.mapAtR)],
      ["NMI", m ? m.nmi.toFixed(4) : "-"],
      ["output", out],
    ];
    console.log(table(rows));
    return 0;
  } catch (error) {
    printer.current?.finish();
    if (error instanceof EnvironmentError) {
      return reportFailure(new EnvironmentError(error.code, `${error.message}; ${kept()}`));
    }
    return reportFailure(error);
  } finally {
    folder?.release(!wrote);
    backend?.dispose();
    signals.dispose();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
