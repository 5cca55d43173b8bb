/**
 * The IDX format of MNIST-like data sets: a magic number (two zero bytes, a type byte, a rank
 * byte), the dimensions as big-endian 32-bit integers, then the values. Files may be gzipped
 * (recognised by gzip's magic bytes), in one member or several (as `pigz` or `cat a.gz b.gz`
 * write them); files.ts reads them and decompresses no further than the header's dimensions need.
 * Every problem names the file.
 */
import { MagnetInputError } from "../errors.ts";

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
export function idxShape(bytes: Uint8Array, source: string): number[] {
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
