/**
 * `deno task train`: trains on the bundled MNIST, Fashion-MNIST, the user's CSV or folders of
 * images or a pretrained backbone, shows progress, checkpoints atomically, resumes, and writes
 * metrics.json, model.json and report.html into the run folder. The file is long: it is the one
 * place where a run's steps (data, backbone, backend, trainer, signals, files) meet, in order.
 *
 * Nothing is lost and nothing mixes: a new run takes a new or empty folder (or one it may
 * overwrite) and locks it; SIGINT and SIGTERM finish the step, save and exit, and never cut a write
 * short; a finished run writes its checkpoint first, so the folder can be resumed at every moment.
 * A user mistake is one line on stderr and exit code 2.
 */
import { DivergenceError, EnvironmentError, MagnetInputError } from "../errors.ts";
import { openBackend } from "./backend.ts";
import type { Backend } from "../backend/backend.ts";
import { Trainer } from "../train/trainer.ts";
import type { TrainerState, TrainResult, TrainSetup } from "../train/types.ts";
import { stateFromJson, stateToJson } from "../train/checkpoint.ts";
import { saveModel } from "../train/model_file.ts";
import { inputRangeOf } from "../train/saved_model.ts";
import { writeFileAtomic } from "../io/files.ts";
import {
  CLI_DEFAULTS,
  helpText,
  isFolder,
  parseTrainArgs,
  reportFailure,
  TRAIN_FLAGS,
  type TrainArgs,
  UsageError,
} from "./args.ts";
import {
  asPixels,
  type DataSource,
  describeSource,
  fingerprint,
  loadData,
  readDataSource,
} from "../data/source.ts";
import { JsonFields } from "../io/json_fields.ts";
import { readInputText } from "../io/input.ts";
import { defaultCacheDir } from "../data/images/cache.ts";
import { ProgressPrinter, table } from "./progress.ts";
import { runMetrics } from "./metrics_file.ts";
import { describeSchedule, rowCounts, scheduleLine, summaryRows } from "./summary.ts";
import { fitToData, stepsPerEpoch } from "../train/schedule.ts";
import { resolveConfig } from "../train/config.ts";
import { writeReport } from "./report_file.ts";
import { absolutePath, checkNewRunFolder, RUN_FILES, RunFolder } from "./run_folder.ts";
import { StopSignals } from "./signals.ts";
import { readOnnxFile } from "./onnx_file.ts";
import { type OnnxSource, structureBytes, structureSource } from "../nn/onnx/source.ts";
import { fromBase64, toBase64 } from "../io/arrays.ts";

/** The command-line settings a checkpoint keeps, so that `--resume DIR` alone continues exactly. */
interface RunSettings {
  backend: "auto" | "webgpu" | "cpu";
  checkpointEvery: number;
}

/** The network a backbone run fine-tunes, as a checkpoint keeps it (weights are variables). */
interface SavedBackbone {
  /** The file it came from (absolute), for messages. */
  file: string;
  /** SHA-256 of that file. */
  sha256: string;
  /** The file without its weights, base64. */
  structure: string;
}

/** What a checkpoint carries besides the trainer's state. */
interface CheckpointExtra {
  source: DataSource;
  /** See {@link fingerprint}. */
  data: string;
  settings: RunSettings;
  /** A backbone run's network (absent otherwise). */
  backbone?: SavedBackbone;
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
function readExtra(extra: JsonFields, state: TrainerState): CheckpointExtra {
  const source = readDataSource(extra.object("source"));
  // Never optional: a missing or mistyped hash would switch the check of the data off.
  const data = extra.matching("data", /^[0-9a-f]{64}$/, "a SHA-256 in hex (64 digits)");
  const settings = extra.object("settings");
  const backbone = extra.get("backbone") === undefined ? undefined : extra.object("backbone");
  if ((state.config.model === "backbone") !== (backbone !== undefined)) {
    extra.fail(
      "backbone",
      state.config.model === "backbone" ? "the network of a backbone run" : "nothing",
      extra.get("backbone"),
    );
  }
  return {
    source,
    data,
    settings: {
      backend: settings.oneOf("backend", ["auto", "webgpu", "cpu"] as const),
      checkpointEvery: settings.integer("checkpointEvery", 0),
    },
    ...(backbone === undefined ? {} : {
      backbone: {
        file: backbone.string("file", true),
        sha256: backbone.matching("sha256", /^[0-9a-f]{64}$/, "a SHA-256 in hex (64 digits)"),
        structure: backbone.matching("structure", /^[A-Za-z0-9+/]+={0,2}$/, "base64 text"),
      },
    }),
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
    extra: readExtra(new JsonFields(path, "", { extra }).object("extra"), state),
  };
}

/** The network a run fine-tunes: the saved structure on resume, else the --backbone file. */
async function backboneOf(args: TrainArgs, saved: Saved | null): Promise<OnnxSource | undefined> {
  const kept = saved?.extra.backbone;
  if (kept !== undefined) {
    let bytes: Uint8Array;
    try {
      bytes = fromBase64(kept.structure);
    } catch {
      throw new UsageError(`--resume ${saved!.dir}: the checkpoint's backbone is not valid base64`);
    }
    return structureSource(bytes, kept.sha256, kept.file);
  }
  if (args.backbone === null) return undefined;
  return await readOnnxFile(absolutePath(args.backbone), "--backbone");
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
  // The built-in sets and image folders hold out validation rows only when asked to.
  const held = args.valFraction ? { valFraction: args.valFraction } : {};
  if (args.dataset === "fashion-mnist") {
    return { kind: "fashion-mnist", dir: absolutePath(args.dataDir), ...held };
  }
  if (args.data === null) return { kind: "mnist", ...split, ...held };
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
      ...held,
    };
  }
  return {
    kind: "csv",
    train: absolutePath(args.data),
    test: args.test === null ? null : absolutePath(args.test),
    labelColumn: args.labelColumn,
    ...split,
    val: args.val === null ? null : absolutePath(args.val),
    valFraction: args.val !== null ? 0 : args.valFraction ?? CLI_DEFAULTS.csvValFraction,
    idColumn: args.idColumn,
    ignoreColumns: args.ignoreColumns,
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

/** For --help with data flags: the defaults that depend on the data, resolved for these data. */
async function fittedForHelp(args: TrainArgs): Promise<string> {
  try {
    const data = await loadData(sourceFromArgs(args));
    const trainRows = data.train.labels.length;
    const config = resolveConfig(
      fitToData(args.config, { trainRows, hasValidation: data.validation !== null }),
    );
    return `For these data (${data.name}: ${rowCounts(data)}), the defaults resolve to: ${
      describeSchedule(config, {
        loss: config.loss,
        epoch: stepsPerEpoch(trainRows, config),
        validation: data.validation !== null,
      })
    }.`;
  } catch (error) {
    if (!(error instanceof MagnetInputError)) throw error;
    return `(The defaults that depend on the data cannot be shown for these flags: ${error.message})`;
  }
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
  const signals = new StopSignals(
    (name) => console.error(`${name} received: finishing the save first, then exiting`),
    (name) => {
      printer.current?.finish();
      console.error(
        `${name} received: stopping (within a moment, also during an index build or an ` +
          "evaluation) and saving a checkpoint",
      );
    },
  );
  try {
    const parsed = parseTrainArgs(args);
    if (parsed.help) {
      console.log(helpText(
        "train",
        "Trains an embedding with the Magnet loss (or a baseline) and writes a run folder.",
        TRAIN_FLAGS,
      ));
      // With data flags, the defaults that depend on the data are shown as they resolve for it.
      if (["data", "dataset", "data-dir", "val", "val-fraction"].some((f) => parsed.given.has(f))) {
        console.log(`\n${await fittedForHelp(parsed)}`);
      }
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
    // Reading and checking a large data set takes a moment: say what is under way.
    progress.line(`loading ${describeSource(source)}`);
    const loaded = await loadData(source, { onProgress: (p) => progress.decoding(p) });
    // A backbone standardises its images itself, with its own statistics: it gets the pixels.
    const backboneRun = (saved?.state.config.model ?? parsed.config.model) === "backbone";
    const data = backboneRun ? await asPixels(loaded) : loaded;
    for (const note of data.notes ?? []) progress.line(note);
    const dataHash = await fingerprint(data);
    if (saved !== null && saved.extra.data !== dataHash) {
      throw new UsageError(
        `--resume ${saved.dir}: the data changed since the checkpoint (${
          describeSource(source)
        } no longer holds the same rows), so the run cannot continue exactly`,
      );
    }
    const network = await backboneOf(parsed, saved);
    backend = await openBackend({ kind: settings.backend, threads: parsed.threads ?? undefined });
    if (backend.softwareAdapter) {
      progress.line(
        `note: ${backend.description} is a software adapter: WebGPU runs on the CPU here, more ` +
          "slowly than --backend cpu",
      );
    }
    const extra: CheckpointExtra = {
      source,
      data: dataHash,
      // The backend that ran, so that a resumed run runs where this one did.
      settings: { backend: backend.kind, checkpointEvery: settings.checkpointEvery },
      ...(network === undefined ? {} : {
        backbone: {
          file: network.label,
          sha256: network.sha256,
          structure: toBase64(structureBytes(network)),
        },
      }),
    };
    const setup: TrainSetup = {
      backend,
      train: data.train,
      test: data.test,
      backbone: network,
      ...(data.validation === null ? {} : { validation: data.validation }),
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
      `${saved ? "resuming" : "training"} ${c.loss} on ${data.name} (${
        rowCounts(data)
      }, ${data.train.classNames.length} classes) with ${backend.description}${
        saved ? ` from step ${trainer.iteration}` : ""
      }; output in ${out}`,
    );
    progress.line(scheduleLine(trainer, data));
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
      kept: result.kept,
      // Tables and IDX images (image folders say how their pixels are normalised instead).
      inputRange: data.train.features instanceof Float32Array
        ? inputRangeOf(data.train.features, data.train.dim)
        : null,
      columns: source.kind === "csv"
        ? { label: source.labelColumn, id: source.idColumn, ignored: source.ignoreColumns }
        : null,
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
    if (parsed.map === "umap") {
      const points = Math.min(3000, data.test.labels.length); // the report's default sample
      progress.line(`drawing the report's UMAP map of ${points} test embeddings`);
    }
    await writeReport(folder.path(RUN_FILES.report), trainer, result, data, backend, {
      projection: parsed.map,
    });
    const rows = summaryRows(result, { backend: backend.description, config: c, data, out });
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
