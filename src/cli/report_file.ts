/** Writes a finished run's report.html from its result. */
import type { Backend } from "../backend/backend.ts";
import type { Trainer, TrainResult } from "../train/trainer.ts";
import { embed } from "../nn/embed.ts";
import { renderReport } from "../report/report.ts";
import { writeFileAtomic } from "../io/files.ts";
import { runTimes } from "./metrics_file.ts";
import type { LoadedData } from "./data_source.ts";

/** Writes the report of a finished run (atomically). */
export async function writeReport(
  path: string,
  trainer: Trainer,
  result: TrainResult,
  data: LoadedData,
  backend: Backend,
): Promise<void> {
  const time = runTimes(result);
  const test = result.test;
  const html = renderReport({
    title: `${trainer.config.loss} on ${data.name} (${backend.kind})`,
    config: { ...trainer.config, backend: backend.description, data: data.name },
    summary: {
      magnetError: test?.magnetError ?? null,
      knnError: test?.knnError ?? null,
      precisionAt1: test?.precisionAt1 ?? null,
      rPrecision: test?.rPrecision ?? null,
      mapAtR: test?.mapAtR ?? null,
      nmi: test?.nmi ?? null,
      trainSeconds: time.seconds,
      stepMs: time.msPerStep,
      refreshSeconds: time.refreshes.secondsEach,
      iterations: result.iterations,
    },
    history: result.history,
    embedding: {
      points: result.testEmbeddings ?? await embed(backend, trainer.model, data.test.features),
      dim: trainer.model.outputDim,
      labels: data.test.labels,
      classNames: data.test.classNames,
      centres: result.index?.centres,
      centreClasses: result.index?.clusterClass,
    },
  });
  await writeFileAtomic(path, html);
}
