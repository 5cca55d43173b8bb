/** Writes a finished run's report.html from its result. */
import type { Backend } from "../backend/backend.ts";
import type { Trainer } from "../train/trainer.ts";
import type { TrainResult } from "../train/types.ts";
import { embed } from "../nn/embed.ts";
import { renderReport } from "../report/report.ts";
import { loadUmap } from "../report/umap.ts";
import { writeFileAtomic } from "../io/files.ts";
import { runTimes } from "../train/times.ts";
import type { LoadedData } from "../data/source.ts";
import { applicableSettings } from "../train/config.ts";
import { LOSSES } from "../losses/registry.ts";
import { ImageRows } from "../data/images/image_rows.ts";

/** How {@link writeReport} draws the report. */
export interface WriteReportOptions {
  /** The embedding map's projection; "umap" loads umap-js first. Default "pca". */
  projection?: "pca" | "umap";
}

/**
 * Writes the report of a finished run (atomically). With `projection: "umap"` the UMAP package is
 * loaded first (the default PCA map never loads it).
 */
export async function writeReport(
  path: string,
  trainer: Trainer,
  result: TrainResult,
  data: LoadedData,
  backend: Backend,
  options: WriteReportOptions = {},
): Promise<void> {
  const projection = options.projection ?? "pca";
  if (projection === "umap") await loadUmap();
  const settings = applicableSettings(trainer.config);
  const usesIndex = LOSSES[trainer.config.loss].batches === "neighbourhood";
  if (usesIndex) settings.refreshEvery = trainer.refreshEvery;
  const test = data.test;
  const html = renderReport({
    title: `${trainer.config.loss} on ${data.name} (${backend.kind})`,
    config: {
      ...settings,
      backend: backend.description,
      data: data.name,
    },
    summary: {
      metrics: result.test,
      iterations: result.iterations,
      time: runTimes(result),
      knnK: trainer.config.knnK,
      kept: result.kept,
      stoppedEarly: result.stoppedEarly,
      usesIndex,
    },
    history: result.history,
    embedding: {
      points: result.testEmbeddings ?? await embed(backend, trainer.model, data.test.features),
      dim: trainer.model.outputDim,
      labels: data.test.labels,
      classNames: data.test.classNames,
      centres: result.index?.centres,
      centreClasses: result.index?.clusterClass,
      // Image files: their pictures on the map.
      ...(test.features instanceof ImageRows
        ? {
          images: {
            shape: test.features.shape,
            pixels: (row: number) => (test.features as ImageRows).image(row),
            ids: test.ids,
          },
        }
        : {}),
    },
  }, { projection });
  await writeFileAtomic(path, html);
}
