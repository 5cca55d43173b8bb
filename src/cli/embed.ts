/**
 * `deno task embed`: embeds and classifies the rows of a CSV file (or an IDX file of images, or
 * image files: a folder searched through, or one file) with a saved model, writing a CSV with each
 * row's predicted class and embedding, after its file path (image files) or its given label (when
 * the file has one).
 */
import { createBackend } from "../backend/create.ts";
import type { Backend } from "../backend/backend.ts";
import { classify } from "../train/saved_model.ts";
import { writeFileAtomic } from "../io/files.ts";
import { helpText, intFlag, parseFlags, reportFailure, UsageError } from "./args.ts";
import { IMAGE_INPUT_FLAGS, loadModelFlag, readRowsFor } from "./model_input.ts";
import { isImagePath } from "../data/rows.ts";
import { ProgressPrinter } from "./progress.ts";
import { absolutePath } from "./run_folder.ts";

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
    help: "rows to embed: a CSV file with the model's feature columns, an IDX file of images, or " +
      "(for a model trained on image files) a folder of images or an image file",
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
  ...IMAGE_INPUT_FLAGS,
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
        helpText("embed", "Embeds and classifies rows or images with a saved model.", FLAGS),
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
    // A folder's embeddings go beside it; a file's lose its extension (.csv, .png, ...).
    const base = dataPath.replace(/\/+$/, "");
    const out = absolutePath(
      (v.out as string | undefined) ??
        `${isFolder(dataFile) ? base : base.replace(/\.(csv|png|jpe?g|webp|gif|tiff?)$/i, "")}` +
          ".embeddings.csv",
    );
    if (sameFile(out, dataFile)) {
      throw new UsageError(`--out ${out} is the input file: choose another output file`);
    }
    if (v.overwrite !== true && exists(out)) {
      throw new UsageError(`--out ${out} exists: choose another file or pass --overwrite`);
    }
    const saved = await loadModelFlag(modelArg);
    const labelColumn = (v["label-column"] as string | undefined) ?? "label";
    if (v["label-column"] !== undefined && isImagePath(dataFile)) {
      throw new UsageError("--label-column names a CSV column: image files have none");
    }
    const progress = new ProgressPrinter(Deno.stdout.isTerminal(), false);
    const rows = await readRowsFor(saved, dataFile, {
      labelColumn,
      cache: v.cache as string | undefined,
      skipBadImages: v["skip-bad-images"] === true,
      onProgress: (p) => progress.decoding(p),
    });
    progress.finish();
    for (const note of rows.notes ?? []) console.log(note);
    // Image files are named by their path; a CSV's rows by their label, when it has one.
    const first = rows.kind === "images"
      ? { name: "path", values: rows.ids! }
      : rows.labels !== null
      ? { name: labelColumn, values: rows.labels }
      : null;
    const threads = v.threads === undefined ? undefined : intFlag("threads", v.threads as string);
    backend = await createBackend({ kind: kind as "auto", threads });
    const { embeddings, predicted } = await classify(backend, saved, rows.features);
    const dim = saved.model.outputDim;
    const header = [
      ...(first !== null ? [first.name] : []),
      "predicted",
      ...Array.from({ length: dim }, (_, j) => `e${j}`),
    ];
    const lines = [header.map(csvField).join(",")];
    for (let i = 0; i < predicted.length; i++) {
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

if (import.meta.main) Deno.exit(await main(Deno.args));
