/**
 * The data readers that open files (through Deno): CSV files and IDX files, gzipped or not (every
 * member of a gzip file, decompressed no further than the IDX header's dimensions need). Anything
 * but a regular file in their place is named as what it is (io/input.ts). Parsing lives apart
 * (csv.ts, idx.ts), so that a web page can parse text or bytes it fetched; modules a page uses must
 * not import this one (tests/web/browser_clean_test.ts).
 */
import { MagnetInputError } from "../errors.ts";
import { readInputFile, readInputText } from "../io/input.ts";
import {
  type CsvOptions,
  type CsvRows,
  type CsvRowsOptions,
  parseCsvDataset,
  parseCsvRows,
} from "./csv.ts";
import type { Dataset } from "./dataset.ts";
import { type IdxArray, idxShape, parseIdx } from "./idx.ts";

/**
 * Reads a CSV file into a labelled {@link Dataset}; see {@link parseCsvDataset}.
 *
 * @throws {MagnetInputError} when the file is missing, a directory, not UTF-8 or not usable
 */
export async function readCsvDataset(path: string, options: CsvOptions = {}): Promise<Dataset> {
  return parseCsvDataset(await readCsvText(path), path, options);
}

/**
 * Reads a CSV file into feature rows with optional labels; see {@link parseCsvRows}.
 *
 * @throws {MagnetInputError} when the file is missing, a directory, not UTF-8 or not usable
 */
export async function readCsvRows(path: string, options: CsvRowsOptions = {}): Promise<CsvRows> {
  return parseCsvRows(await readCsvText(path), path, options);
}

function readCsvText(path: string): Promise<string> {
  return readInputText(path, "a CSV file");
}

/**
 * Node's zlib, imported when a gzipped file is read: loading it at import would cost every
 * `import mod.ts` tens of milliseconds.
 */
type Zlib = typeof import("node:zlib");

/**
 * Decompresses `bytes` (all their members; `partial`: a beginning of them), giving at most
 * `limit` bytes; null when there would be more.
 */
function gunzip(
  zlib: Zlib,
  bytes: Uint8Array,
  path: string,
  limit: number,
  partial = false,
): Uint8Array | null {
  try {
    const out = zlib.gunzipSync(bytes, {
      maxOutputLength: limit,
      ...(partial ? { finishFlush: zlib.constants.Z_SYNC_FLUSH } : {}),
    });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (error) {
    if ((error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") return null;
    throw new MagnetInputError(`${path} is not a valid gzip file: ${(error as Error).message}`);
  }
}

/**
 * A gzipped IDX file's contents, every member of it, decompressed no further than its header's
 * dimensions need: first its beginning, until the header shows (the gzip header may carry a file
 * name), then the whole, bounded by the size the header declares. A file without an IDX header
 * is returned as far as it goes (bounded too), for parseIdx to say what is wrong with it.
 */
function gunzipIdx(zlib: Zlib, bytes: Uint8Array, path: string): Uint8Array {
  let head: Uint8Array = new Uint8Array(0);
  for (let n = 4096;; n *= 16) {
    // Deflate inflates at most about 1,000-fold: 4 KiB gives at most 4 MiB.
    head = gunzip(zlib, bytes.subarray(0, n), path, 1 << 26, true) ?? head;
    const needed = head.length >= 4 ? 4 + 4 * head[3] : 4;
    if (head.length >= needed || n >= bytes.length) break;
  }
  const rank = head[3];
  if (head.length < 4 + 4 * rank || head[0] !== 0 || head[1] !== 0 || rank < 1 || rank > 4) {
    // No IDX header: decompressed whole (64 MiB at most) a cut gzip file is named as such.
    return gunzip(zlib, bytes, path, 1 << 26) ?? head;
  }
  const header = 4 + 4 * rank;
  const size = idxShape(head, path).reduce((a, b) => a * b, 1);
  const whole = gunzip(zlib, bytes, path, header + size);
  if (whole === null) {
    throw new MagnetInputError(
      `${path}: the data goes on past the ${size} values its dimensions [${
        idxShape(head, path)
      }] need (decompression stopped there)`,
    );
  }
  return whole;
}

/**
 * Reads an IDX file, gunzipping it first when it is gzipped (whatever its name); a directory, a
 * FIFO or a symbolic link loop in its place is named as such.
 */
export async function readIdx(path: string): Promise<IdxArray> {
  let bytes = await readInputFile(path, "an IDX file");
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    bytes = gunzipIdx(await import("node:zlib"), bytes, path);
  }
  return parseIdx(bytes, path);
}
