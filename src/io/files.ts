/**
 * Files, through Deno: writing so that nothing is ever half-written (a temporary file beside the
 * target, renamed over it: atomic on one file system), and naming the system's refusal when it
 * comes. Reading the user's files is input.ts's. Modules a web page uses must not import this one
 * (tests/web/browser_clean_test.ts).
 */
import { EnvironmentError } from "../errors.ts";
import { systemError } from "./os_errors.ts";

/** The temporary names {@link writeFileAtomic} writes `name` under, beside it. */
export function isTemporaryOf(name: string, candidate: string): boolean {
  return candidate.startsWith(`${name}.tmp-`) && /\.tmp-\d+-\d+$/.test(candidate);
}

/**
 * Writes `text` to `path` atomically: readers see the old file or the new one, never a part. When
 * the system refuses (a full disk, a read-only folder, no permission), the old file is left as it
 * was, the temporary file is removed, and an {@link EnvironmentError} names the file and the cause.
 */
export async function writeFileAtomic(path: string, text: string | Uint8Array): Promise<void> {
  const temporary = `${path}.tmp-${Deno.pid}-${Math.floor(performance.now() * 1000)}`;
  try {
    if (typeof text === "string") await Deno.writeTextFile(temporary, text);
    else await Deno.writeFile(temporary, text);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    const system = systemError(error);
    if (system === null) throw error;
    throw new EnvironmentError(
      system.code,
      `cannot write ${path}: ${system.words} (${system.code})`,
    );
  }
}
