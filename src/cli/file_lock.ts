/**
 * An operating-system lock on a file that stands for something only one process may write at a
 * time (a run folder, a search table). A process that dies, even by SIGKILL, releases it with its
 * open files; the file says who holds it, for the message another process prints.
 */
import { UsageError } from "./flags.ts";

/** A lock held by this process, until {@link FileLock.release}. */
export class FileLock {
  #released = false;

  private constructor(readonly path: string, readonly file: Deno.FsFile) {}

  /**
   * Takes the lock of `path` (made if missing). When another process holds it, throws the
   * {@link UsageError} `busy` makes from what the holder wrote ("pid 12, started ..."), or "".
   * `unwritable` makes the error for a path that cannot be opened.
   */
  static async take(
    path: string,
    busy: (holder: string) => string,
    unwritable: (error: unknown) => string,
  ): Promise<FileLock> {
    for (let attempt = 0; attempt < 3; attempt++) {
      let file: Deno.FsFile;
      try {
        file = await Deno.open(path, { read: true, write: true, create: true });
      } catch (error) {
        throw new UsageError(unwritable(error));
      }
      if (!(await file.tryLock(true))) {
        const holder = await Deno.readTextFile(path).catch(() => "");
        file.close();
        throw new UsageError(busy(holder.trim()));
      }
      // The previous holder may have removed the file between our open and our lock: then we hold
      // a lock on a file no one else can see, and must take the one at the path instead.
      const [held, current] = await Promise.all([
        file.stat(),
        Deno.stat(path).catch(() => null),
      ]);
      if (current !== null && held.ino === current.ino && held.dev === current.dev) {
        await file.truncate(0);
        await file.write(
          new TextEncoder().encode(`pid ${Deno.pid}, started ${new Date().toISOString()}\n`),
        );
        return new FileLock(path, file);
      }
      file.close();
    }
    throw new UsageError(busy("other processes are taking it at this moment; try again"));
  }

  /** Removes the lock's file and releases the lock (closing the file releases it). */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    try {
      Deno.removeSync(this.path);
    } catch { /* already gone: nothing to do */ }
    this.file.close();
  }
}
