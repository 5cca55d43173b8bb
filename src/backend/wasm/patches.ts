/**
 * Image windows as rows (patches, im2col) and their adjoint (unpatches) on the WebAssembly device:
 * images [n, height, width, c] and window rows [n * outHeight * outWidth, kh * kw * c]. Both walk
 * their output in order with counters (no division per element) and move each pixel's c values as
 * vectors. unpatches gathers (each pixel sums the window entries taken from it), so threads split
 * the image rows and no two write one value; windows that do not overlap (stride at least the
 * window) give each pixel at most one entry, which it copies without a search.
 */
import type { FunctionBuilder, Local, ModuleBuilder } from "./assembler.ts";
import { copyFloats, JOB, loadWords, share } from "./jobs.ts";

/** Argument words of both patch jobs. */
export const PATCH_ARGS = [
  "x",
  "out",
  "n",
  "height",
  "width",
  "c",
  "kh",
  "kw",
  "stride",
  "padTop",
  "padLeft",
  "outHeight",
  "outWidth",
] as const;

/** Sets `count` f32 at `dst` to zero. */
function zeroFloats(b: FunctionBuilder, dst: Local, count: Local, j: Local, vectorEnd: Local) {
  b.set(vectorEnd, b.i32.and(count, -4));
  b.for(j, 0, vectorEnd, 4, () => b.v128.store(b.i32.add(dst, b.i32.shl(j, 2)), b.i32x4.splat(0)));
  b.for(j, vectorEnd, count, 1, () => b.f32.store(b.i32.add(dst, b.i32.shl(j, 2)), 0));
}

/**
 * Window rows from images: row (img, oy, ox) holds, pixel by pixel of its kh x kw window, the c
 * values of image pixel (oy * stride + dy - padTop, ox * stride + dx - padLeft), or zeros where
 * that lies in the padding. Threads split the rows.
 */
export function emitPatches(mod: ModuleBuilder, names: readonly string[]): void {
  mod.func({ name: "patches", params: JOB, export: "patches" }, (b, { args, tid, threads }) => {
    const a = loadWords(b, names, args);
    const rows = b.local("rows", "i32");
    b.set(rows, b.i32.mul(b.i32.mul(a.n, a.outHeight), a.outWidth));
    const begin = b.local("begin", "i32"), end = b.local("end", "i32");
    share(b, rows, 1, tid, threads, begin, end);
    const row = b.local("row", "i32"), dy = b.local("dy", "i32"), dx = b.local("dx", "i32");
    const img = b.local("img", "i32"), oy = b.local("oy", "i32"), ox = b.local("ox", "i32");
    const y = b.local("y", "i32"), x = b.local("x_", "i32"), line = b.local("line", "i32");
    const src = b.local("src", "i32"), dst = b.local("dst", "i32");
    const j = b.local("j", "i32"), vectorEnd = b.local("vector_end", "i32");
    const pixelBytes = b.local("pixel_bytes", "i32"), inside = b.local("inside", "i32");
    b.set(pixelBytes, b.i32.shl(a.c, 2));
    // The first row's window, then counters.
    b.set(ox, b.i32.rem_u(begin, a.outWidth));
    b.set(oy, b.i32.rem_u(b.i32.div_u(begin, a.outWidth), a.outHeight));
    b.set(img, b.i32.div_u(begin, b.i32.mul(a.outWidth, a.outHeight)));
    b.set(dst, b.i32.add(a.out, b.i32.mul(begin, b.i32.mul(b.i32.mul(a.kh, a.kw), pixelBytes))));
    b.for(row, begin, end, 1, () => {
      b.for(dy, 0, a.kh, 1, () => {
        b.set(y, b.i32.sub(b.i32.add(b.i32.mul(oy, a.stride), dy), a.padTop));
        // Unsigned comparisons reject negative coordinates too.
        b.set(inside, b.i32.lt_u(y, a.height));
        b.set(line, b.i32.mul(b.i32.add(b.i32.mul(img, a.height), y), a.width));
        b.for(dx, 0, a.kw, 1, () => {
          b.set(x, b.i32.sub(b.i32.add(b.i32.mul(ox, a.stride), dx), a.padLeft));
          b.if(
            b.i32.and(inside, b.i32.lt_u(x, a.width)),
            () => {
              b.set(src, b.i32.add(a.x, b.i32.mul(b.i32.add(line, x), pixelBytes)));
              copyFloats(b, src, dst, a.c, j, vectorEnd);
            },
            () => zeroFloats(b, dst, a.c, j, vectorEnd),
          );
          b.set(dst, b.i32.add(dst, pixelBytes));
        });
      });
      b.set(ox, b.i32.add(ox, 1));
      b.if(b.i32.eq(ox, a.outWidth), () => {
        b.set(ox, 0);
        b.set(oy, b.i32.add(oy, 1));
        b.if(b.i32.eq(oy, a.outHeight), () => {
          b.set(oy, 0);
          b.set(img, b.i32.add(img, 1));
        });
      });
    });
  });
}

/**
 * Images from window rows (the adjoint of patches): each pixel's c values are the sum of the
 * window entries taken from it. Threads split the image rows.
 */
export function emitUnpatches(mod: ModuleBuilder, names: readonly string[]): void {
  mod.func({ name: "unpatches", params: JOB, export: "unpatches" }, (b, { args, tid, threads }) => {
    const a = loadWords(b, names, args);
    const rows = b.local("rows", "i32");
    b.set(rows, b.i32.mul(a.n, a.height));
    const begin = b.local("begin", "i32"), end = b.local("end", "i32");
    share(b, rows, 1, tid, threads, begin, end);
    const r = b.local("r", "i32"), img = b.local("img", "i32"), y = b.local("y", "i32");
    const x = b.local("x_", "i32"), dy = b.local("dy", "i32"), dx = b.local("dx", "i32");
    const sy = b.local("sy", "i32"), sx = b.local("sx", "i32");
    const src = b.local("src", "i32"), dst = b.local("dst", "i32"), cell = b.local("cell", "i32");
    const j = b.local("j", "i32"), vectorEnd = b.local("vector_end", "i32");
    const pixelBytes = b.local("pixel_bytes", "i32"), windowBytes = b.local("window_bytes", "i32");
    const windowRow = b.local("window_row", "i32"), rowUsed = b.local("row_used", "i32");
    const zeroEnd = b.local("zero_end", "i32");
    b.set(pixelBytes, b.i32.shl(a.c, 2));
    b.set(windowBytes, b.i32.mul(b.i32.mul(a.kh, a.kw), pixelBytes));
    b.set(vectorEnd, b.i32.and(a.c, -4));
    b.set(img, b.i32.div_u(begin, a.height));
    b.set(y, b.i32.rem_u(begin, a.height));
    b.set(dst, b.i32.add(a.out, b.i32.mul(b.i32.mul(begin, a.width), pixelBytes)));
    const nextRow = () => {
      b.set(y, b.i32.add(y, 1));
      b.if(b.i32.eq(y, a.height), () => {
        b.set(y, 0);
        b.set(img, b.i32.add(img, 1));
      });
    };
    b.if(
      b.i32.and(b.i32.ge_u(a.stride, a.kh), b.i32.ge_u(a.stride, a.kw)),
      () => {
        // Windows do not overlap: pixel (y, x) lies at (dy, dx) of at most window (oy, ox) with
        // y + padTop = oy * stride + dy; the column's place advances with x.
        b.for(r, begin, end, 1, () => {
          b.set(sy, b.i32.add(y, a.padTop));
          b.set(dy, b.i32.rem_u(sy, a.stride));
          b.set(sy, b.i32.div_u(sy, a.stride));
          b.set(rowUsed, b.i32.and(b.i32.lt_u(dy, a.kh), b.i32.lt_u(sy, a.outHeight)));
          b.set(windowRow, b.i32.mul(b.i32.add(b.i32.mul(img, a.outHeight), sy), a.outWidth));
          b.set(sx, b.i32.div_u(a.padLeft, a.stride));
          b.set(dx, b.i32.rem_u(a.padLeft, a.stride));
          b.for(x, 0, a.width, 1, () => {
            b.if(
              b.i32.and(rowUsed, b.i32.and(b.i32.lt_u(dx, a.kw), b.i32.lt_u(sx, a.outWidth))),
              () => {
                b.set(
                  src,
                  b.i32.add(
                    b.i32.add(a.x, b.i32.mul(b.i32.add(windowRow, sx), windowBytes)),
                    b.i32.mul(b.i32.add(b.i32.mul(dy, a.kw), dx), pixelBytes),
                  ),
                );
                // 0 + v, as a sum of one entry: -0 becomes +0 as on every other path.
                b.for(j, 0, vectorEnd, 4, () => {
                  b.set(cell, b.i32.add(dst, b.i32.shl(j, 2)));
                  const v = b.v128.load(b.i32.add(src, b.i32.shl(j, 2)));
                  b.v128.store(cell, b.f32x4.add(v, b.i32x4.splat(0)));
                });
                b.for(j, vectorEnd, a.c, 1, () => {
                  b.set(cell, b.i32.add(dst, b.i32.shl(j, 2)));
                  const v = b.f32.load(b.i32.add(src, b.i32.shl(j, 2)));
                  b.f32.store(cell, b.f32.add(v, b.f32.const(0)));
                });
              },
              () => zeroFloats(b, dst, a.c, j, zeroEnd),
            );
            b.set(dst, b.i32.add(dst, pixelBytes));
            b.set(dx, b.i32.add(dx, 1));
            b.if(b.i32.eq(dx, a.stride), () => {
              b.set(dx, 0);
              b.set(sx, b.i32.add(sx, 1));
            });
          });
          nextRow();
        });
      },
      () => {
        b.for(r, begin, end, 1, () => {
          b.for(x, 0, a.width, 1, () => {
            zeroFloats(b, dst, a.c, j, zeroEnd);
            b.for(dy, 0, a.kh, 1, ({ next: nextTap }) => {
              // Window row oy took this pixel at dy when oy * stride = y + padTop - dy.
              b.set(sy, b.i32.sub(b.i32.add(y, a.padTop), dy));
              b.br_if(nextTap, b.i32.lt_s(sy, 0));
              b.br_if(nextTap, b.i32.rem_u(sy, a.stride));
              b.set(sy, b.i32.div_u(sy, a.stride));
              b.br_if(nextTap, b.i32.ge_u(sy, a.outHeight));
              b.for(dx, 0, a.kw, 1, ({ next }) => {
                b.set(sx, b.i32.sub(b.i32.add(x, a.padLeft), dx));
                b.br_if(next, b.i32.lt_s(sx, 0));
                b.br_if(next, b.i32.rem_u(sx, a.stride));
                b.set(sx, b.i32.div_u(sx, a.stride));
                b.br_if(next, b.i32.ge_u(sx, a.outWidth));
                const window = b.i32.add(
                  b.i32.mul(b.i32.add(b.i32.mul(img, a.outHeight), sy), a.outWidth),
                  sx,
                );
                b.set(
                  src,
                  b.i32.add(
                    b.i32.add(a.x, b.i32.mul(window, windowBytes)),
                    b.i32.mul(b.i32.add(b.i32.mul(dy, a.kw), dx), pixelBytes),
                  ),
                );
                b.for(j, 0, vectorEnd, 4, () => {
                  b.set(cell, b.i32.add(dst, b.i32.shl(j, 2)));
                  const v = b.v128.load(b.i32.add(src, b.i32.shl(j, 2)));
                  b.v128.store(cell, b.f32x4.add(v, b.v128.load(cell)));
                });
                b.for(j, vectorEnd, a.c, 1, () => {
                  b.set(cell, b.i32.add(dst, b.i32.shl(j, 2)));
                  const v = b.f32.load(b.i32.add(src, b.i32.shl(j, 2)));
                  b.f32.store(cell, b.f32.add(v, b.f32.load(cell)));
                });
              });
            });
            b.set(dst, b.i32.add(dst, pixelBytes));
          });
          nextRow();
        });
      },
    );
  });
}
