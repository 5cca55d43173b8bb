/**
 * 3x3 convolutions ("same" padding, stride 1, channels last) computed directly on the WebAssembly
 * device by Winograd's minimal filtering F(2x2, 3x3): each 2x2 block of output pixels (a tile)
 * comes from its 4x4 input neighbourhood d and the 3x3 kernel g as Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A,
 * so the 36 multiplications per tile and channel pair of the windows' product become 16, done as
 * 16 matrix products (one per position of the 4x4 transformed tile) over channels. The executor
 * asks for one of these kernels in place of windows (patches) times a kernel matrix, or of the
 * windows' adjoint of a product (unpatches): the composed graph is the reference.
 *
 * Three modes, each the exact value of a composition:
 * - forward: y = patches(x) W, the convolution;
 * - data: unpatches(dY Wᵀ), the gradient for the image: the convolution of dY with the kernel
 *   turned by 180 degrees and its channels swapped, so the forward path with another transformed
 *   kernel;
 * - filter: patches(x)ᵀ dY, the gradient for the kernel: Gᵀ [Σ over tiles (Bᵀ d B) ⊙ (A dY Aᵀ)] G,
 *   the adjoint of the forward computation.
 *
 * Threads split blocks of tiles, which are fixed whatever the thread count; the filter gradient
 * sums one partial per block in block order. Each value is therefore computed the same way on any
 * number of threads. Channels are vectorised four at a time (channel counts are multiples of 4).
 *
 * It is long because it is one algorithm: the transforms, the per-block functions, the jobs and
 * their argument words share one layout of tiles, blocks and scratch, and read best together.
 */
import type { Func, FunctionBuilder, Local, ModuleBuilder, Operand } from "./assembler.ts";
import { i32Params } from "./assembler.ts";
import { JOB, loadWords, share } from "./jobs.ts";
import { type MatmulConfig, matmulScratchBytes, TRANSPOSE_A } from "./matmul_kernel.ts";
import type { ConvShape } from "../kernel.ts";

/** Argument words of the convolution jobs. */
export const CONV_ARGS = {
  // mode 0: U[ξ][cin][cout] for the forward path; 1: the data path's U'[ξ][cout][cin].
  conv_kernel_transform: ["w", "u", "cin", "cout", "mode"],
  // Forward and data paths: images x [n, height, width, cin] to y [n, height, width, cout].
  conv_tiles: ["x", "u", "out", "n", "height", "width", "cin", "cout", "block", "scratch"],
  // Filter path: one partial [16][cin][cout] per block of tiles.
  conv_filter_tiles: [
    "x",
    "dy",
    "partials",
    "n",
    "height",
    "width",
    "cin",
    "cout",
    "block",
    "scratch",
  ],
  conv_filter_reduce: ["partials", "out", "blocks", "cin", "cout"],
} as const;

/**
 * Tiles per block: a block's transformed tiles and products stay in the second-level cache, and
 * 60 rows split into whole micro-tiles of the product (5 or 6 rows); measured best of 32-128.
 */
export const CONV_BLOCK = 60;

/** Tiles of images height x width: 2x2 output pixels each. */
export function convTiles(n: number, height: number, width: number): number {
  return n * Math.ceil(height / 2) * Math.ceil(width / 2);
}

function roundUp(x: number, step: number): number {
  return Math.ceil(x / step) * step;
}

/**
 * Bytes of scratch each thread needs: a zero row and a discard row of channels, a block's
 * transformed inputs and products (16 positions each), and the product kernel's own scratch.
 */
export function convScratchBytes(cin: number, cout: number, config: Readonly<MatmulConfig>) {
  const channels = roundUp(4 * Math.max(cin, cout), 64);
  const block = CONV_BLOCK;
  return 2 * channels + 64 * block * (cin + cout) +
    Math.max(
      matmulScratchBytes(block, cout, cin, config),
      matmulScratchBytes(block, cin, cout, config),
      matmulScratchBytes(cin, cout, block, config),
    );
}

/** A convolution kernel as jobs run in turn: export name and argument words. */
export interface ConvJobs {
  readonly jobs: [keyof typeof CONV_ARGS, number[]][];
  /** Memory the kernel alone uses (the transformed kernel, or the filter path's partials). */
  readonly own: number[];
}

/**
 * The jobs computing `kernel` from the buffers at `inputs` into `out` (byte offsets), with the
 * scratch described at `scratchWords`; `alloc` gives the kernel's own memory. Forward: transform W
 * to U, then x to y; data: U' (the turned kernel, channels swapped), then dY to dX; filter: one
 * partial per block, then their sum through the adjoint of the kernel transform.
 */
export function convJobs(
  kernel: ConvShape,
  inputs: readonly number[],
  out: number,
  scratchWords: number,
  alloc: (bytes: number) => number,
): ConvJobs {
  const { mode, n, height, width, cin, cout } = kernel;
  const geometry = [n, height, width];
  if (mode === "filter") {
    const blocks = Math.ceil(convTiles(n, height, width) / CONV_BLOCK);
    const partials = alloc(blocks * 16 * cin * cout * 4);
    const tiles = [
      inputs[0],
      inputs[1],
      partials,
      ...geometry,
      cin,
      cout,
      CONV_BLOCK,
      scratchWords,
    ];
    return {
      jobs: [["conv_filter_tiles", tiles], ["conv_filter_reduce", [
        partials,
        out,
        blocks,
        cin,
        cout,
      ]]],
      own: [partials],
    };
  }
  const u = alloc(16 * cin * cout * 4);
  const [from, to] = mode === "forward" ? [cin, cout] : [cout, cin];
  return {
    jobs: [
      ["conv_kernel_transform", [inputs[1], u, cin, cout, mode === "forward" ? 0 : 1]],
      ["conv_tiles", [inputs[0], u, out, ...geometry, from, to, CONV_BLOCK, scratchWords]],
    ],
    own: [u],
  };
}

/** `addr + 4 * index`. */
function at(b: FunctionBuilder, addr: Operand, index: Operand) {
  return b.i32.add(addr, b.i32.shl(index, 2));
}

/** Where a tile lies: image, and its top-left output pixel (2 ty, 2 tx). */
interface TileLocals {
  img: Local;
  ty: Local;
  tx: Local;
  rem: Local;
}

function locateTile(
  b: FunctionBuilder,
  t: Operand,
  perImage: Local,
  tilesWide: Local,
  l: TileLocals,
) {
  b.set(l.rem, t);
  b.set(l.img, b.i32.div_u(l.rem, perImage));
  b.set(l.rem, b.i32.sub(l.rem, b.i32.mul(l.img, perImage)));
  b.set(l.ty, b.i32.div_u(l.rem, tilesWide));
  b.set(l.tx, b.i32.sub(l.rem, b.i32.mul(l.ty, tilesWide)));
}

/**
 * Sets `addrs[i * size + j]` to the address of pixel (2 ty + offset + i, 2 tx + offset + j) of the
 * tile's image (channel 0), or to `outside` where that pixel is not in the image.
 */
function pixelAddresses(
  b: FunctionBuilder,
  size: number,
  offset: number,
  base: Local,
  height: Local,
  width: Local,
  channels: Local,
  l: TileLocals,
  outside: Local,
  addrs: Local[],
  row: Local,
  col: Local,
) {
  for (let i = 0; i < size; i++) {
    b.set(row, b.i32.add(b.i32.shl(l.ty, 1), offset + i));
    for (let j = 0; j < size; j++) {
      b.set(col, b.i32.add(b.i32.shl(l.tx, 1), offset + j));
      const pixel = b.i32.add(b.i32.mul(b.i32.add(b.i32.mul(l.img, height), row), width), col);
      const address = b.i32.add(base, b.i32.shl(b.i32.mul(pixel, channels), 2));
      // Unsigned: a negative row or column is outside too.
      const inside = b.i32.and(b.i32.lt_u(row, height), b.i32.lt_u(col, width));
      b.set(addrs[i * size + j], b.select("i32", address, outside, inside));
    }
  }
}

/**
 * Bᵀ x for four vectors x (one column or row of a tile): (x0 - x2, x1 + x2, x2 - x1, x1 - x3),
 * through `tmp`, written back to x.
 */
function inputTransform(b: FunctionBuilder, x: Local[], tmp: Local[]) {
  b.set(tmp[0], b.f32x4.sub(x[0], x[2]));
  b.set(tmp[1], b.f32x4.add(x[1], x[2]));
  b.set(tmp[2], b.f32x4.sub(x[2], x[1]));
  b.set(tmp[3], b.f32x4.sub(x[1], x[3]));
  for (let k = 0; k < 4; k++) b.set(x[k], tmp[k]);
}

/** Writes the Bᵀ d B transform of the 16 values `d` (row-major 4x4) back into `d`. */
function transformInputTile(b: FunctionBuilder, d: Local[], tmp: Local[]) {
  for (let j = 0; j < 4; j++) inputTransform(b, [0, 1, 2, 3].map((i) => d[4 * i + j]), tmp);
  for (let i = 0; i < 4; i++) inputTransform(b, d.slice(4 * i, 4 * i + 4), tmp);
}

/** Working locals of a block function. */
interface BlockLocals {
  c: Local;
  row: Local;
  col: Local;
  place: Local;
  addrs: Local[];
  d: Local[];
  tmp: Local[];
}

/** Writes tile `tb`'s transformed input V[ξ][tb][0..cin) for every position ξ. */
function transformInputs(
  b: FunctionBuilder,
  p: Record<"x" | "v" | "height" | "width" | "cin" | "zero", Local>,
  l: TileLocals,
  tb: Local,
  vStride: Local,
  { c, row, col, place, addrs, d, tmp }: BlockLocals,
) {
  pixelAddresses(b, 4, -1, p.x, p.height, p.width, p.cin, l, p.zero, addrs, row, col);
  b.for(c, 0, p.cin, 4, () => {
    for (let k = 0; k < 16; k++) b.set(d[k], b.v128.load(at(b, addrs[k], c)));
    transformInputTile(b, d, tmp);
    b.set(place, at(b, p.v, b.i32.add(b.i32.mul(tb, p.cin), c)));
    for (let k = 0; k < 16; k++) {
      b.v128.store(place, d[k]);
      if (k < 15) b.set(place, b.i32.add(place, vStride));
    }
  });
}

/**
 * Emits the per-block function of the forward and data paths: input transform of the block's
 * tiles, 16 products with the transformed kernel, output transform into the output images.
 */
function emitTilesBlock(mod: ModuleBuilder, matmul: Func): Func {
  const params = i32Params(
    "x",
    "u",
    "out",
    "height",
    "width",
    "cin",
    "cout",
    "first",
    "count",
    "v",
    "m",
    "ms",
    "zero",
    "discard",
  );
  return mod.func({ name: "conv_tiles_block", params }, (b, p) => {
    const tb = b.local("tb", "i32"), c = b.local("c", "i32"), xi = b.local("xi", "i32");
    const tilesWide = b.local("tiles_wide", "i32"), perImage = b.local("per_image", "i32");
    const l: TileLocals = {
      img: b.local("img", "i32"),
      ty: b.local("ty", "i32"),
      tx: b.local("tx", "i32"),
      rem: b.local("rem", "i32"),
    };
    const row = b.local("row", "i32"), col = b.local("col", "i32");
    const addrs = Array.from({ length: 16 }, (_, i) => b.local(`a${i}`, "i32"));
    const d = Array.from({ length: 16 }, (_, i) => b.local(`d${i}`, "v128"));
    const tmp = Array.from({ length: 4 }, (_, i) => b.local(`t${i}`, "v128"));
    const place = b.local("place", "i32");
    const vStride = b.local("v_stride", "i32"), mStride = b.local("m_stride", "i32");
    b.set(tilesWide, b.i32.shr_u(b.i32.add(p.width, 1), 1));
    b.set(perImage, b.i32.mul(b.i32.shr_u(b.i32.add(p.height, 1), 1), tilesWide));
    b.set(vStride, b.i32.shl(b.i32.mul(p.count, p.cin), 2));
    b.set(mStride, b.i32.shl(b.i32.mul(p.count, p.cout), 2));
    // Transformed inputs V[ξ][tile][cin].
    b.for(tb, 0, p.count, 1, () => {
      locateTile(b, b.i32.add(p.first, tb), perImage, tilesWide, l);
      transformInputs(b, p, l, tb, vStride, { c, row, col, place, addrs, d, tmp });
    });
    // M[ξ] = V[ξ] U[ξ]: [count, cin] x [cin, cout].
    b.for(xi, 0, 16, 1, () => {
      b.call(
        matmul,
        b.i32.add(p.v, b.i32.mul(xi, vStride)),
        b.i32.add(p.u, b.i32.shl(b.i32.mul(b.i32.mul(xi, p.cin), p.cout), 2)),
        b.i32.add(p.m, b.i32.mul(xi, mStride)),
        p.count,
        p.cout,
        p.cin,
        0,
        p.ms,
        0,
        p.count,
      );
    });
    // Y = Aᵀ M A into the output pixels (a discard row where a tile overhangs the image).
    const y = d.slice(0, 4), s = d.slice(4, 12);
    b.for(tb, 0, p.count, 1, () => {
      locateTile(b, b.i32.add(p.first, tb), perImage, tilesWide, l);
      pixelAddresses(b, 2, 0, p.out, p.height, p.width, p.cout, l, p.discard, addrs, row, col);
      b.for(c, 0, p.cout, 4, () => {
        b.set(place, at(b, p.m, b.i32.add(b.i32.mul(tb, p.cout), c)));
        // Row by row of the 4x4: s[i] = (m_i0 + m_i1 + m_i2, m_i1 - m_i2 - m_i3).
        for (let i = 0; i < 4; i++) {
          const m = tmp;
          for (let j = 0; j < 4; j++) {
            b.set(m[j], b.v128.load(place));
            b.set(place, b.i32.add(place, mStride));
          }
          b.set(s[2 * i], b.f32x4.add(b.f32x4.add(m[0], m[1]), m[2]));
          b.set(s[2 * i + 1], b.f32x4.sub(b.f32x4.sub(m[1], m[2]), m[3]));
        }
        for (let j = 0; j < 2; j++) {
          b.set(y[j], b.f32x4.add(b.f32x4.add(s[j], s[2 + j]), s[4 + j]));
          b.set(y[2 + j], b.f32x4.sub(b.f32x4.sub(s[2 + j], s[4 + j]), s[6 + j]));
        }
        for (let k = 0; k < 4; k++) b.v128.store(at(b, addrs[k], c), y[k]);
      });
    });
  });
}

/**
 * Emits the filter path's per-block function: the block's transformed inputs, the adjoint output
 * transform of dY (A dY Aᵀ), and the block's partial Σ over its tiles V[ξ]ᵀ dM[ξ].
 */
function emitFilterBlock(mod: ModuleBuilder, matmul: Func): Func {
  const params = i32Params(
    "x",
    "dy",
    "partial",
    "height",
    "width",
    "cin",
    "cout",
    "first",
    "count",
    "v",
    "m",
    "ms",
    "zero",
  );
  return mod.func({ name: "conv_filter_block", params }, (b, p) => {
    const tb = b.local("tb", "i32"), c = b.local("c", "i32"), xi = b.local("xi", "i32");
    const tilesWide = b.local("tiles_wide", "i32"), perImage = b.local("per_image", "i32");
    const l: TileLocals = {
      img: b.local("img", "i32"),
      ty: b.local("ty", "i32"),
      tx: b.local("tx", "i32"),
      rem: b.local("rem", "i32"),
    };
    const row = b.local("row", "i32"), col = b.local("col", "i32");
    const addrs = Array.from({ length: 16 }, (_, i) => b.local(`a${i}`, "i32"));
    const d = Array.from({ length: 16 }, (_, i) => b.local(`d${i}`, "v128"));
    const tmp = Array.from({ length: 4 }, (_, i) => b.local(`t${i}`, "v128"));
    const place = b.local("place", "i32");
    const vStride = b.local("v_stride", "i32"), mStride = b.local("m_stride", "i32");
    b.set(tilesWide, b.i32.shr_u(b.i32.add(p.width, 1), 1));
    b.set(perImage, b.i32.mul(b.i32.shr_u(b.i32.add(p.height, 1), 1), tilesWide));
    b.set(vStride, b.i32.shl(b.i32.mul(p.count, p.cin), 2));
    b.set(mStride, b.i32.shl(b.i32.mul(p.count, p.cout), 2));
    b.for(tb, 0, p.count, 1, () => {
      locateTile(b, b.i32.add(p.first, tb), perImage, tilesWide, l);
      transformInputs(b, p, l, tb, vStride, { c, row, col, place, addrs, d, tmp });
      // dM = A dY Aᵀ from the tile's 2x2 output gradients (0 where the tile overhangs).
      pixelAddresses(b, 2, 0, p.dy, p.height, p.width, p.cout, l, p.zero, addrs, row, col);
      b.for(c, 0, p.cout, 4, () => {
        const yv = tmp;
        for (let k = 0; k < 4; k++) b.set(yv[k], b.v128.load(at(b, addrs[k], c)));
        // Along rows: z[i][j] for i in 0..3, j in 0..1.
        const z = d.slice(0, 8);
        for (let j = 0; j < 2; j++) {
          const y0 = yv[j], y1 = yv[2 + j];
          b.set(z[j], y0);
          b.set(z[2 + j], b.f32x4.add(y0, y1));
          b.set(z[4 + j], b.f32x4.sub(y0, y1));
          b.set(z[6 + j], b.f32x4.neg(y1));
        }
        b.set(place, at(b, p.m, b.i32.add(b.i32.mul(tb, p.cout), c)));
        for (let i = 0; i < 4; i++) {
          const z0 = z[2 * i], z1 = z[2 * i + 1];
          for (let j = 0; j < 4; j++) {
            const value = j === 0
              ? z0
              : j === 1
              ? b.f32x4.add(z0, z1)
              : j === 2
              ? b.f32x4.sub(z0, z1)
              : b.f32x4.neg(z1);
            b.v128.store(place, value);
            b.set(place, b.i32.add(place, mStride));
          }
        }
      });
    });
    // partial[ξ] = V[ξ]ᵀ dM[ξ]: [cin, count] x [count, cout].
    b.for(xi, 0, 16, 1, () => {
      b.call(
        matmul,
        b.i32.add(p.v, b.i32.mul(xi, vStride)),
        b.i32.add(p.m, b.i32.mul(xi, mStride)),
        b.i32.add(p.partial, b.i32.shl(b.i32.mul(b.i32.mul(xi, p.cin), p.cout), 2)),
        p.cin,
        p.cout,
        p.count,
        TRANSPOSE_A,
        p.ms,
        0,
        p.cin,
      );
    });
  });
}

/** This thread's scratch: zero row, discard row, V, M, the product's scratch. */
function scratchParts(
  b: FunctionBuilder,
  a: Record<string, Local>,
  tid: Local,
): { zero: Local; discard: Local; v: Local; m: Local; ms: Local } {
  const zero = b.local("zero", "i32"), discard = b.local("discard", "i32");
  const v = b.local("v", "i32"), m = b.local("m", "i32"), ms = b.local("ms", "i32");
  const channels = b.local("channels", "i32"), j = b.local("j", "i32");
  b.set(
    zero,
    b.i32.add(b.i32.load(a.scratch), b.i32.mul(tid, b.i32.load(a.scratch, { offset: 4 }))),
  );
  // Rows of max(cin, cout) channels, rounded to 64 bytes.
  b.set(
    channels,
    b.i32.and(
      b.i32.add(b.i32.shl(b.select("i32", a.cin, a.cout, b.i32.gt_u(a.cin, a.cout)), 2), 63),
      -64,
    ),
  );
  b.for(j, 0, channels, 16, () => b.v128.store(b.i32.add(zero, j), b.i32x4.splat(0)));
  b.set(discard, b.i32.add(zero, channels));
  b.set(v, b.i32.add(discard, channels));
  b.set(m, b.i32.add(v, b.i32.mul(b.i32.shl(a.cin, 6), a.block)));
  b.set(ms, b.i32.add(m, b.i32.mul(b.i32.shl(a.cout, 6), a.block)));
  return { zero, discard, v, m, ms };
}

/**
 * Runs `body(first, count, blk)` for this thread's share of the fixed blocks of tiles: block
 * `blk` holds `count` tiles from tile `first`.
 */
function forEachBlock(
  b: FunctionBuilder,
  a: Record<string, Local>,
  tid: Local,
  threads: Local,
  body: (first: Local, count: Local, blk: Local) => void,
) {
  const tiles = b.local("tiles", "i32"), blocks = b.local("blocks", "i32");
  const begin = b.local("begin", "i32"), end = b.local("end", "i32");
  const blk = b.local("blk", "i32"), first = b.local("first", "i32");
  const count = b.local("count", "i32");
  const half = (x: Local) => b.i32.shr_u(b.i32.add(x, 1), 1);
  b.set(tiles, b.i32.mul(a.n, b.i32.mul(half(a.height), half(a.width))));
  b.set(blocks, b.i32.div_u(b.i32.add(tiles, b.i32.sub(a.block, 1)), a.block));
  share(b, blocks, 1, tid, threads, begin, end);
  b.for(blk, begin, end, 1, () => {
    b.set(first, b.i32.mul(blk, a.block));
    b.set(count, b.i32.sub(tiles, first));
    b.if(b.i32.gt_u(count, a.block), () => b.set(count, a.block));
    body(first, count, blk);
  });
}

/** Adds the convolution jobs to the kernel module, which already holds `matmul`. */
export function emitConvolution(mod: ModuleBuilder, matmul: Func): void {
  const tilesBlock = emitTilesBlock(mod, matmul);
  const filterBlock = emitFilterBlock(mod, matmul);

  mod.func(
    { name: "conv_kernel_transform", params: JOB, export: "conv_kernel_transform" },
    (b, { args, tid, threads }) => {
      const a = loadWords(b, CONV_ARGS.conv_kernel_transform, args);
      const begin = b.local("begin", "i32"), end = b.local("end", "i32");
      share(b, a.cin, 1, tid, threads, begin, end);
      const ci = b.local("ci", "i32"), co = b.local("co", "i32");
      const g = Array.from({ length: 9 }, (_, i) => b.local(`g${i}`, "f32"));
      const h = Array.from({ length: 12 }, (_, i) => b.local(`h${i}`, "f32"));
      const half = 0.5;
      b.for(ci, begin, end, 1, () => {
        b.for(co, 0, a.cout, 1, () => {
          for (let k = 0; k < 9; k++) {
            const index = b.i32.add(b.i32.mul(b.i32.add(b.i32.mul(k, a.cin), ci), a.cout), co);
            b.set(g[k], b.f32.load(at(b, a.w, index)));
          }
          // h = G g (4x3), then U = h Gᵀ (4x4); G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1].
          for (let j = 0; j < 3; j++) {
            const [g0, g1, g2] = [g[j], g[3 + j], g[6 + j]];
            b.set(h[j], g0);
            b.set(h[3 + j], b.f32.mul(b.f32.add(b.f32.add(g0, g1), g2), half));
            b.set(h[6 + j], b.f32.mul(b.f32.add(b.f32.sub(g0, g1), g2), half));
            b.set(h[9 + j], g2);
          }
          for (let i = 0; i < 4; i++) {
            const [h0, h1, h2] = [h[3 * i], h[3 * i + 1], h[3 * i + 2]];
            const values = [
              () => b.get(h0),
              () => b.f32.mul(b.f32.add(b.f32.add(h0, h1), h2), half),
              () => b.f32.mul(b.f32.add(b.f32.sub(h0, h1), h2), half),
              () => b.get(h2),
            ];
            for (let j = 0; j < 4; j++) {
              // Forward: U[ξ][ci][co]. Data: U'[ξ'][co][ci], the transform of the kernel turned by
              // 180 degrees, which is U with its rows and columns taken in the order 3, 1, 2, 0
              // (G applied to a reversed column gives G's result in that order).
              const turn = [3, 1, 2, 0];
              const turned = b.i32.add(
                b.i32.mul(b.i32.add(b.i32.mul(4 * turn[i] + turn[j], a.cout), co), a.cin),
                ci,
              );
              const forward = b.i32.add(
                b.i32.mul(b.i32.add(b.i32.mul(4 * i + j, a.cin), ci), a.cout),
                co,
              );
              b.f32.store(at(b, a.u, b.select("i32", turned, forward, a.mode)), values[j]());
            }
          }
        });
      });
    },
  );

  mod.func(
    { name: "conv_tiles", params: JOB, export: "conv_tiles" },
    (b, { args, tid, threads }) => {
      const a = loadWords(b, CONV_ARGS.conv_tiles, args);
      const s = scratchParts(b, a, tid);
      forEachBlock(b, a, tid, threads, (first, count) => {
        b.call(
          tilesBlock,
          a.x,
          a.u,
          a.out,
          a.height,
          a.width,
          a.cin,
          a.cout,
          first,
          count,
          s.v,
          s.m,
          s.ms,
          s.zero,
          s.discard,
        );
      });
    },
  );

  mod.func(
    { name: "conv_filter_tiles", params: JOB, export: "conv_filter_tiles" },
    (b, { args, tid, threads }) => {
      const a = loadWords(b, CONV_ARGS.conv_filter_tiles, args);
      const s = scratchParts(b, a, tid);
      forEachBlock(b, a, tid, threads, (first, count, blk) => {
        const partial = b.i32.shl(b.i32.mul(b.i32.mul(blk, 16), b.i32.mul(a.cin, a.cout)), 2);
        b.call(
          filterBlock,
          a.x,
          a.dy,
          b.i32.add(a.partials, partial),
          a.height,
          a.width,
          a.cin,
          a.cout,
          first,
          count,
          s.v,
          s.m,
          s.ms,
          s.zero,
        );
      });
    },
  );

  mod.func(
    { name: "conv_filter_reduce", params: JOB, export: "conv_filter_reduce" },
    (b, { args, tid, threads }) => {
      const a = loadWords(b, CONV_ARGS.conv_filter_reduce, args);
      const begin = b.local("begin", "i32"), end = b.local("end", "i32");
      share(b, a.cin, 1, tid, threads, begin, end);
      const ci = b.local("ci", "i32"), co = b.local("co", "i32"), blk = b.local("blk", "i32");
      const slab = b.local("slab", "i32"), partial = b.local("partial", "i32");
      const place = b.local("place", "i32");
      const u = Array.from({ length: 16 }, (_, i) => b.local(`u${i}`, "v128"));
      const w = Array.from({ length: 12 }, (_, i) => b.local(`w${i}`, "v128"));
      const half = b.local("half", "v128");
      b.set(half, b.f32x4.splat(0.5));
      // Bytes between positions ξ of one partial, and between partials.
      b.set(slab, b.i32.shl(b.i32.mul(a.cin, a.cout), 2));
      b.set(partial, b.i32.shl(slab, 4));
      b.for(ci, begin, end, 1, () => {
        b.for(co, 0, a.cout, 4, () => {
          // dU[ξ] = Σ over blocks, in block order.
          b.set(place, at(b, a.partials, b.i32.add(b.i32.mul(ci, a.cout), co)));
          for (let k = 0; k < 16; k++) {
            b.set(u[k], b.v128.load(b.i32.add(place, b.i32.mul(k, slab))));
          }
          b.for(blk, 1, a.blocks, 1, () => {
            b.set(place, b.i32.add(place, partial));
            for (let k = 0; k < 16; k++) {
              b.set(u[k], b.f32x4.add(u[k], b.v128.load(b.i32.add(place, b.i32.mul(k, slab)))));
            }
          });
          // dW = Gᵀ dU G; Gᵀ u = (u0 + ½(u1 + u2), ½(u1 - u2), ½(u1 + u2) + u3).
          for (let j = 0; j < 4; j++) {
            const [u0, u1, u2, u3] = [u[j], u[4 + j], u[8 + j], u[12 + j]];
            b.set(w[j], b.f32x4.add(u0, b.f32x4.mul(b.f32x4.add(u1, u2), half)));
            b.set(w[4 + j], b.f32x4.mul(b.f32x4.sub(u1, u2), half));
            b.set(w[8 + j], b.f32x4.add(b.f32x4.mul(b.f32x4.add(u1, u2), half), u3));
          }
          for (let i = 0; i < 3; i++) {
            const [w0, w1, w2, w3] = [w[4 * i], w[4 * i + 1], w[4 * i + 2], w[4 * i + 3]];
            const values = [
              () => b.f32x4.add(w0, b.f32x4.mul(b.f32x4.add(w1, w2), half)),
              () => b.f32x4.mul(b.f32x4.sub(w1, w2), half),
              () => b.f32x4.add(b.f32x4.mul(b.f32x4.add(w1, w2), half), w3),
            ];
            for (let j = 0; j < 3; j++) {
              const index = b.i32.add(
                b.i32.mul(b.i32.add(b.i32.mul(3 * i + j, a.cin), ci), a.cout),
                co,
              );
              b.v128.store(at(b, a.out, index), values[j]());
            }
          }
        });
      });
    },
  );
}
