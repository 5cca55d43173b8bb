/**
 * The data readers that open files (through Deno): CSV files and IDX files. Parsing lives apart
 * (csv.ts, idx.ts), so that a web page can parse text or bytes it fetched; modules a page uses must
 * not import this one (tests/web/browser_clean_test.ts).
 */
import { MagnetInputError } from "../errors.ts";
import {
  type CsvOptions,
  type CsvRows,
  type CsvRowsOptions,
  parseCsvDataset,
  parseCsvRows,
} from "./csv.ts";
import type { Dataset } from "./dataset.ts";
import { type IdxArray, parseIdx } from "./idx.ts";

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

async function readCsvText(path: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new MagnetInputError(`file not found: ${path}`);
    if (e instanceof Deno.errors.IsADirectory) {
      throw new MagnetInputError(`${path}: expected a CSV file, found a directory.`);
    }
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new MagnetInputError(`${path}: the file cannot be read (permission denied).`);
    }
    throw e;
  }
  try {
    // Fatal decoding: silently replacing bad bytes with U+FFFD would turn them into odd labels.
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new MagnetInputError(`${path}: expected UTF-8 text, found invalid byte sequences.`);
  }
}

/** Reads an IDX file, gunzipping it first when it is gzipped (whatever its name). */
export async function readIdx(path: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new MagnetInputError(`file not found: ${path}`);
    }
    throw new MagnetInputError(`cannot read ${path}: ${(error as Error).message}`);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
        .pipeThrough(new DecompressionStream("gzip"));
      bytes = new Uint8Array(await new Response(stream).arrayBuffer());
    } catch (error) {
      throw new MagnetInputError(
        `${path} is not a valid gzip file: ${(error as Error).message}`,
      );
    }
  }
  return parseIdx(bytes, path);
}
