/**
 * The k smallest entries of a row of distances, nearest first, ties broken by the lower column:
 * the selection step of nearest-neighbour search, run on the host for every query.
 *
 * Two strategies give the same answer. For small k a bounded max-heap costs n comparisons against
 * its root and a few replacements. For large k (retrieval metrics keep R neighbours, R the size of
 * a class: 6,000 of 60,000 on Fashion-MNIST) the heap's k log k replacements dominate, so a radix
 * select on the float32 bit patterns finds the k-th key in two passes over the row, and a stable
 * radix sort orders the k winners.
 */
import type { FloatArray } from "../backend/backend.ts";

/** Above this k, rows of float32 use the radix strategy. */
export const RADIX_MIN_K = 64;

/** Picks the k smallest entries of rows; one instance serves many rows of the same width. */
export class TopK {
  readonly #k: number;
  readonly #heapD: Float64Array;
  readonly #heapI: Int32Array;
  #radix: RadixScratch | null = null;

  /** Selects `k` per row; `strategy` forces one (tests), by default chosen by k. */
  constructor(k: number, readonly strategy: "auto" | "heap" | "radix" = "auto") {
    this.#k = k;
    this.#heapD = new Float64Array(strategy === "radix" ? 0 : k);
    this.#heapI = new Int32Array(strategy === "radix" ? 0 : k);
  }

  /**
   * Selects from `row[offset .. offset + n)`, skipping column `skip` (-1 for none), and writes the k
   * winners, nearest first, to `outI` / `outD` at `outOffset`. NaN ranks as +Infinity.
   */
  select(
    row: FloatArray,
    offset: number,
    n: number,
    skip: number,
    outI: Int32Array,
    outD: Float32Array,
    outOffset: number,
  ): void {
    const radix = this.strategy === "radix" ||
      (this.strategy === "auto" && this.#k > RADIX_MIN_K);
    if (radix && row instanceof Float32Array) {
      this.#radix ??= new RadixScratch();
      this.#radix.select(row, offset, n, skip, this.#k, outI, outD, outOffset);
    } else {
      this.#heapSelect(row, offset, n, skip, outI, outD, outOffset);
    }
  }

  #heapSelect(
    row: FloatArray,
    offset: number,
    n: number,
    skip: number,
    outI: Int32Array,
    outD: Float32Array,
    outOffset: number,
  ): void {
    const k = this.#k, hd = this.#heapD, hi = this.#heapI;
    let size = 0;
    let j = 0;
    for (; j < n && size < k; j++) {
      if (j === skip) continue;
      hd[size] = key(row[offset + j]);
      hi[size] = j;
      size++;
    }
    for (let i = (k >> 1) - 1; i >= 0; i--) this.#siftDown(i, k);
    for (; j < n; j++) {
      const d = key(row[offset + j]);
      // Columns arrive in increasing index order, so a candidate that only ties the worst kept one
      // has the higher index and loses: a strict comparison implements the index tie-break.
      if (d < hd[0] && j !== skip) {
        hd[0] = d;
        hi[0] = j;
        this.#siftDown(0, k);
      }
    }
    // Popping the max k times fills the output from its far end.
    for (let end = k - 1; end >= 0; end--) {
      outI[outOffset + end] = hi[0];
      outD[outOffset + end] = hd[0];
      hd[0] = hd[end];
      hi[0] = hi[end];
      this.#siftDown(0, end);
    }
  }

  #siftDown(start: number, size: number): void {
    const hd = this.#heapD, hi = this.#heapI;
    const d = hd[start], idx = hi[start];
    let i = start;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      const right = child + 1;
      if (
        right < size &&
        (hd[right] > hd[child] || (hd[right] === hd[child] && hi[right] > hi[child]))
      ) {
        child = right;
      }
      if (hd[child] > d || (hd[child] === d && hi[child] > idx)) {
        hd[i] = hd[child];
        hi[i] = hi[child];
        i = child;
      } else {
        break;
      }
    }
    hd[i] = d;
    hi[i] = idx;
  }
}

/** Sort key of a distance: NaN (from overflowing inputs) ranks last instead of poisoning the heap. */
function key(d: number): number {
  return d === d ? d : Infinity;
}

const POSITIVE_INFINITY_BITS = 0x7f800000;
/** Larger than the key of any float: marks the skipped column. */
const EXCLUDED = 0xffffffff;
const DIGIT_BITS = 11;
const BUCKETS = 1 << DIGIT_BITS;

/**
 * The float's order as an unsigned integer: positive floats keep their bits with the sign bit
 * set, negative ones are inverted; -0 counts as +0 and NaN as +Infinity, as {@link key} does.
 */
function orderKey(bits: number): number {
  if (bits === 0x80000000) bits = 0;
  if ((bits & 0x7fffffff) > POSITIVE_INFINITY_BITS) bits = POSITIVE_INFINITY_BITS;
  return (bits & 0x80000000 ? ~bits : bits | 0x80000000) >>> 0;
}

/** Buffers of the radix strategy, grown to the widest row and largest k seen. */
class RadixScratch {
  keys = new Uint32Array(0);
  candidates = new Int32Array(0);
  sortKeys = [new Uint32Array(0), new Uint32Array(0)];
  sortIndices = [new Int32Array(0), new Int32Array(0)];
  readonly counts = new Int32Array(BUCKETS);

  select(
    row: Float32Array,
    offset: number,
    n: number,
    skip: number,
    k: number,
    outI: Int32Array,
    outD: Float32Array,
    outOffset: number,
  ): void {
    if (this.keys.length < n) {
      this.keys = new Uint32Array(n);
      this.candidates = new Int32Array(n);
    }
    if (this.sortKeys[0].length < k) {
      this.sortKeys = [new Uint32Array(k), new Uint32Array(k)];
      this.sortIndices = [new Int32Array(k), new Int32Array(k)];
    }
    const keys = this.keys, counts = this.counts, candidates = this.candidates;
    const bits = new Uint32Array(row.buffer, row.byteOffset + 4 * offset, n);

    // The threshold: the k-th smallest key, digit by digit from the top (11, 11, 10 bits). The
    // first pass histograms every key; later ones only the candidates left in the chosen bucket.
    counts.fill(0);
    for (let j = 0; j < n; j++) {
      const kj = j === skip ? EXCLUDED : orderKey(bits[j]);
      keys[j] = kj;
      counts[kj >>> 21]++;
    }
    let rank = k; // the threshold is the rank-th smallest among the remaining candidates
    let digit = pickBucket(counts, rank);
    rank -= prefixCount(counts, digit);
    let prefix = digit;
    let candidateCount = 0;
    for (let j = 0; j < n; j++) if (keys[j] >>> 21 === prefix) candidates[candidateCount++] = j;
    for (const shift of [10, 0]) {
      const width = shift === 10 ? DIGIT_BITS : 10;
      const mask = (1 << width) - 1;
      counts.fill(0);
      for (let c = 0; c < candidateCount; c++) counts[(keys[candidates[c]] >>> shift) & mask]++;
      digit = pickBucket(counts, rank);
      rank -= prefixCount(counts, digit);
      let kept = 0;
      for (let c = 0; c < candidateCount; c++) {
        const j = candidates[c];
        if (((keys[j] >>> shift) & mask) === digit) candidates[kept++] = j;
      }
      candidateCount = kept;
      prefix = prefix * (mask + 1) + digit;
    }
    const threshold = prefix >>> 0;
    // `rank` keys equal to the threshold belong to the k, the lowest columns first.
    let ties = rank;
    const [keysA, keysB] = this.sortKeys, [indexA, indexB] = this.sortIndices;
    let taken = 0;
    for (let j = 0; j < n; j++) {
      const kj = keys[j];
      if (kj < threshold || (kj === threshold && ties-- > 0)) {
        keysA[taken] = kj;
        indexA[taken++] = j;
      }
    }
    // A stable least-significant-digit sort keeps equal keys in column order.
    let fromK = keysA, fromI = indexA, toK = keysB, toI = indexB;
    for (const shift of [0, 11, 22]) {
      counts.fill(0);
      for (let i = 0; i < k; i++) counts[(fromK[i] >>> shift) & (BUCKETS - 1)]++;
      if (counts[(fromK[0] >>> shift) & (BUCKETS - 1)] === k) continue; // one digit: in order
      let sum = 0;
      for (let b = 0; b < BUCKETS; b++) {
        const c = counts[b];
        counts[b] = sum;
        sum += c;
      }
      for (let i = 0; i < k; i++) {
        const at = counts[(fromK[i] >>> shift) & (BUCKETS - 1)]++;
        toK[at] = fromK[i];
        toI[at] = fromI[i];
      }
      [fromK, toK] = [toK, fromK];
      [fromI, toI] = [toI, fromI];
    }
    for (let i = 0; i < k; i++) {
      const j = fromI[i];
      outI[outOffset + i] = j;
      outD[outOffset + i] = key(row[offset + j]);
    }
  }
}

/** The bucket holding the rank-th smallest (1-based) of the counted keys. */
function pickBucket(counts: Int32Array, rank: number): number {
  let sum = 0;
  for (let b = 0; b < counts.length; b++) {
    sum += counts[b];
    if (sum >= rank) return b;
  }
  throw new Error("TopK: fewer keys than k");
}

/** Keys in the buckets below `bucket`. */
function prefixCount(counts: Int32Array, bucket: number): number {
  let sum = 0;
  for (let b = 0; b < bucket; b++) sum += counts[b];
  return sum;
}
