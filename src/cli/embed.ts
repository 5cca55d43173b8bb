/**
 * `deno task embed`: embeds and classifies the rows of a CSV file, or images (a folder searched
 * through, or one file), with a saved model, writing a CSV with each row's predicted class and
 * embedding, after its given label (a CSV's, when the file has one) or its file path (images).
 */
import { MagnetInputError } from "../errors.ts";
import { createBackend } from "../backend/create.ts";
import type { Backend } from "../backend/backend.ts";
import { readCsvRows } from "../data/files.ts";
import { MNIST_DIM } from "../data/mnist.ts";
import { loadModel } from "../train/model_file.ts";
import { classify, type SavedModel } from "../train/saved_model.ts";
import { writeFileAtomic } from "../io/files.ts";
import { helpText, intFlag, parseFlags, reportFailure, UsageError } from "./args.ts";
import { absolutePath } from "./run_folder.ts";
import { defaultCacheDir } from "../data/images/cache.ts";
import { IMAGE_EXTENSIONS } from "../data/images/folder.ts";
import type { Rows } from "../data/rows.ts";
import { ProgressPrinter } from "./progress.ts";

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Whether `path` is a folder. */
function isFolder(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** Whether two paths name one file (through links too), when both exist. */
function sameFile(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return Deno.realPathSync(a) === Deno.realPathSync(b);
  } catch {
    return false;
  }
}

const FLAGS = {
  "model": {
    kind: "string",
    help: "run folder holding model.json (or the model.json file itself)",
  },
  "data": {
    kind: "string",
    help: "CSV of rows to embed, with the model's feature columns; or, for a model trained on " +
      "images, a folder of images (searched through) or one image file",
  },
  "out": {
    kind: "string",
    default: "<data without its extension>.embeddings.csv",
    help: "output CSV",
  },
  "overwrite": { kind: "flag", help: "replace --out if it exists" },
  "label-column": { kind: "string", default: "label", help: "optional label column to carry over" },
  "backend": {
    kind: "choice",
    default: "auto",
    choices: ["auto", "webgpu", "cpu"],
    help: "compute backend",
  },
  "threads": { kind: "int", default: "all cores", help: "CPU backend: threads" },
  "cache": {
    kind: "string",
    default: "~/.cache/magnet/images",
    help: "images: folder of the decode cache",
  },
  "skip-bad-images": {
    kind: "flag",
    help: "images: skip (and count) files that cannot be decoded instead of stopping",
  },
  "help": { kind: "flag", help: "show this help" },
} as const;

/**
 * The shortest decimal that reads back as the same float32 (at most 9 significant digits), rather
 * than the 17 a float64 conversion would print.
 */
export function float32Text(x: number): string {
  if (Object.is(x, -0)) return "-0";
  for (let digits = 1; digits < 9; digits++) {
    const text = String(Number(x.toPrecision(digits)));
    if (Math.fround(Number(text)) === x) return text;
  }
  return String(Number(x.toPrecision(9)));
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Runs the command with `args`; returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  let backend: Backend | null = null;
  try {
    const v = parseFlags(args, FLAGS);
    if (v.help === true) {
      console.log(
        helpText("embed", "Embeds and classifies CSV rows or images with a saved model.", FLAGS),
      );
      return 0;
    }
    const modelArg = v.model as string | undefined, dataPath = v.data as string | undefined;
    if (modelArg === undefined) throw new UsageError("--model is required (a run folder)");
    if (dataPath === undefined) {
      throw new UsageError("--data is required (a CSV file of rows, or images)");
    }
    const kind = (v.backend as string | undefined) ?? "auto";
    if (!["auto", "webgpu", "cpu"].includes(kind)) {
      throw new UsageError(`--backend must be one of auto, webgpu, cpu, got "${kind}"`);
    }
    for (const name of ["model", "data", "out", "cache"]) {
      if ((v[name] as string | undefined)?.trim() === "") {
        throw new UsageError(`--${name} must not be empty`);
      }
    }
    const dataFile = absolutePath(dataPath);
    const images = isFolder(dataFile) ||
      IMAGE_EXTENSIONS.some((e) => dataFile.toLowerCase().endsWith(e));
    const imageFlags = ["cache", "skip-bad-images"].filter((f) => v[f] !== undefined);
    if (!images && imageFlags.length > 0) {
      throw new UsageError(
        `${imageFlags.map((f) => `--${f}`).join(", ")} ${
          imageFlags.length === 1 ? "applies" : "apply"
        } to images: give --data a folder of images or an image file`,
      );
    }
    const out = absolutePath(
      (v.out as string | undefined) ??
        `${
          dataPath.replace(/\/+$/, "").replace(images ? /\.[^./]*$/ : /\.csv$/i, "")
        }.embeddings.csv`,
    );
    if (sameFile(out, dataFile)) {
      throw new UsageError(`--out ${out} is the input file: choose another output file`);
    }
    if (v.overwrite !== true && exists(out)) {
      throw new UsageError(`--out ${out} exists: choose another file or pass --overwrite`);
    }
    const modelFile = absolutePath(modelArg);
    const modelPath = modelFile.endsWith(".json") ? modelFile : `${modelFile}/model.json`;
    const saved = await loadModel(modelPath);
    if ((saved.images ?? null) === null && images) {
      throw new UsageError(
        `${modelPath} was not trained on image files (its inputs are rows of ` +
          `${saved.model.inputDim} values, from a CSV or IDX file): give --data a CSV file of ` +
          "its columns",
      );
    }
    if ((saved.images ?? null) !== null && !images) {
      throw new UsageError(
        `${modelPath} was trained on image files: give --data a folder of images or an image ` +
          `file, not ${dataFile}`,
      );
    }
    const threads = v.threads === undefined ? undefined : intFlag("threads", v.threads as string);
    let rows: Rows, first: { name: string; values: string[] } | null, count: number;
    if (images) {
      if (v["label-column"] !== undefined) {
        throw new UsageError("--label-column names a CSV column: it needs --data a CSV file");
      }
      const { loadImagesToEmbed } = await import("../data/image_folders.ts");
      const progress = new ProgressPrinter(Deno.stdout.isTerminal(), false);
      const loaded = await loadImagesToEmbed(dataFile, saved.images!, {
        cache: absolutePath((v.cache as string | undefined) ?? defaultCacheDir()),
        skipBadImages: v["skip-bad-images"] === true,
        onProgress: (p) => progress.decoding(p),
      });
      progress.finish();
      for (const note of loaded.notes) console.log(note);
      rows = loaded.rows;
      first = { name: "path", values: loaded.ids };
      count = loaded.ids.length;
    } else {
      const table = await readTable(dataFile, saved, v["label-column"] as string | undefined);
      rows = table.features;
      first = table.labels === null ? null : { name: table.labelColumn, values: table.labels };
      count = table.count;
    }
    backend = await createBackend({ kind: kind as "auto", threads });
    const { embeddings, predicted } = await classify(backend, saved, rows);
    const dim = saved.model.outputDim;
    const header = [
      ...(first !== null ? [first.name] : []),
      "predicted",
      ...Array.from({ length: dim }, (_, j) => `e${j}`),
    ];
    const lines = [header.map(csvField).join(",")];
    for (let i = 0; i < count; i++) {
      const fields = [
        ...(first !== null ? [first.values[i]] : []),
        saved.classNames[predicted[i]],
        ...Array.from(embeddings.subarray(i * dim, (i + 1) * dim), float32Text),
      ];
      lines.push(fields.map(csvField).join(","));
    }
    try {
      await writeFileAtomic(out, lines.join("\n") + "\n");
    } catch (error) {
      throw new UsageError(`cannot write ${out}: ${(error as Error).message}`);
    }
    console.log(
      `wrote ${predicted.length} rows (predicted class and ${dim}-d embedding) to ${out}`,
    );
    return 0;
  } catch (error) {
    return reportFailure(error);
  } finally {
    backend?.dispose();
  }
}

/** The rows of a CSV file to embed, checked against the model's columns. */
async function readTable(dataFile: string, saved: SavedModel, labelFlag: string | undefined) {
  const labelColumn = labelFlag ?? "label";
  const featureNames = saved.featureNames ??
    // A model trained on the bundled MNIST reads 784 pixel columns named by the CSV header.
    null;
  const rows = await readCsvRows(dataFile, {
    labelColumn,
    ...(featureNames !== null ? { featureNames } : {}),
  });
  if (rows.dim !== saved.model.inputDim) {
    throw new MagnetInputError(
      `${dataFile}: rows have ${rows.dim} feature columns, the model expects ${saved.model.inputDim}` +
        (saved.featureNames === null && saved.model.inputDim === MNIST_DIM
          ? " (MNIST pixels)"
          : ""),
    );
  }
  return {
    features: rows.features,
    labels: rows.labels,
    labelColumn,
    count: rows.labels?.length ?? rows.features.length / rows.dim,
  };
}

if (import.meta.main) Deno.exit(await main(Deno.args));
