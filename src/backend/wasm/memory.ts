/**
 * Placing buffers in one shared WebAssembly memory: first-fit over a free list kept in address
 * order, neighbours merged on free, and the memory grown when nothing fits. Allocations are few
 * (a compiled graph takes its buffers once), so clarity wins over cleverness here.
 */

import { EnvironmentError, TooLargeError } from "../../errors.ts";

/** Every block starts on a cache line, which also satisfies every SIMD load's natural alignment. */
export const ALIGN = 64;

const PAGE = 65536;
/** WebAssembly's 32-bit limit: 65,536 pages of 64 KiB. */
export const MAX_PAGES = 65536;

function roundUp(x: number, step: number): number {
  return Math.ceil(x / step) * step;
}

/** A block of the memory: [offset, offset + bytes). */
interface Block {
  offset: number;
  bytes: number;
}

/** Allocates byte ranges of a shared memory. */
export class Allocator {
  /** Free blocks in address order. */
  readonly #free: Block[] = [];
  /** Sizes of the blocks handed out, by offset. */
  readonly #used = new Map<number, number>();
  /** The end of the highest block ever handed out. */
  #top: number;
  /** Where the blocks begin. */
  readonly #start: number;

  /** Manages `memory` from byte `start` on (below it lies what the owner reserved). */
  constructor(readonly memory: WebAssembly.Memory, start: number) {
    this.#top = this.#start = roundUp(start, ALIGN);
  }

  /** Bytes in use (for tests and memory reports). */
  get usedBytes(): number {
    let total = 0;
    for (const bytes of this.#used.values()) total += bytes;
    return total;
  }

  /** Bytes that may still be handed out, all blocks together (the memory's 4 GiB limit less use). */
  get availableBytes(): number {
    return MAX_PAGES * PAGE - this.#start - this.usedBytes;
  }

  /** The largest block the memory could ever hold. */
  get maxBlockBytes(): number {
    return MAX_PAGES * PAGE - this.#start;
  }

  /** The highest byte ever in use. */
  get peakBytes(): number {
    return this.#top;
  }

  /** A block of at least `bytes` bytes, aligned to {@link ALIGN}; its offset. */
  alloc(bytes: number): number {
    const size = roundUp(Math.max(bytes, 1), ALIGN);
    for (let i = 0; i < this.#free.length; i++) {
      const block = this.#free[i];
      if (block.bytes < size) continue;
      const offset = block.offset;
      if (block.bytes === size) this.#free.splice(i, 1);
      else {
        block.offset += size;
        block.bytes -= size;
      }
      this.#used.set(offset, size);
      return offset;
    }
    const offset = this.#top;
    this.#ensure(offset + size);
    this.#top = offset + size;
    this.#used.set(offset, size);
    return offset;
  }

  /** Returns a block; freeing twice or an unknown offset throws. */
  free(offset: number): void {
    const bytes = this.#used.get(offset);
    if (bytes === undefined) throw new Error(`wasm memory: no block at ${offset} to free`);
    this.#used.delete(offset);
    let i = 0;
    while (i < this.#free.length && this.#free[i].offset < offset) i++;
    this.#free.splice(i, 0, { offset, bytes });
    // Merge with the next, then with the previous block.
    const next = this.#free[i + 1];
    if (next !== undefined && offset + bytes === next.offset) {
      this.#free[i].bytes += next.bytes;
      this.#free.splice(i + 1, 1);
    }
    const previous = this.#free[i - 1];
    if (previous !== undefined && previous.offset + previous.bytes === offset) {
      previous.bytes += this.#free[i].bytes;
      this.#free.splice(i, 1);
    }
  }

  /** Grows the memory to hold `end` bytes. */
  #ensure(end: number): void {
    const pages = Math.ceil(end / PAGE);
    const have = this.memory.buffer.byteLength / PAGE;
    if (pages <= have) return;
    if (pages > MAX_PAGES) {
      throw new TooLargeError(
        end,
        MAX_PAGES * PAGE,
        `the WebAssembly CPU backend would need ${(end / 2 ** 30).toFixed(2)} GiB of memory, ` +
          "beyond its 4 GiB limit: use a smaller model or batch",
      );
    }
    // Grow by at least half again, so many small growths do not each copy views around; when the
    // system cannot give that much, exactly what is needed.
    const generous = Math.min(MAX_PAGES, Math.max(pages, Math.ceil(have * 1.5)));
    for (const target of generous > pages ? [generous, pages] : [pages]) {
      try {
        this.memory.grow(target - have);
        return;
      } catch (error) {
        if (!(error instanceof RangeError) || target === pages) {
          throw new EnvironmentError(
            "ENOMEM",
            `the system did not give the WebAssembly CPU backend ${
              (end / 2 ** 30).toFixed(2)
            } GiB of memory (${(error as Error).message}): free memory, or use a smaller model ` +
              "or batch",
          );
        }
      }
    }
  }
}
