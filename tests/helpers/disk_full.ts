/**
 * Preloaded into a command (`deno run --preload`) to make the disk fill up at a chosen moment: the
 * Nth write of a file whose path matches MAGNET_TEST_DISK_FULL ("checkpoint.json.tmp-:2", say)
 * writes half its data, then fails with the error the system gives for a full disk, obtained by
 * writing /dev/full (so the error is the real one, only its moment is chosen).
 */
const [pattern, nth] = (Deno.env.get("MAGNET_TEST_DISK_FULL") ?? "").split(":");
const writeTextFile = Deno.writeTextFile;
let count = 0;

async function diskFull(): Promise<Error> {
  try {
    await writeTextFile("/dev/full", "x");
  } catch (error) {
    return error as Error;
  }
  throw new Error("/dev/full accepted a write: no full disk to borrow the error from");
}

Object.assign(Deno, {
  writeTextFile: async (path: string | URL, data: string, options?: Deno.WriteFileOptions) => {
    if (pattern && String(path).includes(pattern) && ++count === Number(nth)) {
      await writeTextFile(path, data.slice(0, data.length >> 1), options);
      throw await diskFull();
    }
    return await writeTextFile(path, data, options);
  },
});
