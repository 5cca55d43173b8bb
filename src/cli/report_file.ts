/** Writes a run's report.html (placeholder until the report module lands). */
import type { Backend } from "../backend/backend.ts";
import type { Trainer, TrainResult } from "../train/trainer.ts";
import type { LoadedData } from "./data_source.ts";
import { writeFileAtomic } from "../io/files.ts";

/** Writes the report of a finished run. */
export async function writeReport(
  path: string,
  _trainer: Trainer,
  _result: TrainResult,
  _data: LoadedData,
  _backend: Backend,
): Promise<void> {
  await writeFileAtomic(path, "<!doctype html><title>report</title>");
}
