/**
 * Where a data set's rows come from when something needs them as float32: the one mechanism that
 * training batches, index refreshes, evaluations, `embed` and the checks all read rows through. A
 * table holds its rows as float32 already ({@link TableRowSource}, the trivial case); image folders hold
 * 8-bit pixels and make float32 rows on demand, per batch (data/images/image_rows.ts), so a set of
 * 100,000 RGB images at 64 x 64 takes 1.2 GB rather than 4.9 GB.
 *
 * @module
 */

/**
 * Rows made on demand: `count` rows of `dim` float32 values each, written into buffers the reader
 * owns. A source never changes its rows, so reading a row twice gives the same values.
 */
export interface RowSource {
  /** Number of rows. */
  readonly count: number;
  /** Values per row. */
  readonly dim: number;
  /**
   * Writes row `indices[i]` to `out` at `i * dim`, for every i (repeats allowed). `out` must hold
   * at least `indices.length * dim` values.
   */
  gather(indices: ArrayLike<number>, out: Float32Array): void;
  /**
   * Rows `start` to `start + count - 1`, contiguous: written into `out` and returned, or returned
   * as a view of the source's own storage when it holds exactly those values (a table does, and
   * then nothing is copied). The caller must not write to what it gets.
   */
  range(start: number, count: number, out: Float32Array): Float32Array;
  /** A source of the rows at `indices`, in that order (repeats allowed); it may share storage. */
  subset(indices: ArrayLike<number>): RowSource;
  /**
   * A SHA-256 of everything that decides the rows' values (32 bytes): two sources with the same
   * digest give the same rows.
   */
  digest(): Promise<Uint8Array>;
}

/** A data set's rows: float32 values in memory (a table, row-major), or a source that makes them. */
export type Features = Float32Array | RowSource;

/** Throws the RangeError of a row index that is not a row of an `n`-row source. */
export function checkRowIndex(r: number, position: number, n: number): void {
  if (!Number.isInteger(r) || r < 0 || r >= n) {
    throw new RangeError(
      `row index ${r} at position ${position} is not a row of a ${n}-row data set`,
    );
  }
}

/** The float32 table as a {@link RowSource}: rows are copied out, ranges are views. */
export class TableRowSource implements RowSource {
  /** Wraps `values` (n x dim, row-major); nothing is copied. */
  constructor(readonly values: Float32Array, readonly dim: number) {
    if (!Number.isInteger(dim) || dim < 1 || values.length % dim !== 0) {
      throw new RangeError(`TableRowSource: ${values.length} values are not rows of ${dim}`);
    }
  }

  /** Number of rows. */
  get count(): number {
    return this.values.length / this.dim;
  }

  /** See {@link RowSource.gather}. */
  gather(indices: ArrayLike<number>, out: Float32Array): void {
    const { values, dim } = this;
    const n = this.count;
    for (let i = 0; i < indices.length; i++) {
      const r = indices[i];
      checkRowIndex(r, i, n);
      out.set(values.subarray(r * dim, (r + 1) * dim), i * dim);
    }
  }

  /** See {@link RowSource.range}: a view, never a copy. */
  range(start: number, count: number, _out: Float32Array): Float32Array {
    if (count > 0) {
      checkRowIndex(start, 0, this.count);
      checkRowIndex(start + count - 1, count - 1, this.count);
    }
    return this.values.subarray(start * this.dim, (start + count) * this.dim);
  }

  /** A new table of the rows at `indices` (a copy). */
  subset(indices: ArrayLike<number>): TableRowSource {
    const out = new Float32Array(indices.length * this.dim);
    this.gather(indices, out);
    return new TableRowSource(out, this.dim);
  }

  /** The SHA-256 of the values' bytes. */
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(
      await crypto.subtle.digest("SHA-256", this.values as Float32Array<ArrayBuffer>),
    );
  }
}

/** `rows` as a {@link RowSource} (a table of `dim` values per row is wrapped, not copied). */
export function rowSource(rows: Features, dim: number): RowSource {
  return rows instanceof Float32Array ? new TableRowSource(rows, dim) : rows;
}

/** The number of rows of `rows` (`dim` values each). */
export function rowCount(rows: Features, dim: number): number {
  return rows instanceof Float32Array ? rows.length / dim : rows.count;
}
