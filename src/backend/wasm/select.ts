/**
 * Selection within rows on the WebAssembly device: the columns of each row's k smallest values,
 * smallest first (argSmallestK), and values picked per row (takeAlongRows). Threads split the rows,
 * so every row is computed the same way whatever the thread count.
 *
 * argSmallestK is a radix select on the floats' bits: each value becomes an unsigned key with the
 * same order (-0 as +0, NaN as +Infinity; four at a time in SIMD), a histogram of the keys' top 11
 * bits finds the bucket holding the k-th smallest, and two more histograms over the candidates left
 * in that bucket (11 and 10 bits) give the k-th key itself: the threshold. One pass then keeps the
 * keys below it and as many equal to it as k needs, lowest columns first, and a stable
 * least-significant-digit radix sort (11, 11, 10 bits; a pass whose digits all agree is skipped)
 * orders the k winners: ties stay in column order.
 */
import type { Func, FunctionBuilder, Local, ModuleBuilder, Operand } from "./assembler.ts";
import { i32Params } from "./assembler.ts";
import { JOB, loadWords, share } from "./jobs.ts";

/** Argument words of the selection jobs. */
export const SELECT_ARGS = {
  // scratch: two words, the first thread's scratch area and the distance to the next thread's.
  arg_smallest_k: [
    "x",
    "out",
    "rows",
    "n",
    "k",
    "scratch",
    "sampleStep",
    "sampleCount",
    "sampleRank",
  ],
  take_along_rows: ["x", "indices", "out", "rows", "n", "k"],
} as const;

const BUCKETS = 2048;

function roundUp16(bytes: number): number {
  return Math.ceil(bytes / 16) * 16;
}

/** The most keys a row's sample takes. */
const SAMPLE_MAX = 2048;

/**
 * Bytes of scratch each thread needs to select from rows of n: candidates' keys and columns
 * (n each, and room for one vector written past the last), a histogram, winners' keys and
 * columns (as many: a winner list is written one place ahead), the sample's keys, a word for
 * kth's tie count and the table that compacts a vector's kept lanes.
 */
export function argSmallestKScratchBytes(n: number): number {
  return 4 * roundUp16(4 * (n + 4)) + 4 * BUCKETS + 4 * SAMPLE_MAX + 16 + 256;
}

/**
 * For each 4-bit mask of kept lanes, the byte shuffle (i8x16.swizzle) that moves the kept 32-bit
 * lanes to the front in order: 16 entries of 16 bytes, as 64 little-endian words.
 */
function compactionTable(): number[] {
  const words: number[] = [];
  for (let mask = 0; mask < 16; mask++) {
    const bytes: number[] = [];
    for (let lane = 0; lane < 4; lane++) {
      if (mask & (1 << lane)) { for (let i = 0; i < 4; i++) bytes.push(4 * lane + i); }
    }
    while (bytes.length < 16) bytes.push(0x80); // an index past 15 gives a zero byte
    for (let w = 0; w < 4; w++) {
      words.push(
        (bytes[4 * w] | (bytes[4 * w + 1] << 8) | (bytes[4 * w + 2] << 16) |
          (bytes[4 * w + 3] << 24)) | 0,
      );
    }
  }
  return words;
}

/**
 * The sample argSmallestK takes from rows of n to select k: `count` keys in blocks of 16 columns,
 * one block every `step` columns, and the rank in the sample whose key bounds the candidates (0: no sample, when k is too large a
 * share of n for a sample to leave much out). The rank sits about four standard deviations above
 * where the k-th smallest key is expected in the sample, so that more than k columns pass nearly
 * always; when fewer do, the kernel takes every column.
 */
export function selectionSample(
  n: number,
  k: number,
): { step: number; count: number; rank: number } {
  const none = { step: 0, count: 0, rank: 0 };
  if (4 * k >= n || n < 4 * SAMPLE_MAX) return none;
  const count = SAMPLE_MAX, step = Math.floor(n / (count / 16));
  const expected = (k * count) / n;
  const rank = Math.ceil(expected + 4 * Math.sqrt(expected * (1 - k / n)) + 4);
  return rank >= count / 2 ? none : { step, count, rank };
}

/** `addr + 4 * index`: the address of element `index` of the i32/f32 array at `addr`. */
function at(b: FunctionBuilder, addr: Operand, index: Operand) {
  return b.i32.add(addr, b.i32.shl(index, 2));
}

/** Increments the i32 at `addr` (`by` a local or a constant, not a value on the stack). */
function bump(b: FunctionBuilder, addr: Local, by: Local | number = 1) {
  b.i32.store(addr, b.i32.add(b.i32.load(addr), by));
}

/** Zeroes the histogram's 2048 words. */
function clearHistogram(b: FunctionBuilder, hist: Local, j: Local) {
  b.for(j, 0, 4 * BUCKETS, 16, () => b.v128.store(b.i32.add(hist, j), b.i32x4.splat(0)));
}

/**
 * Finds the bucket holding the rank-th smallest (1-based) of the counted keys: sets `digit` to it
 * and lowers `rank` by the keys in the buckets below.
 */
function pickBucket(
  b: FunctionBuilder,
  hist: Local,
  rank: Local,
  digit: Local,
  below: Local,
  count: Local,
) {
  b.set(digit, 0);
  b.set(below, 0);
  b.loop((top) => {
    b.set(count, b.i32.load(at(b, hist, digit)));
    b.if(b.i32.lt_u(b.i32.add(below, count), rank), () => {
      b.set(below, b.i32.add(below, count));
      b.set(digit, b.i32.add(digit, 1));
      b.br(top);
    });
  });
  b.set(rank, b.i32.sub(rank, below));
}

/**
 * `kth(keys, count, rank, hist, ties)`: the rank-th smallest (1-based) of `count` keys, by three
 * histograms (the top 11 bits, then the next 11 and the last 10 of the keys that share the digits
 * found so far); writes to `ties` how many keys equal to it the rank includes.
 */
function emitKth(mod: ModuleBuilder): Func {
  const params = i32Params("keys", "count", "rank", "hist", "ties");
  return mod.func({ name: "kth", params, results: ["i32"] }, (b, p) => {
    const c = b.local("c", "i32"), kc = b.local("kc", "i32"), cell = b.local("cell", "i32");
    const digit = b.local("digit", "i32"), below = b.local("below", "i32");
    const count = b.local("n", "i32"), prefix = b.local("prefix", "i32");
    b.set(prefix, 0);
    // [shift of the digit, its mask, shift of the digits already found (32: none yet)]
    for (const [shift, mask, known] of [[21, 2047, 32], [10, 2047, 21], [0, 1023, 10]]) {
      clearHistogram(b, p.hist, c);
      b.for(c, 0, p.count, 1, () => {
        b.set(kc, b.i32.load(at(b, p.keys, c)));
        b.set(cell, at(b, p.hist, b.i32.and(b.i32.shr_u(kc, shift), mask)));
        // Branch-free: keys of other prefixes add 0.
        if (known === 32) bump(b, cell);
        else {
          b.set(kc, b.i32.eq(b.i32.shr_u(kc, known), prefix));
          bump(b, cell, kc);
        }
      });
      pickBucket(b, p.hist, p.rank, digit, below, count);
      b.set(prefix, b.i32.or(b.i32.shl(prefix, mask === 2047 ? 11 : 10), digit));
    }
    b.i32.store(p.ties, p.rank);
    b.return(prefix);
  });
}

/**
 * The row function: selects k of the n values at `src` into the k columns at `out`. When
 * `sampleRank` is nonzero, the sampleRank-th smallest of `sampleCount` keys (blocks of 16
 * consecutive columns, one every `sampleStep` columns) is a threshold that at least k keys are likely not to exceed: one SIMD pass
 * then keeps only the keys at or below it as candidates (falling back to every column when fewer
 * than k are kept, so the answer never depends on the sample); the exact selection then works on
 * the candidates alone.
 */
function emitSelectRow(mod: ModuleBuilder, kth: Func): Func {
  const params = i32Params(
    "src",
    "out",
    "n",
    "k",
    "sample_step",
    "sample_count",
    "sample_rank",
    "ckeys",
    "ccols",
    "hist",
    "wk",
    "wc",
    "sk",
    "sc",
    "lanes",
  );
  return mod.func({ name: "select_row", params }, (b, p) => {
    const j = b.local("j", "i32"), c = b.local("c", "i32"), vend = b.local("vend", "i32");
    const v = b.local("v", "v128"), m = b.local("m", "v128"), cols = b.local("cols", "v128");
    const bound = b.local("bound", "v128");
    const kj = b.local("kj", "i32"), bits = b.local("bits", "i32"), cell = b.local("cell", "i32");
    const cc = b.local("cc", "i32"), limit = b.local("limit", "i32"), mask = b.local("mask", "i32");
    const threshold = b.local("threshold", "i32"), ties = b.local("ties", "i32");
    const t = b.local("t", "i32"), take = b.local("take", "i32"), eq = b.local("eq", "i32");
    const below = b.local("below", "i32"), count = b.local("count", "i32");
    const fromK = b.local("from_k", "i32"), fromI = b.local("from_i", "i32");
    const toK = b.local("to_k", "i32"), toI = b.local("to_i", "i32"), swap = b.local("swap", "i32");
    const shift = b.local("shift", "i32");
    const splat = (x: number) => b.i32x4.splat(x);
    /** The keys of the four values in `v`: unsigned integers in the floats' order. */
    const vectorKeys = () => {
      b.set(v, b.v128.andnot(v, b.i32x4.eq(v, splat(0x80000000 | 0)))); // -0 -> +0
      b.set(m, b.i32x4.gt_u(b.v128.and(v, splat(0x7fffffff)), splat(0x7f800000)));
      b.set(v, b.v128.bitselect(splat(0x7f800000), v, m)); // NaN -> +Infinity
      b.set(v, b.v128.xor(v, b.v128.or(b.i32x4.shr_s(v, 31), splat(0x80000000 | 0))));
    };
    const scalarKey = (address: Operand) => {
      b.set(bits, b.i32.load(address));
      b.set(bits, b.select("i32", 0, bits, b.i32.eq(bits, 0x80000000 | 0)));
      const nan = b.i32.gt_u(b.i32.and(bits, 0x7fffffff), 0x7f800000);
      b.set(bits, b.select("i32", 0x7f800000, bits, nan));
      b.set(kj, b.i32.xor(bits, b.i32.or(b.i32.shr_s(bits, 31), 0x80000000 | 0)));
    };
    b.set(vend, b.i32.and(p.n, -4));
    b.set(cc, 0);
    b.if(p.sample_rank, () => {
      // The sample: blocks of 16 consecutive values (a cache line each), one every
      // sample_step columns.
      b.for(c, 0, p.sample_count, 16, () => {
        b.set(j, b.i32.mul(b.i32.shr_u(c, 4), p.sample_step));
        for (let q = 0; q < 4; q++) {
          b.set(v, b.v128.load(at(b, p.src, j), { offset: 16 * q, align: 4 }));
          vectorKeys();
          b.v128.store(at(b, p.sk, c), v, { offset: 16 * q });
        }
      });
      b.set(limit, b.call(kth, p.sk, p.sample_count, p.sample_rank, p.hist, p.sc)!);
      // Every column's key against the limit, branch-free: the kept lanes of each vector of keys
      // (and of its columns) are moved to the front and stored at the next free place, which
      // moves on by their count.
      b.set(bound, b.i32x4.splat(limit));
      b.set(cols, b.i32x4.const(0, 1, 2, 3));
      b.for(j, 0, vend, 4, () => {
        b.set(v, b.v128.load(at(b, p.src, j)));
        vectorKeys();
        b.set(mask, b.i32x4.bitmask(b.i32x4.le_u(v, bound)));
        b.set(m, b.v128.load(b.i32.add(p.lanes, b.i32.shl(mask, 4))));
        b.v128.store(at(b, p.ckeys, cc), b.i8x16.swizzle(v, m));
        b.v128.store(at(b, p.ccols, cc), b.i8x16.swizzle(cols, m));
        b.set(cc, b.i32.add(cc, b.i32.popcnt(mask)));
        b.set(cols, b.i32x4.add(cols, splat(4)));
      });
      b.for(j, vend, p.n, 1, () => {
        scalarKey(at(b, p.src, j));
        b.i32.store(at(b, p.ckeys, cc), kj);
        b.i32.store(at(b, p.ccols, cc), j);
        b.set(cc, b.i32.add(cc, b.i32.le_u(kj, limit)));
      });
    });
    // No sample, or too few kept: every column is a candidate.
    b.if(b.i32.lt_u(cc, p.k), () => {
      b.set(cols, b.i32x4.const(0, 1, 2, 3));
      b.for(j, 0, vend, 4, () => {
        b.set(v, b.v128.load(at(b, p.src, j)));
        vectorKeys();
        b.v128.store(at(b, p.ckeys, j), v);
        b.v128.store(at(b, p.ccols, j), cols);
        b.set(cols, b.i32x4.add(cols, splat(4)));
      });
      b.for(j, vend, p.n, 1, () => {
        scalarKey(at(b, p.src, j));
        b.i32.store(at(b, p.ckeys, j), kj);
        b.i32.store(at(b, p.ccols, j), j);
      });
      b.set(cc, p.n);
    });
    b.set(threshold, b.call(kth, p.ckeys, cc, p.k, p.hist, p.sc)!);
    b.set(ties, b.i32.load(p.sc));
    // The winners: keys below the threshold, and `ties` keys equal to it, lowest columns first
    // (candidates are in column order). Each candidate is written at the next free place; only a
    // winner moves the place on.
    b.set(t, 0);
    b.for(c, 0, cc, 1, () => {
      b.set(kj, b.i32.load(at(b, p.ckeys, c)));
      b.i32.store(at(b, p.wk, t), kj);
      b.i32.store(at(b, p.wc, t), b.i32.load(at(b, p.ccols, c)));
      b.set(eq, b.i32.eq(kj, threshold));
      b.set(take, b.i32.or(b.i32.lt_u(kj, threshold), b.i32.and(eq, b.i32.gt_s(ties, 0))));
      b.set(t, b.i32.add(t, take));
      b.set(ties, b.i32.sub(ties, b.i32.and(eq, take)));
    });
    // Stable LSD radix sort of the k winners by key (candidates' arrays are free again: the
    // second buffer).
    b.set(fromK, p.wk);
    b.set(fromI, p.wc);
    b.set(toK, p.ckeys);
    b.set(toI, p.ccols);
    b.for(shift, 0, 33, 11, ({ next }) => {
      const digitAt = (i: Operand) =>
        b.i32.and(b.i32.shr_u(b.i32.load(at(b, fromK, i)), shift), 2047);
      clearHistogram(b, p.hist, j);
      b.for(c, 0, p.k, 1, () => {
        b.set(cell, at(b, p.hist, digitAt(c)));
        bump(b, cell);
      });
      // One digit for all: already in order by it.
      b.br_if(next, b.i32.eq(b.i32.load(at(b, p.hist, digitAt(0))), p.k));
      b.set(below, 0);
      b.for(c, 0, BUCKETS, 1, () => {
        b.set(cell, at(b, p.hist, c));
        b.set(count, b.i32.load(cell));
        b.i32.store(cell, below);
        b.set(below, b.i32.add(below, count));
      });
      b.for(c, 0, p.k, 1, () => {
        b.set(kj, b.i32.load(at(b, fromK, c)));
        b.set(cell, at(b, p.hist, b.i32.and(b.i32.shr_u(kj, shift), 2047)));
        b.set(t, b.i32.load(cell));
        b.i32.store(cell, b.i32.add(t, 1));
        b.i32.store(at(b, toK, t), kj);
        b.i32.store(at(b, toI, t), b.i32.load(at(b, fromI, c)));
      });
      for (const [x, y] of [[fromK, toK], [fromI, toI]]) {
        b.set(swap, x);
        b.set(x, y);
        b.set(y, swap);
      }
    });
    b.set(vend, b.i32.and(p.k, -4));
    b.for(c, 0, vend, 4, () => b.v128.store(at(b, p.out, c), b.v128.load(at(b, fromI, c))));
    b.for(c, vend, p.k, 1, () => b.i32.store(at(b, p.out, c), b.i32.load(at(b, fromI, c))));
  });
}

/** Adds the argSmallestK job (export `arg_smallest_k`) to the kernel module. */
export function emitArgSmallestK(mod: ModuleBuilder): void {
  const row = emitSelectRow(mod, emitKth(mod));
  const name = "arg_smallest_k";
  mod.func({ name, params: JOB, export: name }, (b, { args, tid, threads }) => {
    const a = loadWords(b, SELECT_ARGS.arg_smallest_k, args);
    const begin = b.local("begin", "i32"), end = b.local("end", "i32"), r = b.local("r", "i32");
    share(b, a.rows, 1, tid, threads, begin, end);
    // This thread's scratch, cut into the row function's arrays (see argSmallestKScratchBytes).
    const names = ["ckeys", "ccols", "hist", "wk", "wc", "sk", "sc", "lanes"] as const;
    const parts = Object.fromEntries(names.map((n) => [n, b.local(n, "i32")])) as Record<
      (typeof names)[number],
      Local
    >;
    const rowBytes = b.local("row_bytes", "i32");
    const round16 = (x: Operand) => b.i32.and(b.i32.add(x, 15), -16);
    b.set(rowBytes, round16(b.i32.shl(b.i32.add(a.n, 4), 2)));
    const scratch = b.i32.add(
      b.i32.load(a.scratch),
      b.i32.mul(tid, b.i32.load(a.scratch, { offset: 4 })),
    );
    b.set(parts.ckeys, scratch);
    b.set(parts.ccols, b.i32.add(parts.ckeys, rowBytes));
    b.set(parts.hist, b.i32.add(parts.ccols, rowBytes));
    b.set(parts.wk, b.i32.add(parts.hist, 4 * BUCKETS));
    b.set(parts.wc, b.i32.add(parts.wk, rowBytes));
    b.set(parts.sk, b.i32.add(parts.wc, rowBytes));
    b.set(parts.sc, b.i32.add(parts.sk, 4 * SAMPLE_MAX));
    b.set(parts.lanes, b.i32.add(parts.sc, 16));
    compactionTable().forEach((w, i) => b.i32.store(parts.lanes, w, { offset: 4 * i }));
    b.for(r, begin, end, 1, () => {
      b.call(
        row,
        at(b, a.x, b.i32.mul(r, a.n)),
        at(b, a.out, b.i32.mul(r, a.k)),
        a.n,
        a.k,
        a.sampleStep,
        a.sampleCount,
        a.sampleRank,
        ...names.map((n) => parts[n]),
      );
    });
  });
}

/** Adds the takeAlongRows job (export `take_along_rows`): threads split the rows. */
export function emitTakeAlongRows(mod: ModuleBuilder): void {
  const name = "take_along_rows";
  mod.func({ name, params: JOB, export: name }, (b, { args, tid, threads }) => {
    const a = loadWords(b, SELECT_ARGS.take_along_rows, args);
    const begin = b.local("begin", "i32"), end = b.local("end", "i32");
    share(b, a.rows, 1, tid, threads, begin, end);
    const r = b.local("r", "i32"), j = b.local("j", "i32"), col = b.local("col", "i32");
    const row = b.local("row", "i32"), place = b.local("place", "i32");
    b.for(r, begin, end, 1, () => {
      b.set(row, at(b, a.x, b.i32.mul(r, a.n)));
      b.for(j, 0, a.k, 1, () => {
        b.set(place, b.i32.add(b.i32.mul(r, a.k), j));
        b.set(col, b.i32.load(at(b, a.indices, place)));
        // Unsigned: a negative column is out of range too.
        b.if(
          b.i32.lt_u(col, a.n),
          () => b.f32.store(at(b, a.out, place), b.f32.load(at(b, row, col))),
          () => b.f32.store(at(b, a.out, place), 0),
        );
      });
    });
  });
}
