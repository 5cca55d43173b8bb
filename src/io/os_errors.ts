/**
 * Failures of the operating system in words: what a full disk, a read-only file system or a
 * missing permission is called, from the system error code Deno attaches to its errors.
 */

/** What each system error means, for a person. */
const WORDS: Readonly<Record<string, string>> = {
  ENOSPC: "no space left on the device",
  EDQUOT: "the disk quota is exceeded",
  EROFS: "the file system is read-only",
  EACCES: "permission denied",
  EPERM: "the operation is not permitted",
  EIO: "an input/output error of the device",
  EFBIG: "the file is too large for the file system",
  EMFILE: "too many open files",
  ENFILE: "too many open files on the system",
  ENOTDIR: "a file is in the way of a folder on the path",
  EISDIR: "a folder is in the way of the file",
  ENOENT: "its folder does not exist",
  ELOOP: "a symbolic link loop is on the path",
  ENAMETOOLONG: "the path is too long",
  EBUSY: "the file is busy",
  EXDEV: "the temporary file and the file are on different file systems",
};

/** The system error behind `error`: its code (ENOSPC, ...) and its meaning; null for others. */
export function systemError(error: unknown): { code: string; words: string } | null {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !/^E[A-Z0-9]+$/.test(code)) return null;
  return {
    code,
    words: WORDS[code] ?? (error as Error).message.replace(/ \(os error \d+\).*$/, ""),
  };
}

/** Linux's numbers of the system errors that are the environment's, as "(os error N)" names them. */
const ERRNO_CODES: Readonly<Record<number, string>> = {
  1: "EPERM",
  5: "EIO",
  13: "EACCES",
  23: "ENFILE",
  24: "EMFILE",
  27: "EFBIG",
  28: "ENOSPC",
  30: "EROFS",
  122: "EDQUOT",
};

/**
 * The environment's system error named in a native library's message ("... No space left on
 * device (os error 28)", as Rust code writes them): its code and meaning; null when the message
 * names none, or one that is not the environment's (a missing file is the input's).
 */
export function systemErrorInMessage(message: string): { code: string; words: string } | null {
  const errno = /\(os error (\d+)\)/.exec(message);
  const code = errno === null ? undefined : ERRNO_CODES[Number(errno[1])];
  return code === undefined ? null : { code, words: WORDS[code] };
}
