/**
 * `deno task export`: a trained run's embedding network as a standard ONNX file, for onnxruntime
 * (Node, Python, mobile, the browser) or any runtime that reads ONNX. It takes what `embed` takes
 * before preprocessing (table rows, or images [N, C, H, W] in [0, 1], channels first) and gives
 * the embeddings [N, dim]; the preprocessing is inside.
 */
import { loadModel } from "../train/model_file.ts";
import { exportOnnx } from "../nn/onnx/export.ts";
import { writeFileAtomic } from "../io/files.ts";
import { helpText, parseFlags, reportFailure, UsageError } from "./args.ts";
import { absolutePath } from "./run_folder.ts";

const FLAGS = {
  "model": {
    kind: "string",
    help: "run folder holding model.json (or the model.json file itself)",
  },
  "out": { kind: "string", default: "<run folder>/model.onnx", help: "the ONNX file to write" },
  "overwrite": { kind: "flag", help: "replace --out if it exists" },
  "help": { kind: "flag", help: "show this help" },
} as const;

/** Runs the command with `args`; returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  try {
    const v = parseFlags(args, FLAGS);
    if (v.help === true) {
      console.log(helpText("export", "Writes a trained model's embedding network as ONNX.", FLAGS));
      return 0;
    }
    const modelArg = v.model as string | undefined;
    if (modelArg === undefined || modelArg.trim() === "") {
      throw new UsageError("--model is required (a run folder)");
    }
    const modelFile = absolutePath(modelArg);
    const modelPath = modelFile.endsWith(".json") ? modelFile : `${modelFile}/model.json`;
    const outArg = v.out as string | undefined;
    if (outArg !== undefined && outArg.trim() === "") {
      throw new UsageError("--out must not be empty");
    }
    const out = outArg === undefined
      ? `${modelPath.replace(/[\\/][^\\/]*$/, "")}/model.onnx`
      : absolutePath(outArg);
    if (v.overwrite !== true) {
      try {
        Deno.statSync(out);
        throw new UsageError(`--out ${out} exists: choose another file or pass --overwrite`);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    const saved = await loadModel(modelPath);
    const bytes = await exportOnnx(saved.model, { standardization: saved.standardization });
    try {
      await writeFileAtomic(out, bytes);
    } catch (error) {
      throw new UsageError(`cannot write ${out}: ${(error as Error).message}`);
    }
    const spec = saved.model.spec;
    const image = spec.kind === "cnn"
      ? spec.input
      : spec.kind === "backbone" && spec.input.kind === "image"
      ? spec.input.rows
      : null;
    const input = image === null
      ? `rows [N, ${saved.model.inputDim}]`
      : `images [N, ${image[2]}, ${image[0]}, ${image[1]}] in [0, 1]`;
    console.log(
      `wrote ${out} (${(bytes.length / 1e6).toFixed(1)} MB): float32 ${input} to embeddings ` +
        `[N, ${saved.model.outputDim}]`,
    );
    return 0;
  } catch (error) {
    return reportFailure(error);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
