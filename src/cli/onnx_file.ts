/**
 * ONNX files from disk for the commands: the model, and the files its weights may be kept in
 * beside it (external data, what torch.onnx.export writes by default), named in every error.
 */
import { dirname, join } from "node:path";
import { MagnetInputError } from "../errors.ts";
import { readOnnx } from "../nn/onnx/source.ts";
import type { OnnxSource } from "../nn/onnx/source.ts";
import { UsageError } from "./args.ts";

/** Reads `path` (absolute) as a network to import; `flag` names where the path came from. */
export async function readOnnxFile(path: string, flag: string): Promise<OnnxSource> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(`${flag} ${path}: no such file`);
    }
    if (error instanceof Deno.errors.IsADirectory) {
      throw new UsageError(`${flag} ${path} is a folder, not an ONNX file`);
    }
    throw new UsageError(`${flag} ${path}: cannot read it: ${(error as Error).message}`);
  }
  const external = (location: string): Uint8Array => {
    const file = join(dirname(path), location);
    try {
      return Deno.readFileSync(file);
    } catch (error) {
      throw new MagnetInputError(
        `${path} keeps weights in ${location}, which cannot be read beside it (${file}): ${
          (error as Error).message
        }`,
      );
    }
  };
  return await readOnnx(bytes, { label: path, external });
}
