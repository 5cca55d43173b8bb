/**
 * The folder a training run writes: where its files go, whether a new run may use it, and a lock
 * that keeps two runs from writing it at once. The lock is an operating-system file lock, so a run
 * that dies (even by SIGKILL) releases it with its process.
 */
import { resolve } from "node:path";
import { UsageError } from "./flags.ts";
import { isTemporaryOf } from "../io/files.ts";
import { systemError } from "../io/os_errors.ts";
import { EnvironmentError } from "../errors.ts";
import { FileLock } from "./file_lock.ts";

/** The files a run writes, in the order a finished run writes them. */
export const RUN_FILES = {
  checkpoint: "checkpoint.json",
  model: "model.json",
  metrics: "metrics.json",
  report: "report.html",
} as const;

const LOCK = ".lock";

/** The directory relative paths on the command line are meant from: the caller's, also under `deno task`. */
export function callerDirectory(): string {
  // `deno task` runs in the configuration file's folder and says where it was called from.
  return Deno.env.get("INIT_CWD") ?? Deno.cwd();
}

/** `path` made absolute against the caller's directory. */
export function absolutePath(path: string, base: string = callerDirectory()): string {
  return resolve(base, path);
}

/** What a folder holds, leaving out the lock file. */
function entriesOf(dir: string): string[] | null {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).filter((name) => name !== LOCK).sort();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    if (error instanceof Deno.errors.NotADirectory) {
      throw new UsageError(
        `cannot write to the output folder ${dir}: a file of that name is there`,
      );
    }
    throw new UsageError(`cannot read the output folder ${dir}: ${(error as Error).message}`);
  }
}

/**
 * Refuses a folder that holds anything, unless `overwrite`; then only a run's own files would be
 * replaced, and anything else in it is left alone.
 */
export function checkNewRunFolder(dir: string, overwrite: boolean): void {
  const entries = entriesOf(dir);
  if (entries === null || entries.length === 0 || overwrite) return;
  const shown = entries.slice(0, 3).join(", ") + (entries.length > 3 ? ", ..." : "");
  throw new UsageError(
    `the output folder ${dir} is not empty (${shown}): choose a new --out, continue that run ` +
      `with --resume ${dir}, or pass --overwrite to replace it`,
  );
}

/** A run folder held by this process. */
export class RunFolder {
  readonly #lock: FileLock;
  readonly #created: boolean;
  #released = false;

  private constructor(readonly dir: string, lock: FileLock, created: boolean) {
    this.#lock = lock;
    this.#created = created;
  }

  /**
   * Creates `dir` if needed and locks it; refuses with a {@link UsageError} when another run holds
   * it or it cannot be written. Temporary files of `files` that a killed run left are removed.
   */
  static async acquire(
    dir: string,
    files: readonly string[] = Object.values(RUN_FILES),
  ): Promise<RunFolder> {
    const existed = entriesOf(dir) !== null;
    try {
      await Deno.mkdir(dir, { recursive: true });
    } catch (error) {
      throw new UsageError(`cannot write to the output folder ${dir}: ${describe(error)}`);
    }
    const lock = await FileLock.take(
      `${dir}/${LOCK}`,
      (holder) =>
        `the output folder ${dir} is in use by another run${holder ? ` (${holder})` : ""}` +
        ": wait for it to end or choose another --out",
      (error) => `cannot write to the output folder ${dir}: ${describe(error)}`,
    );
    const folder = new RunFolder(dir, lock, !existed);
    await folder.#removeTemporaries(files);
    return folder;
  }

  /**
   * Removes the temporary files an earlier process left half-written here when it was killed
   * (SIGKILL, a power cut) in the middle of an atomic write. The lock says no one else writes
   * here now, so they are nobody's.
   */
  async #removeTemporaries(names: readonly string[]): Promise<void> {
    for (const entry of Deno.readDirSync(this.dir)) {
      if (!entry.isFile || !names.some((name) => isTemporaryOf(name, entry.name))) continue;
      await Deno.remove(this.path(entry.name)).catch(() => {});
    }
  }

  /** The path of one of the run's files. */
  path(name: string): string {
    return `${this.dir}/${name}`;
  }

  /** Removes the files `names` (a run's, by default) a previous run left here (for --overwrite). */
  async clearRunFiles(names: readonly string[] = Object.values(RUN_FILES)): Promise<void> {
    for (const name of names) {
      const path = this.path(name);
      const info = await Deno.lstat(path).catch(() => null);
      if (info === null) continue;
      if (!info.isFile) {
        throw new UsageError(
          `--overwrite replaces a run's files, but ${path} is ${
            info.isDirectory ? "a directory" : "not a regular file"
          }: move it away or choose another --out`,
        );
      }
      await Deno.remove(path).catch((error) => {
        if (error instanceof Deno.errors.NotFound) return;
        const system = systemError(error);
        if (system === null) throw error;
        throw new EnvironmentError(
          system.code,
          `cannot remove ${path}: ${system.words} (${system.code})`,
        );
      });
    }
  }

  /**
   * Unlocks the folder; with `discard`, also removes it when this run created it and left nothing
   * in it (a run that failed before writing anything leaves no trace).
   */
  release(discard = false): void {
    if (this.#released) return;
    this.#released = true;
    this.#lock.release();
    if (discard && this.#created) {
      try {
        Deno.removeSync(this.dir); // fails, as it should, when the folder is not empty
      } catch { /* kept */ }
    }
  }
}

function describe(error: unknown): string {
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.AlreadyExists || error instanceof Deno.errors.NotADirectory) {
    return "a file of that name is in the way";
  }
  return (error as Error).message;
}
