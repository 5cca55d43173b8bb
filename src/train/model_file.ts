/** Model files: a trained model (see saved_model.ts) saved as one JSON file, written atomically. */
import type { Backend } from "../backend/backend.ts";
import { writeFileAtomic } from "../io/files.ts";
import { readInputText } from "../io/input.ts";
import { modelFromJson, modelToJson, type SavedModel } from "./saved_model.ts";

/** Writes `saved` (with the parameters' current values on `backend`) to `path`, atomically. */
export async function saveModel(path: string, backend: Backend, saved: SavedModel): Promise<void> {
  await writeFileAtomic(path, await modelToJson(backend, saved));
}

/** Reads a model written by {@link saveModel}; a bad file is a `MagnetInputError` naming it. */
export async function loadModel(path: string): Promise<SavedModel> {
  return modelFromJson(await readInputText(path, "a model file (model.json)"), path);
}
