/**
 * Files, through Deno: writing so that nothing is ever half-written (a temporary file beside the
 * target, renamed over it: atomic on one file system), and reading text whose absence is the
 * user's mistake. Modules a web page uses must not import this one (tests/web/browser_clean_test.ts).
 */
import { MagnetInputError } from "../errors.ts";

/** Writes `text` to `path` atomically: readers see the old file or the new one, never a part. */
export async function writeFileAtomic(path: string, text: string | Uint8Array): Promise<void> {
  const temporary = `${path}.tmp-${Deno.pid}-${Math.floor(performance.now() * 1000)}`;
  try {
    if (typeof text === "string") await Deno.writeTextFile(temporary, text);
    else await Deno.writeFile(temporary, text);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

/**
 * The text of `path` (UTF-8); `what` names the file in errors ("model file").
 *
 * @throws {MagnetInputError} when it is missing or cannot be read
 */
export async function readTextFile(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new MagnetInputError(`${what} not found: ${path}`);
    }
    throw new MagnetInputError(`cannot read ${what} ${path}: ${(error as Error).message}`);
  }
}
