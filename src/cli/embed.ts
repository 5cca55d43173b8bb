/**
 * `deno task embed`: embeds and classifies the rows of a CSV file (or an IDX file of images, or
 * image files: a folder searched through, or one file) with a saved model, writing a CSV with each
 * row's id (an image file's path, a CSV's id column), its given label (when the file has one, in the
 * model's class names), its predicted class and its embedding. Rows far outside the range the
 * model was trained on are warned about.
 */
import { openBackend } from "./backend.ts";
import type { Backend } from "../backend/backend.ts";
import { classify, outOfRange, type SavedModel } from "../train/saved_model.ts";
import { writeFileAtomic } from "../io/files.ts";
import {
  backendFlags,
  type FlagSpec,
  helpText,
  intFlag,
  parseFlags,
  reportFailure,
  UsageError,
} from "./args.ts";
import { IMAGE_INPUT_FLAGS, inputFacts, loadModelFlag, readRowsFor } from "./model_input.ts";
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

/** The flags of `deno task embed` (see `FlagSpec`). */
export const EMBED_FLAGS: Readonly<Record<string, FlagSpec>> = {
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
  "label-column": {
    kind: "string",
    default: "the model's training label column, else label",
    help: "optional label column to carry over",
    needs: { input: ["rows"] },
    why: "names a CSV column (image files have none)",
  },
  "id-column": {
    kind: "string",
    default: "the model's training id column",
    help: "column of row ids, written first (never a feature)",
    needs: { input: ["rows"] },
    why: "names a CSV column (image files have none)",
  },
  "ignore-columns": {
    kind: "list",
    default: "the model's training ones",
    help: "columns that are neither features nor labels, comma-separated",
    needs: { input: ["rows"] },
    why: "names CSV columns (image files have none)",
  },
  ...backendFlags(),
  ...IMAGE_INPUT_FLAGS,
  "help": { kind: "flag", help: "show this help" },
};

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

/**
 * A given label in the model's class names, as the predicted column writes them: the name itself,
 * the same number written otherwise ("3.0" for "3"), or a class index where the names are not
 * numbers (a Fashion-MNIST export labelled 0-9 for "T-shirt/top"...); otherwise as written.
 */
export function labelAsClassName(label: string, classNames: readonly string[]): string {
  const text = label.trim();
  if (classNames.includes(label) || text === "") return label;
  if (classNames.includes(text)) return text;
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(text)) return label;
  const value = Number(text);
  const same = classNames.find((name) => name.trim() !== "" && Number(name) === value);
  if (same !== undefined) return same;
  const numericNames = classNames.some((name) =>
    name.trim() !== "" && Number.isFinite(Number(name))
  );
  if (!numericNames && Number.isInteger(value) && value >= 0 && value < classNames.length) {
    return classNames[value];
  }
  return label;
}

/** One line warning that rows lie far outside the model's training range, or null. */
function rangeWarning(saved: SavedModel, features: Float32Array, path: string): string | null {
  const far = outOfRange(saved, features);
  if (far === null) return null;
  const n = features.length / saved.model.inputDim;
  const name = saved.featureNames?.[far.column];
  const column = name === undefined ? `input ${far.column + 1}` : `column ${JSON.stringify(name)}`;
  const show = (x: number) => Number(x.toPrecision(4));
  return `warning: ${path}: ${far.rows} of ${n} rows have features far outside the range the ` +
    `model was trained on (${column}: ${show(far.found[0])} to ${show(far.found[1])} here, ` +
    `${show(far.trained[0])} to ${show(far.trained[1])} in training): are they scaled as the ` +
    "training rows were (pixels of 0-255 against a model trained on 0-1, say)? The embeddings " +
    "and predictions of such rows mean little.";
}

/** Runs the command with `args`; returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  let backend: Backend | null = null;
  try {
    const v = parseFlags(args, EMBED_FLAGS, inputFacts("data"));
    if (v.help === true) {
      console.log(
        helpText("embed", "Embeds and classifies rows or images with a saved model.", EMBED_FLAGS),
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
    const labelColumn = (v["label-column"] as string | undefined) ?? saved.columns?.label ??
      "label";
    const ignoreText = v["ignore-columns"] as string | undefined;
    // Without the flags, the model's own: the columns its training file set apart.
    const idColumn = (v["id-column"] as string | undefined) ?? saved.columns?.id ?? null;
    const ignoreColumns = ignoreText?.split(",").map((c) => c.trim()).filter((c) => c !== "") ??
      saved.columns?.ignored ?? [];
    const progress = new ProgressPrinter(Deno.stdout.isTerminal(), false);
    const rows = await readRowsFor(saved, dataFile, {
      labelColumn,
      idColumn,
      ignoreColumns,
      cache: v.cache as string | undefined,
      skipBadImages: v["skip-bad-images"] === true,
      onProgress: (p) => progress.decoding(p),
    });
    progress.finish();
    for (const note of rows.notes ?? []) console.log(note);
    if (v["id-column"] !== undefined && rows.ids === undefined) {
      throw new UsageError(`--id-column ${idColumn}: ${dataFile} has no such column`);
    }
    // Rows are named first: image files by their path, a CSV's rows by its id column.
    const idName = rows.kind === "images" ? "path" : idColumn ?? "id";
    const threads = v.threads === undefined ? undefined : intFlag("threads", v.threads as string);
    backend = await openBackend({ kind: kind as "auto", threads });
    if (backend.softwareAdapter) {
      console.error(
        `note: ${backend.description} is a software adapter: WebGPU runs on the CPU here, more ` +
          "slowly than --backend cpu",
      );
    }
    // Tables and IDX images (image files are normalised as the model's training images were).
    const warning = rows.features instanceof Float32Array
      ? rangeWarning(saved, rows.features, dataFile)
      : null;
    if (warning !== null) console.error(warning);
    const { embeddings, predicted } = await classify(backend, saved, rows.features);
    const dim = saved.model.outputDim;
    const header = [
      ...(rows.ids !== undefined ? [idName] : []),
      ...(rows.labels !== null ? [labelColumn] : []),
      "predicted",
      ...Array.from({ length: dim }, (_, j) => `e${j}`),
    ];
    const lines = [header.map(csvField).join(",")];
    for (let i = 0; i < predicted.length; i++) {
      const fields = [
        ...(rows.ids !== undefined ? [rows.ids[i]] : []),
        ...(rows.labels !== null ? [labelAsClassName(rows.labels[i], saved.classNames)] : []),
        saved.classNames[predicted[i]],
        ...Array.from(embeddings.subarray(i * dim, (i + 1) * dim), float32Text),
      ];
      lines.push(fields.map(csvField).join(","));
    }
    // A full disk or a read-only folder is the system's refusal (exit 1), named with the file.
    await writeFileAtomic(out, lines.join("\n") + "\n");
    console.log(
      `wrote ${predicted.length} rows (${
        rows.ids !== undefined ? `${idName}, ` : ""
      }predicted class and ${dim}-d embedding) to ${out}`,
    );
    return 0;
  } catch (error) {
    return reportFailure(error);
  } finally {
    backend?.dispose();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
