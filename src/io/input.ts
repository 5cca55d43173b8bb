/**
 * Opening the files a user names as input (data, models, checkpoints): anything that is not a
 * regular file is named as what it is (a directory, a FIFO, a device, a symbolic link loop or a
 * dangling link) before it is opened, so nothing blocks on a pipe or reads a device forever, and
 * "missing" means missing.
 */
import { MagnetInputError } from "../errors.ts";
import { systemError } from "./os_errors.ts";

/** What {@link notAFile} says when nothing is at the path. */
const MISSING = "missing";

/**
 * What is at `path` when it is not a regular file, in words; null for a regular file, "missing"
 * when nothing is there.
 */
async function notAFile(path: string): Promise<string | null> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    const system = systemError(error);
    if (system?.code === "ELOOP") return "a symbolic link loop";
    if (system?.code === "ENOENT") {
      const link = await Deno.lstat(path).catch(() => null);
      if (link?.isSymlink) {
        const target = await Deno.readLink(path).catch(() => "?");
        return `a symbolic link to ${target}, which does not exist`;
      }
      return MISSING;
    }
    if (system?.code === "ENOTDIR") return "nothing: a file is in the way of a folder on the path";
    if (system?.code === "EACCES" || system?.code === "EPERM") return "a file it cannot read";
    throw error;
  }
  if (info.isFile) return null;
  if (info.isDirectory) return "a directory";
  if (info.isFifo) return "a FIFO (named pipe)";
  if (info.isSocket) return "a socket";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  return "something other than a regular file";
}

/**
 * Throws a {@link MagnetInputError} unless `path` is a regular file (through links): "file not
 * found: PATH" when nothing is there, else "PATH: expected `what`, found a directory" (or a FIFO,
 * a symbolic link loop, ...).
 */
export async function checkInputFile(path: string, what = "a file"): Promise<void> {
  const found = await notAFile(path);
  if (found === null) return;
  if (found === MISSING) throw new MagnetInputError(`file not found: ${path}`);
  throw new MagnetInputError(`${path}: expected ${what}, found ${found}`);
}

/** The bytes of the regular file at `path` (see {@link checkInputFile}). */
export async function readInputFile(path: string, what = "a file"): Promise<Uint8Array> {
  await checkInputFile(path, what);
  try {
    return await Deno.readFile(path);
  } catch (error) {
    const system = systemError(error);
    if (system === null) throw error;
    throw new MagnetInputError(`cannot read ${path}: ${system.words} (${system.code})`);
  }
}

/** The file at `path` opened for reading, when it is a regular file (see {@link checkInputFile}). */
export async function openInputFile(path: string, what = "a file"): Promise<Deno.FsFile> {
  await checkInputFile(path, what);
  try {
    return await Deno.open(path, { read: true });
  } catch (error) {
    const system = systemError(error);
    if (system === null) throw error;
    throw new MagnetInputError(`cannot read ${path}: ${system.words} (${system.code})`);
  }
}

/** The text of the regular file at `path`, as UTF-8 (see {@link checkInputFile}). */
export async function readInputText(path: string, what = "a file"): Promise<string> {
  const bytes = await readInputFile(path, what);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new MagnetInputError(`${path}: expected UTF-8 text, found invalid byte sequences.`);
  }
}
