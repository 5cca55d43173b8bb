/**
 * `deno task train`: trains on the bundled MNIST or the user's CSV, shows progress, checkpoints
 * atomically, resumes, and writes metrics.json, model.json and report.html into the run folder.
 * A user mistake is one line on stderr and exit code 2; Ctrl-C saves a checkpoint and exits 130.
 */
import { MagnetInputError, NonFiniteLossError } from "../errors.ts";
import { createBackend } from "../backend/create.ts";
import type { Backend } from "../backend/backend.ts";
import {
  Trainer,
  type TrainerState,
  type TrainOptions,
  type TrainResult,
} from "../train/trainer.ts";
import { stateFromJson, stateToJson } from "../train/checkpoint.ts";
import { type Classifier, saveModel } from "../train/saved_model.ts";
import { embed } from "../train/embed.ts";
import { writeFileAtomic } from "../io/files.ts";
import {
  helpText,
  parseTrainArgs,
  reportFailure,
  TRAIN_FLAGS,
  type TrainArgs,
  UsageError,
} from "./args.ts";
import { type DataSource, loadData, type LoadedData } from "./data_source.ts";
import { formatDuration, percent, ProgressPrinter, table } from "./progress.ts";
import { writeReport } from "./report_file.ts";

const CHECKPOINT = "checkpoint.json";

function timestamp(): string {
  return new Date().toISOString().replace(/\..*$/, "").replace(/:/g, "-");
}

/** Makes sure `dir` exists and can take files, before any training time is spent. */
async function prepareOutDir(dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true });
    const probe = `${dir}/.write-test-${Deno.pid}`;
    await Deno.writeTextFile(probe, "");
    await Deno.remove(probe);
  } catch (error) {
    const reason = error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : error instanceof Deno.errors.AlreadyExists || error instanceof Deno.errors.NotADirectory
      ? "a file of that name is in the way"
      : (error as Error).message;
    throw new UsageError(`cannot write to the output folder ${dir}: ${reason}`);
  }
}

async function readCheckpoint(dir: string): Promise<{ state: TrainerState; source: DataSource }> {
  const path = `${dir}/${CHECKPOINT}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(`--resume ${dir}: no ${CHECKPOINT} there (is it a run folder?)`);
    }
    throw new UsageError(`--resume ${dir}: cannot read ${CHECKPOINT}: ${(error as Error).message}`);
  }
  const { state, extra } = stateFromJson(text, path);
  const source = extra.source as DataSource | undefined;
  if (source === undefined) throw new MagnetInputError(`${path} does not say which data it used`);
  return { state, source };
}

function sourceFromArgs(args: TrainArgs): DataSource {
  if (args.data === null && args.test !== null) {
    throw new UsageError("--test needs --data (the bundled MNIST has its own test split)");
  }
  return {
    kind: args.data === null ? "mnist" : "csv",
    train: args.data,
    test: args.test,
    testFraction: args.testFraction,
    labelColumn: args.labelColumn,
    splitSeed: args.splitSeed,
  };
}

async function saveCheckpoint(dir: string, state: TrainerState, source: DataSource): Promise<void> {
  await writeFileAtomic(`${dir}/${CHECKPOINT}`, stateToJson(state, { source }));
}

async function classifierOf(
  backend: Backend,
  trainer: Trainer,
  result: TrainResult,
  data: LoadedData,
): Promise<Classifier> {
  if (trainer.config.loss === "magnet" && result.index !== null && result.variance !== null) {
    return {
      kind: "magnet",
      centres: result.index.centres,
      centreClasses: result.index.clusterClass,
      variance: result.variance,
      votingClusters: trainer.config.votingClusters,
    };
  }
  return {
    kind: "knn",
    references: result.trainEmbeddings ?? await embed(backend, trainer.model, data.train.features),
    referenceLabels: data.train.labels,
    k: trainer.config.knnK,
  };
}

/** Runs the command with `args`; returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  let backend: Backend | null = null;
  const printer = { current: null as ProgressPrinter | null };
  try {
    const parsed = parseTrainArgs(args);
    if (parsed.help) {
      console.log(helpText(
        "deno task train",
        "Trains an embedding with the Magnet loss (or a baseline) and writes a run folder.",
        TRAIN_FLAGS,
      ));
      return 0;
    }
    let resume: { state: TrainerState; source: DataSource } | null = null;
    if (parsed.resume !== null) {
      resume = await readCheckpoint(parsed.resume);
      const changed = Object.keys(parsed.config).filter((key) => key !== "iterations");
      if (changed.length > 0 || parsed.data !== null || parsed.test !== null) {
        throw new UsageError(
          "--resume continues a run with its saved settings and data; only --iterations, " +
            "--backend, --quiet and --checkpoint-every may be given with it",
        );
      }
    }
    const source = resume?.source ?? sourceFromArgs(parsed);
    const data = await loadData(source);
    backend = await createBackend({ kind: parsed.backend });
    const out = parsed.resume ?? parsed.out ?? `runs/${timestamp()}`;
    const controller = new AbortController();
    let checkpointsSaved = 0;
    const progress = new ProgressPrinter(Deno.stdout.isTerminal(), parsed.quiet);
    printer.current = progress;
    const options: TrainOptions = {
      ...parsed.config,
      backend,
      train: data.train,
      test: data.test,
      signal: controller.signal,
      onProgress: (e) => progress.event(e),
      checkpointEvery: parsed.checkpointEvery,
      onCheckpoint: async (state) => {
        await saveCheckpoint(out, state, source);
        checkpointsSaved++;
      },
    };
    const trainer = resume !== null
      ? await Trainer.resume(options, {
        ...resume.state,
        config: { ...resume.state.config, ...parsed.config },
      })
      : await Trainer.create(options);
    const outExisted = await Deno.stat(out).then(() => true, () => false);
    await prepareOutDir(out);
    const onInterrupt = () => controller.abort();
    Deno.addSignalListener("SIGINT", onInterrupt);
    const c = trainer.config;
    progress.line(
      `${
        resume ? "resuming" : "training"
      } ${c.loss} on ${data.name} (${data.train.labels.length} ` +
        `train / ${data.test.labels.length} test rows, ${data.train.classNames.length} classes) ` +
        `with ${backend.description}${
          resume ? ` from step ${trainer.iteration}` : ""
        }; output in ${out}`,
    );
    let result: TrainResult;
    try {
      result = await trainer.run();
    } catch (error) {
      if (error instanceof NonFiniteLossError) {
        progress.finish();
        let kept: string;
        if (checkpointsSaved > 0 || resume !== null) {
          kept = `The last checkpoint in ${out} is kept; nothing newer was written.`;
        } else {
          if (!outExisted) await Deno.remove(out, { recursive: true }).catch(() => {});
          kept = "No checkpoint had been written yet, so nothing was saved.";
        }
        console.error(`error: ${error.message} ${kept}`);
        return 1;
      }
      throw error;
    } finally {
      Deno.removeSignalListener("SIGINT", onInterrupt);
    }
    progress.finish();
    await saveCheckpoint(out, await trainer.state(), source);
    if (result.status === "interrupted") {
      console.error(
        `interrupted at step ${result.iterations}: checkpoint saved in ${out}; ` +
          `continue with: deno task train --resume ${out}`,
      );
      return 130;
    }
    await saveModel(`${out}/model.json`, backend, {
      model: trainer.model,
      loss: c.loss,
      classNames: data.train.classNames,
      featureNames: data.train.featureNames ?? null,
      standardization: data.standardization,
      classifier: await classifierOf(backend, trainer, result, data),
    });
    const t = result.timings;
    const metrics = {
      backend: backend.kind,
      device: backend.description,
      loss: c.loss,
      data: data.name,
      iterations: result.iterations,
      seconds: result.seconds,
      msPerStep: (1000 * t.steps) / Math.max(t.stepCount, 1),
      secondsPerRefresh: t.refreshCount > 0 ? t.refresh / t.refreshCount : null,
      test: result.test,
      variance: result.variance,
      timings: t,
      config: c,
      history: result.history,
    };
    await writeFileAtomic(`${out}/metrics.json`, JSON.stringify(metrics, null, 2));
    await writeReport(`${out}/report.html`, trainer, result, data, backend);
    const m = result.test;
    const rows: [string, string][] = [
      ["backend", backend.description],
      ["loss", c.loss],
      ["data", `${data.name}: ${data.train.labels.length} train / ${data.test.labels.length} test`],
      ["steps", `${result.iterations}`],
      ["time", `${formatDuration(result.seconds)} (${metrics.msPerStep.toFixed(1)} ms/step)`],
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
    return reportFailure(error);
  } finally {
    backend?.dispose();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
