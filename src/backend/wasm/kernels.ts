/**
 * The WebAssembly device's fixed kernels, in one module: matrix product (also split along its
 * inner dimension), reductions, gather, segment sum, one-hot, image windows, pooling, and (from
 * select.ts and conv.ts) selection within rows and direct 3x3 convolutions. Every kernel is a job with the signature `(args, tid, threads)`: `args`
 * is the byte offset of its argument block in the shared memory (i32 words written once when the
 * kernel is prepared), and a thread `tid` of `threads` computes its own share, so the same export
 * runs alone on the calling thread or split across the worker pool (see threads.ts).
 *
 * Addresses are byte offsets; float data is f32, indices i32.
 *
 * One long file on purpose: the kernels share their job conventions (argument blocks, shares,
 * vector loops with scalar tails), which are read once here rather than across files.
 */
import {
  type Func,
  type FunctionBuilder,
  i32Params,
  type Local,
  ModuleBuilder,
  type Operand,
} from "./assembler.ts";
import { CONV_ARGS, emitConvolution } from "./conv.ts";
import { copyFloats, JOB, loadWords, share } from "./jobs.ts";
import { emitPatches, emitUnpatches, PATCH_ARGS } from "./patches.ts";
import { emitArgSmallestK, emitTakeAlongRows, SELECT_ARGS } from "./select.ts";
import { defaultMatmulConfig, emitMatmul, type MatmulConfig } from "./matmul_kernel.ts";
import { MAX_PAGES } from "./memory.ts";

/** The exports of the kernel module, in export order (threads.ts calls them by index). */
export const KERNEL_EXPORTS = [
  "matmul",
  "sum_rows",
  "sum_columns",
  "max_rows",
  "max_columns",
  "argmax",
  "gather",
  "segment_sum",
  "one_hot",
  "patches",
  "unpatches",
  "arg_smallest_k",
  "take_along_rows",
  "conv_kernel_transform",
  "conv_tiles",
  "conv_filter_tiles",
  "conv_filter_reduce",
  "matmul_split_k",
  "pool_max",
  "pool_sum",
  "copy_floats",
  "sum_columns_chunks",
  "max_columns_chunks",
] as const;

/** The name of a kernel export. */
export type KernelExport = (typeof KERNEL_EXPORTS)[number];

/** Argument words of each job, in order. */
export const KERNEL_ARGS: { readonly [K in KernelExport]: readonly string[] } = {
  // scratch: two words, the first thread's scratch area and the distance to the next thread's
  // (read at each call, so the device may move the area when a larger product needs more).
  matmul: ["a", "b", "out", "m", "n", "k", "flags", "scratch", "rowGrain"],
  // Aᵀ B (A stored k x m, B k x n) as one partial m x n per chunk of `chunk` rows of k; the
  // partials are then summed in chunk order (sum_columns).
  matmul_split_k: ["a", "b", "partials", "m", "n", "k", "scratch", "chunk", "chunks"],
  // Images [n, height, width, c] to [n * outHeight * outWidth, c]: the patches' words, windows
  // wholly inside the image (no padding).
  pool_max: PATCH_ARGS,
  pool_sum: PATCH_ARGS,
  // x seen as [outer, length, inner]; rows: inner == 1, columns: inner > 1.
  sum_rows: ["x", "out", "outer", "length"],
  sum_columns: ["x", "out", "outer", "length", "inner"],
  max_rows: ["x", "out", "outer", "length"],
  max_columns: ["x", "out", "outer", "length", "inner"],
  argmax: ["x", "out", "outer", "length", "inner"],
  gather: ["x", "indices", "out", "rows", "inner", "bound"],
  segment_sum: ["x", "ids", "out", "rows", "inner", "segments"],
  one_hot: ["indices", "out", "rows", "depth"],
  // A program's variable updates: `count` floats from `from` to `to` (not overlapping).
  copy_floats: ["from", "to", "count"],
  // x [length, inner] to one partial row per chunk of `chunk` rows (then combined by *_columns).
  sum_columns_chunks: ["x", "partials", "length", "inner", "chunk", "chunks"],
  max_columns_chunks: ["x", "partials", "length", "inner", "chunk", "chunks"],
  // Images [n, height, width, c] and windows [n * outHeight * outWidth, kh * kw * c].
  patches: PATCH_ARGS,
  unpatches: PATCH_ARGS,
  ...SELECT_ARGS,
  ...CONV_ARGS,
};

/** Declares a local per argument word of kernel `name` and loads it. */
function loadArgs(b: FunctionBuilder, name: KernelExport, args: Local): Record<string, Local> {
  return loadWords(b, KERNEL_ARGS[name], args);
}

function emitMatmulJob(
  mod: ModuleBuilder,
  relaxed: boolean,
  config: Readonly<MatmulConfig>,
): Func {
  const matmul = emitMatmul(mod, relaxed, config);
  mod.func({ name: "matmul_job", params: JOB, export: "matmul" }, (b, { args, tid, threads }) => {
    const a = loadArgs(b, "matmul", args);
    const begin = b.local("begin", "i32"), end = b.local("end", "i32");
    share(b, a.m, a.rowGrain, tid, threads, begin, end);
    b.if(b.i32.lt_s(begin, end), () => {
      b.call(
        matmul,
        a.a,
        a.b,
        a.out,
        a.m,
        a.n,
        a.k,
        a.flags,
        b.i32.add(b.i32.load(a.scratch), b.i32.mul(tid, b.i32.load(a.scratch, { offset: 4 }))),
        begin,
        end,
      );
    });
  });
  return matmul;
}

/**
 * A product Aᵀ B with few output rows and a long inner dimension (a kernel gradient over many
 * pixels), which the row bands of matmul_job would leave on one thread: thread `tid` computes the
 * partials of chunks tid, tid + threads, ..., each over its own rows of A and B (contiguous, since
 * A is stored transposed). The chunks depend on the shape alone, so each partial, and their sum in
 * chunk order, is the same on any number of threads.
 */
function emitMatmulSplitK(mod: ModuleBuilder, matmul: Func) {
  const name = "matmul_split_k";
  mod.func({ name: `${name}_job`, params: JOB, export: name }, (b, { args, tid, threads }) => {
    const a = loadArgs(b, name, args);
    const c = b.local("c", "i32"), first = b.local("first", "i32"), rows = b.local("rows", "i32");
    const scratch = b.local("scratch_at", "i32");
    b.set(
      scratch,
      b.i32.add(b.i32.load(a.scratch), b.i32.mul(tid, b.i32.load(a.scratch, { offset: 4 }))),
    );
    b.for(c, tid, a.chunks, threads, () => {
      b.set(first, b.i32.mul(c, a.chunk));
      b.set(rows, b.i32.sub(a.k, first));
      b.if(b.i32.gt_s(rows, a.chunk), () => b.set(rows, a.chunk));
      b.call(
        matmul,
        b.i32.add(a.a, b.i32.shl(b.i32.mul(first, a.m), 2)),
        b.i32.add(a.b, b.i32.shl(b.i32.mul(first, a.n), 2)),
        b.i32.add(a.partials, b.i32.shl(b.i32.mul(b.i32.mul(c, a.m), a.n), 2)),
        a.m,
        a.n,
        rows,
        1, // transposeA
        scratch,
        0,
        a.m,
      );
    });
  });
}

/**
 * Max or sum pooling: each output pixel's channels combine the window's taps in row-major order
 * (tap 0 first, then each next tap into the running values, kept in the output row), which is the
 * order in which sum_columns combines the rows of the windows: the composition's values exactly.
 * Windows lie wholly inside the image (the device offers no other shape). Threads split the
 * output pixels.
 */
function emitPool(mod: ModuleBuilder, op: "max" | "sum") {
  const name: KernelExport = op === "max" ? "pool_max" : "pool_sum";
  mod.func({ name, params: JOB, export: name }, (b, { args, tid, threads }) => {
    const a = loadArgs(b, name, args);
    const begin = b.local("begin", "i32"), end = b.local("end", "i32");
    const r = b.local("r", "i32"), img = b.local("img", "i32"), rem = b.local("rem", "i32");
    const oy = b.local("oy", "i32"), ox = b.local("ox", "i32");
    const perImage = b.local("per_image", "i32"), pixelBytes = b.local("pixel_bytes", "i32");
    const corner = b.local("corner", "i32"), dst = b.local("dst", "i32");
    const src = b.local("src", "i32"), dy = b.local("dy", "i32"), dx = b.local("dx", "i32");
    const j = b.local("j", "i32"), vectorEnd = b.local("vector_end", "i32");
    const rowBytes = b.local("row_bytes", "i32");
    const combine = (x: Operand, y: Operand) =>
      op === "sum" ? b.f32x4.add(x, y) : b.f32x4.max(x, y);
    const combine1 = (x: Operand, y: Operand) => op === "sum" ? b.f32.add(x, y) : b.f32.max(x, y);
    b.set(perImage, b.i32.mul(a.outHeight, a.outWidth));
    b.set(pixelBytes, b.i32.shl(a.c, 2));
    b.set(rowBytes, b.i32.mul(a.width, pixelBytes));
    b.set(vectorEnd, b.i32.sub(a.c, b.i32.and(a.c, 3)));
    const rows = b.local("rows", "i32");
    b.set(rows, b.i32.mul(a.n, perImage));
    share(b, rows, 1, tid, threads, begin, end);
    b.for(r, begin, end, 1, () => {
      b.set(img, b.i32.div_u(r, perImage));
      b.set(rem, b.i32.sub(r, b.i32.mul(img, perImage)));
      b.set(oy, b.i32.div_u(rem, a.outWidth));
      b.set(ox, b.i32.sub(rem, b.i32.mul(oy, a.outWidth)));
      // The window's top-left pixel, and the output row.
      b.set(
        corner,
        b.i32.add(
          a.x,
          b.i32.mul(
            b.i32.add(
              b.i32.mul(b.i32.add(b.i32.mul(img, a.height), b.i32.mul(oy, a.stride)), a.width),
              b.i32.mul(ox, a.stride),
            ),
            pixelBytes,
          ),
        ),
      );
      b.set(dst, b.i32.add(a.out, b.i32.mul(r, pixelBytes)));
      b.for(dy, 0, a.kh, 1, () => {
        b.for(dx, 0, a.kw, 1, () => {
          b.set(
            src,
            b.i32.add(corner, b.i32.add(b.i32.mul(dy, rowBytes), b.i32.mul(dx, pixelBytes))),
          );
          b.if(
            b.i32.eqz(b.i32.or(dy, dx)),
            () => {
              b.for(j, 0, vectorEnd, 4, () => {
                const at = (base: Local) => b.i32.add(base, b.i32.shl(j, 2));
                b.v128.store(at(dst), b.v128.load(at(src)));
              });
              b.for(j, vectorEnd, a.c, 1, () => {
                const at = (base: Local) => b.i32.add(base, b.i32.shl(j, 2));
                b.f32.store(at(dst), b.f32.load(at(src)));
              });
            },
            () => {
              b.for(j, 0, vectorEnd, 4, () => {
                const at = (base: Local) => b.i32.add(base, b.i32.shl(j, 2));
                b.v128.store(at(dst), combine(b.v128.load(at(dst)), b.v128.load(at(src))));
              });
              b.for(j, vectorEnd, a.c, 1, () => {
                const at = (base: Local) => b.i32.add(base, b.i32.shl(j, 2));
                b.f32.store(at(dst), combine1(b.f32.load(at(dst)), b.f32.load(at(src))));
              });
            },
          );
        });
      });
    });
  });
}

/**
 * The column sums or maxima of tall matrices ([1, length, inner], the batch statistics of a
 * convolution's output): row bands (chunks of `chunk` rows, fixed by the shape) are combined into
 * one partial row each, thread `tid` taking chunks tid, tid + threads, ..., so each thread reads
 * whole rows of its own (splitting the columns instead makes every thread read every cache line).
 * The partials are then combined in chunk order, the same on any number of threads.
 */
function emitColumnChunks(mod: ModuleBuilder, op: "sum" | "max", columns: Func) {
  const name: KernelExport = op === "sum" ? "sum_columns_chunks" : "max_columns_chunks";
  mod.func({ name: `${name}_job`, params: JOB, export: name }, (b, { args, tid, threads }) => {
    const a = loadArgs(b, name, args);
    const c = b.local("c", "i32"), first = b.local("first", "i32"), rows = b.local("rows", "i32");
    b.for(c, tid, a.chunks, threads, () => {
      b.set(first, b.i32.mul(c, a.chunk));
      b.set(rows, b.i32.sub(a.length, first));
      b.if(b.i32.gt_s(rows, a.chunk), () => b.set(rows, a.chunk));
      b.call(
        columns,
        b.i32.add(a.x, b.i32.shl(b.i32.mul(first, a.inner), 2)),
        b.i32.add(a.partials, b.i32.shl(b.i32.mul(c, a.inner), 2)),
        rows,
        a.inner,
        0,
        a.inner,
      );
    });
  });
}

/** Copies floats, threads taking shares of whole cache lines. */
function emitCopy(mod: ModuleBuilder) {
  const name = "copy_floats";
  mod.func({ name: `${name}_job`, params: JOB, export: name }, (b, { args, tid, threads }) => {
    const a = loadArgs(b, name, args);
    const begin = b.local("begin", "i32"), end = b.local("end", "i32");
    const src = b.local("src", "i32"), dst = b.local("dst", "i32"), count = b.local("n", "i32");
    const j = b.local("j", "i32"), vectorEnd = b.local("vector_end", "i32");
    share(b, a.count, 16, tid, threads, begin, end);
    b.set(src, b.i32.add(a.from, b.i32.shl(begin, 2)));
    b.set(dst, b.i32.add(a.to, b.i32.shl(begin, 2)));
    b.set(count, b.i32.sub(end, begin));
    copyFloats(b, src, dst, count, j, vectorEnd);
  });
}

/**
 * Sum or max of each row of `length` values (inner == 1), four lanes at a time with four
 * accumulators. Max uses f32x4.max, which lets a NaN win, as the other devices do.
 */
function emitRowReduce(mod: ModuleBuilder, op: "sum" | "max") {
  const name: KernelExport = op === "sum" ? "sum_rows" : "max_rows";
  mod.func({ name, params: JOB, export: name }, (b, { args, tid, threads }) => {
    const a = loadArgs(b, name, args);
    const begin = b.local("begin", "i32"), end = b.local("end", "i32");
    share(b, a.outer, 1, tid, threads, begin, end);
    const o = b.local("o", "i32"), r = b.local("r", "i32"), at = b.local("at", "i32");
    const acc = [0, 1, 2, 3].map((i) => b.local(`acc${i}`, "v128"));
    const s = b.local("s", "f32");
    const body = b.local("body", "i32");
    const p = b.local("p", "i32");
    const combine = (
      x: Operand,
      y: Operand,
    ) => (op === "sum" ? b.f32x4.add(x, y) : b.f32x4.max(x, y));
    const scalar = (x: Operand, y: Operand) => (op === "sum" ? b.f32.add(x, y) : b.f32.max(x, y));
    b.set(body, b.i32.and(a.length, -16));
    b.for(o, begin, end, 1, () => {
      b.set(at, b.i32.add(a.x, b.i32.shl(b.i32.mul(o, a.length), 2)));
      b.set(acc[0], op === "sum" ? b.f32x4.splat(0) : b.v128.load32_splat(at));
      for (const v of acc.slice(1)) b.set(v, acc[0]);
      b.for(r, 0, body, 16, () => {
        b.set(p, b.i32.add(at, b.i32.shl(r, 2)));
        acc.forEach((v, i) => b.set(v, combine(v, b.v128.load(p, { offset: 16 * i }))));
      });
      b.set(acc[0], combine(combine(acc[0], acc[1]), combine(acc[2], acc[3])));
      b.set(
        s,
        scalar(
          scalar(b.f32x4.extract_lane(0, acc[0]), b.f32x4.extract_lane(1, acc[0])),
          scalar(b.f32x4.extract_lane(2, acc[0]), b.f32x4.extract_lane(3, acc[0])),
        ),
      );
      b.for(r, body, a.length, 1, () => {
        b.set(s, scalar(s, b.f32.load(b.i32.add(at, b.i32.shl(r, 2)))));
      });
      b.f32.store(b.i32.add(a.out, b.i32.shl(o, 2)), s);
    });
  });
}

/**
 * Combines columns [begin, end) of x [length, inner] down its rows into out[begin, end): groups of
 * up to 8 vectors of columns stay in registers down all the rows (row 0 starts them), then are
 * stored once, so each column is combined in row order whatever the caller's split.
 */
function emitColumnRange(mod: ModuleBuilder, op: "sum" | "max"): Func {
  const params = i32Params("x", "out", "length", "inner", "begin", "end");
  return mod.func({ name: `${op}_column_range`, params }, (b, p) => {
    const j = b.local("j", "i32"), r = b.local("r", "i32"), src = b.local("src", "i32");
    const rowBytes = b.local("row_bytes", "i32"), vectorEnd = b.local("vector_end", "i32");
    const s = b.local("s", "f32");
    const acc = Array.from({ length: 8 }, (_, i) => b.local(`acc${i}`, "v128"));
    const combine = (x: Operand, y: Operand) =>
      op === "sum" ? b.f32x4.add(x, y) : b.f32x4.max(x, y);
    b.set(rowBytes, b.i32.shl(p.inner, 2));
    b.set(vectorEnd, b.i32.sub(p.end, b.i32.and(b.i32.sub(p.end, p.begin), 3)));
    b.set(j, p.begin);
    for (const g of [8, 4, 2, 1]) {
      b.while(() => b.i32.le_s(b.i32.add(j, 4 * g), vectorEnd), () => {
        b.set(src, b.i32.add(p.x, b.i32.shl(j, 2)));
        for (let i = 0; i < g; i++) b.set(acc[i], b.v128.load(src, { offset: 16 * i }));
        b.for(r, 1, p.length, 1, () => {
          b.set(src, b.i32.add(src, rowBytes));
          for (let i = 0; i < g; i++) {
            b.set(acc[i], combine(acc[i], b.v128.load(src, { offset: 16 * i })));
          }
        });
        for (let i = 0; i < g; i++) {
          b.v128.store(b.i32.add(p.out, b.i32.shl(j, 2)), acc[i], { offset: 16 * i });
        }
        b.set(j, b.i32.add(j, 4 * g));
      });
    }
    b.for(j, vectorEnd, p.end, 1, () => {
      b.set(src, b.i32.add(p.x, b.i32.shl(j, 2)));
      b.set(s, b.f32.load(src));
      b.for(r, 1, p.length, 1, () => {
        b.set(src, b.i32.add(src, rowBytes));
        const x = b.f32.load(src);
        b.set(s, op === "sum" ? b.f32.add(s, x) : b.f32.max(s, x));
      });
      b.f32.store(b.i32.add(p.out, b.i32.shl(j, 2)), s);
    });
  });
}

/**
 * Sum or max along the middle axis of [outer, length, inner] with inner > 1, each outer row's
 * columns by the column range function. Threads split the outer rows, or the columns when there
 * are fewer outer rows than threads.
 */
function emitColumnReduce(mod: ModuleBuilder, op: "sum" | "max", columns: Func) {
  const name: KernelExport = op === "sum" ? "sum_columns" : "max_columns";
  mod.func({ name, params: JOB, export: name }, (b, { args, tid, threads }) => {
    const a = loadArgs(b, name, args);
    const oBegin = b.local("o_begin", "i32"), oEnd = b.local("o_end", "i32");
    const jBegin = b.local("j_begin", "i32"), jEnd = b.local("j_end", "i32");
    b.if(
      b.i32.ge_s(a.outer, threads),
      () => {
        share(b, a.outer, 1, tid, threads, oBegin, oEnd);
        b.set(jBegin, 0);
        b.set(jEnd, a.inner);
      },
      () => {
        b.set(oBegin, 0);
        b.set(oEnd, a.outer);
        share(b, a.inner, 4, tid, threads, jBegin, jEnd);
      },
    );
    const o = b.local("o", "i32");
    b.for(o, oBegin, oEnd, 1, () => {
      b.call(
        columns,
        b.i32.add(a.x, b.i32.shl(b.i32.mul(b.i32.mul(o, a.length), a.inner), 2)),
        b.i32.add(a.out, b.i32.shl(b.i32.mul(o, a.inner), 2)),
        a.length,
        a.inner,
        jBegin,
        jEnd,
      );
    });
  });
}

/**
 * Index of the first maximum along the middle axis, as i32; a NaN wins (the first NaN), as on the
 * other devices. Scalar: argmax serves assignment steps, where the axis is short.
 */
function emitArgmax(mod: ModuleBuilder) {
  mod.func({ name: "argmax", params: JOB, export: "argmax" }, (b, { args, tid, threads }) => {
    const a = loadArgs(b, "argmax", args);
    const begin = b.local("begin", "i32"), end = b.local("end", "i32");
    const total = b.local("total", "i32");
    b.set(total, b.i32.mul(a.outer, a.inner));
    share(b, total, 1, tid, threads, begin, end);
    const i = b.local("i", "i32"), r = b.local("r", "i32"), at = b.local("at", "i32");
    const best = b.local("best", "f32"), v = b.local("v", "f32"), index = b.local("index", "i32");
    const step = b.local("step", "i32");
    b.set(step, b.i32.shl(a.inner, 2));
    const o = b.local("o", "i32");
    b.for(i, begin, end, 1, () => {
      // Output i is (o, j): its first input at (o * length * inner + j), j = i - o * inner.
      b.set(o, b.i32.div_u(i, a.inner));
      b.set(
        at,
        b.i32.add(
          a.x,
          b.i32.shl(
            b.i32.add(
              b.i32.mul(b.i32.mul(o, a.length), a.inner),
              b.i32.sub(i, b.i32.mul(o, a.inner)),
            ),
            2,
          ),
        ),
      );
      b.set(best, b.f32.load(at));
      b.set(index, 0);
      b.for(r, 1, a.length, 1, () => {
        b.set(at, b.i32.add(at, step));
        b.set(v, b.f32.load(at));
        // v > best, or v is NaN and best is not.
        b.if(
          b.i32.or(b.f32.gt(v, best), b.i32.and(b.f32.ne(v, v), b.f32.eq(best, best))),
          () => {
            b.set(best, v);
            b.set(index, r);
          },
        );
      });
      b.i32.store(b.i32.add(a.out, b.i32.shl(i, 2)), index);
    });
  });
}

/** out[r] = x[indices[r]] (a row of zeros for an index outside [0, bound)); threads split rows. */
function emitGather(mod: ModuleBuilder) {
  mod.func({ name: "gather", params: JOB, export: "gather" }, (b, { args, tid, threads }) => {
    const a = loadArgs(b, "gather", args);
    const begin = b.local("begin", "i32"), end = b.local("end", "i32");
    share(b, a.rows, 1, tid, threads, begin, end);
    const r = b.local("r", "i32"),
      j = b.local("j", "i32"),
      vectorEnd = b.local("vector_end", "i32");
    const row = b.local("row", "i32"), src = b.local("src", "i32"), dst = b.local("dst", "i32");
    const rowBytes = b.local("row_bytes", "i32");
    b.set(rowBytes, b.i32.shl(a.inner, 2));
    b.for(r, begin, end, 1, () => {
      b.set(row, b.i32.load(b.i32.add(a.indices, b.i32.shl(r, 2))));
      b.set(dst, b.i32.add(a.out, b.i32.mul(r, rowBytes)));
      b.if(
        b.i32.lt_u(row, a.bound), // unsigned: a negative index is huge
        () => {
          b.set(src, b.i32.add(a.x, b.i32.mul(row, rowBytes)));
          copyFloats(b, src, dst, a.inner, j, vectorEnd);
        },
        () => {
          b.for(j, 0, a.inner, 1, () => b.f32.store(b.i32.add(dst, b.i32.shl(j, 2)), 0));
        },
      );
    });
  });
}

/**
 * out[s] = sum of the rows r with ids[r] == s (rows with an id outside [0, segments) dropped).
 * Threads split the columns, so no two write the same value.
 */
function emitSegmentSum(mod: ModuleBuilder) {
  mod.func(
    { name: "segment_sum", params: JOB, export: "segment_sum" },
    (b, { args, tid, threads }) => {
      const a = loadArgs(b, "segment_sum", args);
      const begin = b.local("begin", "i32"), end = b.local("end", "i32");
      share(b, a.inner, 4, tid, threads, begin, end);
      const s = b.local("s", "i32"), r = b.local("r", "i32"), j = b.local("j", "i32");
      const id = b.local("id", "i32"), src = b.local("src", "i32"), dst = b.local("dst", "i32");
      const cell = b.local("cell", "i32");
      const vectorEnd = b.local("vector_end", "i32");
      b.set(vectorEnd, b.i32.sub(end, b.i32.and(b.i32.sub(end, begin), 3)));
      b.for(s, 0, a.segments, 1, () => {
        b.set(dst, b.i32.add(a.out, b.i32.shl(b.i32.mul(s, a.inner), 2)));
        b.for(j, begin, end, 1, () => b.f32.store(b.i32.add(dst, b.i32.shl(j, 2)), 0));
      });
      b.for(r, 0, a.rows, 1, () => {
        b.set(id, b.i32.load(b.i32.add(a.ids, b.i32.shl(r, 2))));
        b.if(b.i32.lt_u(id, a.segments), () => {
          b.set(src, b.i32.add(a.x, b.i32.shl(b.i32.mul(r, a.inner), 2)));
          b.set(dst, b.i32.add(a.out, b.i32.shl(b.i32.mul(id, a.inner), 2)));
          b.for(j, begin, vectorEnd, 4, () => {
            b.set(cell, b.i32.add(dst, b.i32.shl(j, 2)));
            b.v128.store(
              cell,
              b.f32x4.add(b.v128.load(cell), b.v128.load(b.i32.add(src, b.i32.shl(j, 2)))),
            );
          });
          b.for(j, vectorEnd, end, 1, () => {
            b.set(cell, b.i32.add(dst, b.i32.shl(j, 2)));
            b.f32.store(
              cell,
              b.f32.add(b.f32.load(cell), b.f32.load(b.i32.add(src, b.i32.shl(j, 2)))),
            );
          });
        });
      });
    },
  );
}

/** out[r, k] = 1 where indices[r] == k, else 0; threads split rows. */
function emitOneHot(mod: ModuleBuilder) {
  mod.func({ name: "one_hot", params: JOB, export: "one_hot" }, (b, { args, tid, threads }) => {
    const a = loadArgs(b, "one_hot", args);
    const begin = b.local("begin", "i32"), end = b.local("end", "i32");
    share(b, a.rows, 1, tid, threads, begin, end);
    const r = b.local("r", "i32"), c = b.local("c", "i32"), row = b.local("row", "i32");
    const k = b.local("k", "i32");
    b.for(r, begin, end, 1, () => {
      b.set(row, b.i32.add(a.out, b.i32.shl(b.i32.mul(r, a.depth), 2)));
      b.for(c, 0, a.depth, 1, () => b.f32.store(b.i32.add(row, b.i32.shl(c, 2)), 0));
      b.set(k, b.i32.load(b.i32.add(a.indices, b.i32.shl(r, 2))));
      b.if(b.i32.lt_u(k, a.depth), () => b.f32.store(b.i32.add(row, b.i32.shl(k, 2)), 1));
    });
  });
}

/** The kernel module's bytes (memory imported as `env.memory`, shared). */
export function buildKernelModule(
  relaxed: boolean,
  config: Readonly<MatmulConfig> = defaultMatmulConfig(relaxed),
): Uint8Array<ArrayBuffer> {
  const mod = new ModuleBuilder();
  mod.importMemory({ initial: 1, maximum: MAX_PAGES, shared: true });
  const matmul = emitMatmulJob(mod, relaxed, config);
  const columns = { sum: emitColumnRange(mod, "sum"), max: emitColumnRange(mod, "max") };
  emitRowReduce(mod, "sum");
  emitColumnReduce(mod, "sum", columns.sum);
  emitRowReduce(mod, "max");
  emitColumnReduce(mod, "max", columns.max);
  emitArgmax(mod);
  emitGather(mod);
  emitSegmentSum(mod);
  emitOneHot(mod);
  emitPatches(mod, KERNEL_ARGS.patches);
  emitUnpatches(mod, KERNEL_ARGS.unpatches);
  emitArgSmallestK(mod);
  emitTakeAlongRows(mod);
  emitConvolution(mod, matmul);
  emitMatmulSplitK(mod, matmul);
  emitPool(mod, "max");
  emitPool(mod, "sum");
  emitCopy(mod);
  emitColumnChunks(mod, "sum", columns.sum);
  emitColumnChunks(mod, "max", columns.max);
  return mod.toBytes();
}
