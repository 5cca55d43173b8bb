/**
 * The IDX format of MNIST-like data sets: a magic number (two zero bytes, a type byte, a rank
 * byte), the dimensions as big-endian 32-bit integers, then the values. Files may be gzipped
 * (recognised by gzip's magic bytes), in one member or several (as `pigz` or `cat a.gz b.gz`
 * write them); decompression stops as soon as the data passes what the header's dimensions need,
 * so memory is bounded by the expected size, not by what a damaged or hostile file inflates to.
 * Every problem names the file.
 */
import { constants, gunzipSync } from "node:zlib";
import { MagnetInputError } from "../errors.ts";
import { readInputFile } from "../io/input.ts";

/**
 * The most values an IDX file may declare (2^30 bytes, 1 GiB): twenty times Fashion-MNIST's
 * training images, and what a typed array of pixels can be made from everywhere.
 */
export const MAX_IDX_VALUES = 2 ** 30;

/** An unsigned-byte array read from an IDX file. */
export interface IdxArray {
  /** The dimensions, first the number of items. */
  readonly shape: readonly number[];
  /** The values, row-major. */
  readonly data: Uint8Array;
}

/** Parses IDX bytes holding unsigned bytes (type 0x08); `source` names them in errors. */
export function parseIdx(bytes: Uint8Array, source: string): IdxArray {
  if (bytes.length < 4) {
    throw new MagnetInputError(`${source}: ${bytes.length} bytes, too short for an IDX header`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new MagnetInputError(
      `${source} is not an IDX file (it starts with ${bytes[0]}, ${bytes[1]}, not 0, 0)`,
    );
  }
  if (bytes[2] !== 0x08) {
    throw new MagnetInputError(
      `${source}: IDX type 0x${bytes[2].toString(16)} where unsigned bytes (0x08) were expected`,
    );
  }
  const rank = bytes[3];
  if (rank < 1 || rank > 4) {
    throw new MagnetInputError(`${source}: IDX rank ${rank}, expected 1 to 4 dimensions`);
  }
  const header = 4 + 4 * rank;
  if (bytes.length < header) {
    throw new MagnetInputError(`${source}: the file ends inside its ${rank} dimensions`);
  }
  const shape = idxShape(bytes, source);
  const size = shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== header + size) {
    throw new MagnetInputError(
      `${source}: dimensions [${shape}] need ${size} values, the file holds ${
        bytes.length - header
      }`,
    );
  }
  return { shape, data: bytes.subarray(header) };
}

/**
 * The dimensions in the header at the start of `bytes` (magic and rank already seen to be
 * there), refused when they declare more than {@link MAX_IDX_VALUES} values.
 */
function idxShape(bytes: Uint8Array, source: string): number[] {
  const rank = bytes[3];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const size = shape.reduce((a, b) => a * b, 1);
  if (size > MAX_IDX_VALUES) {
    throw new MagnetInputError(
      `${source}: dimensions [${shape}] declare ${size} values, more than the ${MAX_IDX_VALUES} ` +
        "an IDX file may hold here",
    );
  }
  return shape;
}

/**
 * Decompresses `bytes` (all their members; `partial`: a beginning of them), giving at most
 * `limit` bytes; null when there would be more.
 */
function gunzip(
  bytes: Uint8Array,
  path: string,
  limit: number,
  partial = false,
): Uint8Array | null {
  try {
    const out = gunzipSync(bytes, {
      maxOutputLength: limit,
      ...(partial ? { finishFlush: constants.Z_SYNC_FLUSH } : {}),
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
function gunzipIdx(bytes: Uint8Array, path: string): Uint8Array {
  let head: Uint8Array = new Uint8Array(0);
  for (let n = 4096;; n *= 16) {
    // Deflate inflates at most about 1,000-fold: 4 KiB gives at most 4 MiB.
    head = gunzip(bytes.subarray(0, n), path, 1 << 26, true) ?? head;
    const needed = head.length >= 4 ? 4 + 4 * head[3] : 4;
    if (head.length >= needed || n >= bytes.length) break;
  }
  const rank = head[3];
  if (head.length < 4 + 4 * rank || head[0] !== 0 || head[1] !== 0 || rank < 1 || rank > 4) {
    // No IDX header: decompressed whole (64 MiB at most) a cut gzip file is named as such.
    return gunzip(bytes, path, 1 << 26) ?? head;
  }
  const header = 4 + 4 * rank;
  const size = idxShape(head, path).reduce((a, b) => a * b, 1);
  const whole = gunzip(bytes, path, header + size);
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
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipIdx(bytes, path);
  return parseIdx(bytes, path);
}
