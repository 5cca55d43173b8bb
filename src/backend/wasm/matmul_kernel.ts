/**
 * A float32 matrix product in WebAssembly SIMD, emitted at run time by the assembler in
 * `assembler.ts`. The module imports its memory (`env.memory`, shared) and exports
 *
 *   matmul(a, b, out, m, n, k, flags, scratch, rowBegin, rowEnd)
 *
 * computing rows [rowBegin, rowEnd) of out = op(A) op(B), so that threads sharing the memory can
 * each take a band of rows, each with its own scratch area.
 *
 * Large products use the packed, cache-blocked scheme of GotoBLAS/BLIS: a KC x NC block of op(B)
 * and an MC x KC block of op(A) are copied into contiguous panels in the scratch area, and a
 * register-blocked micro-kernel keeps an MR x NR tile of `out` in f32x4 accumulators while it
 * walks the shared dimension, loading one row of NR B values and broadcasting MR A values per
 * step. A packed A micro-panel (MR x KC, 6 KiB) stays in L1 while the micro-kernel sweeps a row
 * strip across the packed B block (KC x NC, 1 MiB), which sits in L2. Packing makes the inner
 * loop identical for all four transpose cases.
 *
 * Products with at most three rows or columns skip packing (it would copy a whole operand to use
 * it once) and run a direct loop that vectorises along whichever side of the large operand is
 * contiguous in memory.
 *
 * It is long because it is one algorithm: the micro-kernel, the edge tiles, the packing and the
 * driver were tuned together (the blocking constants below tie them), and split apart they would
 * only hide that.
 *
 * @module
 */

import {
  type Func,
  type FunctionBuilder,
  i32Params,
  type Local,
  ModuleBuilder,
} from "./assembler.ts";

/** Blocking parameters of the generated kernel. The defaults were chosen by measurement. */
export interface MatmulConfig {
  /** Rows of the micro-tile (A values broadcast per step). */
  mr: number;
  /** Columns of the micro-tile; a multiple of 4 (one f32x4 per 4 columns). */
  nr: number;
  /** Upper bound on the block of the shared dimension. */
  kc: number;
  /** Upper bound on the block of rows packed at once; a multiple of mr. */
  mc: number;
  /** Upper bound on the block of columns packed at once; a multiple of nr. */
  nc: number;
  /** Steps of the shared dimension per micro-kernel loop iteration; a power of two. */
  unroll: number;
}

/**
 * The blocking used unless told otherwise, by arithmetic path (measured on a 2-core AMD EPYC,
 * Zen 5, Deno 2.9.6; GFLOP/s at 1024³, one thread). With relaxed_madd a 6 x 8 tile (12
 * accumulators, 2 B vectors, 1 broadcast A: 15 of x64's 16 xmm registers, V8 keeping one as
 * scratch) is best: 65-68, against 65 for 5 x 8 and 59 for 4 x 8, while 4 x 12, 3 x 16 and 7 x 8
 * need 16 or more registers, spill, and fall to 30-35. Plain mul + add needs one more register
 * for the product, so 6 x 8 spills (31) and 5 x 8 is best (52-54). kc = 256 keeps the A and B
 * micro-panels (6 and 8 KiB) in L1; kc 192-320, mc 120-240, nc 512-4096 and unroll 2-8 all
 * measured within noise of these values.
 */
export function defaultMatmulConfig(relaxed: boolean): Readonly<MatmulConfig> {
  return relaxed ? RELAXED_CONFIG : PLAIN_CONFIG;
}
const RELAXED_CONFIG: Readonly<MatmulConfig> = {
  mr: 6,
  nr: 8,
  kc: 256,
  mc: 120,
  nc: 1024,
  unroll: 4,
};
const PLAIN_CONFIG: Readonly<MatmulConfig> = { ...RELAXED_CONFIG, mr: 5 };

/** `flags` bit: `a` holds A as k x m and op(A) = Aᵀ. */
export const TRANSPOSE_A = 1;
/** `flags` bit: `b` holds B as n x k and op(B) = Bᵀ. */
export const TRANSPOSE_B = 2;

/** Products with at most this many rows or columns take the direct path. */
const DIRECT_MAX = 3;

/** Byte alignment of the regions inside the scratch area (one cache line). */
const ALIGN = 64;

function roundUp(x: number, step: number): number {
  return Math.ceil(x / step) * step;
}

/**
 * Bytes of scratch one call of `matmul` needs for an m x n x k product (whatever band of rows it
 * is given): the packed A block, the packed B block and an edge tile, or, on the direct path, the
 * packed small operand. The area should start at a multiple of 64 bytes (for speed only).
 */
export function matmulScratchBytes(
  m: number,
  n: number,
  k: number,
  config: Readonly<MatmulConfig>,
): number {
  const { mr, nr } = config;
  const kcMax = k > 0 ? Math.ceil(k / Math.ceil(k / config.kc)) : 0;
  const packed = roundUp(roundUp(Math.min(config.mc, m), mr) * kcMax * 4, ALIGN) +
    roundUp(kcMax * roundUp(Math.min(config.nc, n), nr) * 4, ALIGN) + mr * nr * 4;
  const direct = DIRECT_MAX * roundUp(k, 4) * 4;
  return Math.max(packed, direct);
}

/** The raw export: sizes in elements, addresses in bytes; see the module documentation. */
export type MatmulExport = (
  a: number,
  b: number,
  out: number,
  m: number,
  n: number,
  k: number,
  flags: number,
  scratch: number,
  rowBegin: number,
  rowEnd: number,
) => void;

/** Options of {@link buildMatmulModule}. */
export interface MatmulModuleOptions {
  /** Use `f32x4.relaxed_madd` (fused on hardware with FMA) instead of mul + add. */
  relaxed: boolean;
  /** Blocking; {@link defaultMatmulConfig} for the path by default. */
  config?: Readonly<MatmulConfig>;
  /** Pages of the imported memory: its declared minimum and maximum. */
  memoryPages?: { initial: number; maximum: number };
}

/**
 * Whether this host's WebAssembly accepts relaxed SIMD (`f32x4.relaxed_madd`). Checked once by
 * validating a one-instruction module.
 */
export function relaxedSimdSupported(): boolean {
  if (relaxedSupported === undefined) {
    const mod = new ModuleBuilder();
    mod.func({ name: "madd", params: { x: "v128" }, results: ["v128"] }, (b, { x }) => {
      b.return(b.f32x4.relaxed_madd(x, x, x));
    });
    relaxedSupported = WebAssembly.validate(mod.toBytes());
  }
  return relaxedSupported;
}
let relaxedSupported: boolean | undefined;

/** Emits the matmul module's bytes. */
export function buildMatmulModule(options: MatmulModuleOptions): Uint8Array<ArrayBuffer> {
  const pages = options.memoryPages ?? { initial: 1, maximum: 65536 };
  const mod = new ModuleBuilder();
  mod.importMemory({ initial: pages.initial, maximum: pages.maximum, shared: true });
  emitMatmul(mod, options.relaxed, options.config, true);
  return mod.toBytes();
}

/**
 * Adds the kernel (and its helpers) to `mod`, whose memory must be the shared one, and returns
 * its driver `matmul(a, b, out, m, n, k, flags, scratch, rowBegin, rowEnd)`; `exported` also
 * exports it under that name.
 */
export function emitMatmul(
  mod: ModuleBuilder,
  relaxed: boolean,
  config: Readonly<MatmulConfig> = defaultMatmulConfig(relaxed),
  exported = false,
): Func {
  const { mr, nr, unroll } = config;
  if (nr % 4 !== 0 || config.mc % mr !== 0 || config.nc % nr !== 0) {
    throw new RangeError("matmul config: nr must be a multiple of 4, mc of mr, nc of nr");
  }
  if ((unroll & (unroll - 1)) !== 0) throw new RangeError("matmul config: unroll must be 2^i");
  const micro = emitMicroKernel(mod, config, relaxed);
  const edge = emitEdgeTile(mod, config, micro);
  const packA = emitPack(mod, "pack_a", mr);
  const packB = emitPack(mod, "pack_b", nr);
  const packSmall = emitPackSmall(mod);
  const axpy = [1, 2, 3].map((s) => emitDirectAxpy(mod, s, relaxed));
  const dot = [1, 2, 3].map((s) => emitDirectDot(mod, s, relaxed));
  return emitDriver(mod, config, { micro, edge, packA, packB, packSmall, axpy, dot }, exported);
}

function madd(b: FunctionBuilder, relaxed: boolean, x: Local, y: Local, acc: Local): void {
  b.set(acc, relaxed ? b.f32x4.relaxed_madd(x, y, acc) : b.f32x4.add(b.f32x4.mul(x, y), acc));
}

/**
 * The micro-kernel: the mr x nr tile at `c` (row stride `ldc` bytes) = (or +=, if `accumulate`)
 * the packed A panel at `pa` (kc steps of mr floats) times the packed B panel at `pb` (kc steps
 * of nr floats). It is a function of its own so that V8 tiers it up to optimised code after a
 * few calls: wasm has no on-stack replacement, so a hot loop inside one long call would stay in
 * the baseline compiler's code until the call returns.
 */
function emitMicroKernel(mod: ModuleBuilder, config: Readonly<MatmulConfig>, relaxed: boolean) {
  const { mr, nr, unroll } = config;
  const vecs = nr / 4;
  const params = i32Params("pa", "pb", "c", "ldc", "kc", "accumulate");
  return mod.func({ name: "micro_kernel", params }, (b, p) => {
    const acc: Local[][] = [];
    for (let r = 0; r < mr; r++) {
      acc.push([]);
      for (let v = 0; v < vecs; v++) acc[r].push(b.local(`acc${r}_${v}`, "v128"));
    }
    const bv = Array.from({ length: vecs }, (_, v) => b.local(`b${v}`, "v128"));
    const av = b.local("a", "v128");
    const row = b.local("row", "i32");
    const count = b.local("count", "i32");

    // Locals start at zero, so only an accumulating call loads the tile.
    b.if(p.accumulate, () => {
      b.set(row, p.c);
      for (let r = 0; r < mr; r++) {
        for (let v = 0; v < vecs; v++) b.set(acc[r][v], b.v128.load(row, { offset: 16 * v }));
        if (r < mr - 1) b.set(row, b.i32.add(row, p.ldc));
      }
    });

    // One step of the shared dimension, `u` steps past the pointers.
    const step = (u: number) => {
      for (let v = 0; v < vecs; v++) {
        b.set(bv[v], b.v128.load(p.pb, { offset: 4 * (u * nr + 4 * v) }));
      }
      for (let r = 0; r < mr; r++) {
        b.set(av, b.v128.load32_splat(p.pa, { offset: 4 * (u * mr + r) }));
        for (let v = 0; v < vecs; v++) madd(b, relaxed, av, bv[v], acc[r][v]);
      }
    };
    const loop = (steps: number) => {
      b.loop((top) => {
        for (let u = 0; u < steps; u++) step(u);
        b.set(p.pa, b.i32.add(p.pa, 4 * mr * steps));
        b.set(p.pb, b.i32.add(p.pb, 4 * nr * steps));
        b.br_if(top, b.tee(count, b.i32.sub(count, 1)));
      });
    };
    b.if(b.tee(count, b.i32.shr_u(p.kc, Math.log2(unroll))), () => loop(unroll));
    if (unroll > 1) b.if(b.tee(count, b.i32.and(p.kc, unroll - 1)), () => loop(1));

    b.set(row, p.c);
    for (let r = 0; r < mr; r++) {
      for (let v = 0; v < vecs; v++) b.v128.store(row, acc[r][v], { offset: 16 * v });
      if (r < mr - 1) b.set(row, b.i32.add(row, p.ldc));
    }
  });
}

/**
 * A partial tile (rows x cols of the mr x nr one, at the bottom or right edge): the micro-kernel
 * runs on a whole tile in scratch, from panels whose padding is zero, and only the real part is
 * copied back.
 */
function emitEdgeTile(mod: ModuleBuilder, config: Readonly<MatmulConfig>, micro: Func) {
  const { nr } = config;
  const params = i32Params("pa", "pb", "c", "ldc", "kc", "accumulate", "rows", "cols", "tile");
  return mod.func({ name: "edge_tile", params }, (b, p) => {
    const r = b.local("r", "i32");
    const j = b.local("j", "i32");
    const src = b.local("src", "i32");
    const dst = b.local("dst", "i32");
    // Copies the real part between `out` (stride ldc) and the tile (stride nr floats).
    const copy = (toTile: boolean) => {
      b.for(r, 0, p.rows, 1, () => {
        b.set(toTile ? src : dst, b.i32.add(p.c, b.i32.mul(r, p.ldc)));
        b.set(toTile ? dst : src, b.i32.add(p.tile, b.i32.mul(r, 4 * nr)));
        b.for(j, 0, p.cols, 1, () => {
          b.f32.store(b.i32.add(dst, b.i32.shl(j, 2)), b.f32.load(b.i32.add(src, b.i32.shl(j, 2))));
        });
      });
    };
    b.if(p.accumulate, () => copy(true));
    b.call(micro, p.pa, p.pb, p.tile, 4 * nr, p.kc, p.accumulate);
    copy(false);
  });
}

/**
 * Packs `lanes` lanes of `kc` floats (lane t's element q at byte `src + t * ls + q * ps`) into
 * panels of `width` lanes, interleaved element by element: panel i holds kc rows of `width`
 * floats. Lanes past `lanes` in the last panel are zero, so the micro-kernel can always compute
 * whole tiles and the entries it computes from padding (which are dropped) never come from stale
 * data.
 *
 * Whole panels take one of two vector paths: lanes adjacent in memory (B as stored, or A
 * transposed) copy a row of `width` floats per step; lanes contiguous along k (A as stored, or B
 * transposed) are transposed four lanes by four steps in registers. Those are the operands of
 * `x W`, `xᵀ dy` and `dy Wᵀ`, so the scalar path only handles the last, partial panel.
 */
function emitPack(mod: ModuleBuilder, name: string, width: number) {
  const params = i32Params("src", "ls", "ps", "lanes", "kc", "dst");
  return mod.func({ name, params }, (b, p) => {
    const t0 = b.local("t0", "i32");
    const r = b.local("r", "i32");
    const q = b.local("q", "i32");
    const sp = b.local("sp", "i32");
    const dp = b.local("dp", "i32");
    const k4 = b.local("k_floor4", "i32");
    const full = b.local("full", "i32");
    const lanePtr = Array.from({ length: width }, (_, i) => b.local(`lane${i}`, "i32"));
    const rowsIn = Array.from({ length: 4 }, (_, i) => b.local(`in${i}`, "v128"));
    const pair = Array.from({ length: 4 }, (_, i) => b.local(`pair${i}`, "v128"));
    b.set(k4, b.i32.and(p.kc, -4));
    b.set(dp, p.dst);
    const at = b.local("at", "i32");
    // Each path leaves dp at the next panel; the vector paths skip the rest with `next`.
    b.for(t0, 0, p.lanes, width, ({ next }) => {
      b.set(sp, b.i32.add(p.src, b.i32.mul(t0, p.ls)));
      b.set(full, b.i32.ge_s(b.i32.sub(p.lanes, t0), width));
      b.if(b.i32.and(full, b.i32.eq(p.ls, 4)), () => {
        // Lanes adjacent in memory: each step copies `width` floats, mostly as whole vectors.
        b.for(q, 0, p.kc, 1, () => {
          let lane = 0;
          for (; lane + 4 <= width; lane += 4) {
            b.v128.store(dp, b.v128.load(sp, { offset: 4 * lane }), { offset: 4 * lane });
          }
          for (; lane < width; lane++) {
            b.f32.store(dp, b.f32.load(sp, { offset: 4 * lane }), { offset: 4 * lane });
          }
          b.set(sp, b.i32.add(sp, p.ps));
          b.set(dp, b.i32.add(dp, 4 * width));
        });
        b.br(next);
      });
      b.if(b.i32.and(full, b.i32.eq(p.ps, 4)), () => {
        // Lanes contiguous along k: four steps of four lanes are loaded as four vectors and
        // transposed with two rounds of shuffles into four steps' rows.
        for (let i = 0; i < width; i++) b.set(lanePtr[i], b.i32.add(sp, b.i32.mul(i, p.ls)));
        b.for(q, 0, k4, 4, () => {
          let lane = 0;
          for (; lane + 4 <= width; lane += 4) {
            for (let i = 0; i < 4; i++) b.set(rowsIn[i], b.v128.load(lanePtr[lane + i]));
            b.set(pair[0], b.i8x16.shuffle(INTERLEAVE_LOW, rowsIn[0], rowsIn[1]));
            b.set(pair[1], b.i8x16.shuffle(INTERLEAVE_HIGH, rowsIn[0], rowsIn[1]));
            b.set(pair[2], b.i8x16.shuffle(INTERLEAVE_LOW, rowsIn[2], rowsIn[3]));
            b.set(pair[3], b.i8x16.shuffle(INTERLEAVE_HIGH, rowsIn[2], rowsIn[3]));
            for (let step = 0; step < 4; step++) {
              const halves = step % 2 === 0 ? LOW_HALVES : HIGH_HALVES;
              const [x, y] = step < 2 ? [pair[0], pair[2]] : [pair[1], pair[3]];
              const offset = 4 * (step * width + lane);
              b.v128.store(dp, b.i8x16.shuffle(halves, x, y), { offset });
            }
          }
          for (; lane < width; lane++) {
            for (let step = 0; step < 4; step++) {
              const value = b.f32.load(lanePtr[lane], { offset: 4 * step });
              b.f32.store(dp, value, { offset: 4 * (step * width + lane) });
            }
          }
          for (let i = 0; i < width; i++) b.set(lanePtr[i], b.i32.add(lanePtr[i], 16));
          b.set(dp, b.i32.add(dp, 16 * width));
        });
        // The last kc % 4 steps, element by element.
        b.for(q, q, p.kc, 1, () => {
          for (let i = 0; i < width; i++) {
            b.f32.store(dp, b.f32.load(lanePtr[i]), { offset: 4 * i });
            b.set(lanePtr[i], b.i32.add(lanePtr[i], 4));
          }
          b.set(dp, b.i32.add(dp, 4 * width));
        });
        b.br(next);
      });
      // A partial panel, or strides that fit neither path: lane by lane, zeros past the end.
      b.for(r, 0, width, 1, () => {
        b.set(sp, b.i32.add(b.i32.add(p.src, b.i32.mul(t0, p.ls)), b.i32.mul(r, p.ls)));
        b.set(at, b.i32.add(dp, b.i32.shl(r, 2)));
        b.if(b.i32.lt_s(b.i32.add(t0, r), p.lanes), () => {
          b.for(q, 0, p.kc, 1, () => {
            b.f32.store(at, b.f32.load(sp));
            b.set(sp, b.i32.add(sp, p.ps));
            b.set(at, b.i32.add(at, 4 * width));
          });
        }, () => {
          b.for(q, 0, p.kc, 1, () => {
            b.f32.store(at, 0);
            b.set(at, b.i32.add(at, 4 * width));
          });
        });
      });
      b.set(dp, b.i32.add(dp, b.i32.mul(p.kc, 4 * width)));
    });
  });
}

// i8x16.shuffle patterns on f32 lanes (each lane index i becomes bytes 4i..4i+3).
function lanes32(...indices: number[]): number[] {
  return indices.flatMap((i) => [4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3]);
}
const INTERLEAVE_LOW = lanes32(0, 4, 1, 5);
const INTERLEAVE_HIGH = lanes32(2, 6, 3, 7);
const LOW_HALVES = lanes32(0, 1, 4, 5);
const HIGH_HALVES = lanes32(2, 3, 6, 7);
const HIGH_HALF = lanes32(2, 3, 0, 1);
const LANE_1 = lanes32(1, 0, 3, 2);

/**
 * Copies the s lanes of the small operand of a direct product (lane t's element q at byte
 * `src + t * ls + q * ps`) to `dst + t * dls + q * dps`, then zeros elements k..k4-1 of each
 * lane (the dot-product path reads whole vectors of it).
 */
function emitPackSmall(mod: ModuleBuilder) {
  const params = i32Params("src", "ls", "ps", "s", "k", "k4", "dst", "dls", "dps");
  return mod.func({ name: "pack_small", params }, (b, p) => {
    const t = b.local("t", "i32");
    const q = b.local("q", "i32");
    const sp = b.local("sp", "i32");
    const dp = b.local("dp", "i32");
    b.for(t, 0, p.s, 1, () => {
      b.set(sp, b.i32.add(p.src, b.i32.mul(t, p.ls)));
      b.set(dp, b.i32.add(p.dst, b.i32.mul(t, p.dls)));
      b.for(q, 0, p.k4, 1, () => {
        b.f32.store(
          dp,
          b.ifValue("f32", b.i32.lt_s(q, p.k), () => b.f32.load(sp), () => b.f32.const(0)),
        );
        b.set(sp, b.i32.add(sp, p.ps));
        b.set(dp, b.i32.add(dp, p.dps));
      });
    });
  });
}

/** Stores vector `v` to four floats at `at`, `at + stride`, ... (`stride` a runtime value). */
function storeStrided(b: FunctionBuilder, at: Local, stride: Local, v: Local, contiguous: Local) {
  b.if(contiguous, () => b.v128.store(at, v), () => {
    b.f32.store(at, b.f32x4.extract_lane(0, v));
    b.f32.store(b.i32.add(at, stride), b.f32x4.extract_lane(1, v));
    b.f32.store(b.i32.add(at, b.i32.shl(stride, 1)), b.f32x4.extract_lane(2, v));
    b.f32.store(b.i32.add(at, b.i32.mul(stride, 3)), b.f32x4.extract_lane(3, v));
  });
}

const DIRECT_PARAMS = {
  sp: "i32",
  l: "i32",
  ls: "i32",
  ps: "i32",
  lanes: "i32",
  k: "i32",
  k4: "i32",
  out: "i32",
  os: "i32",
  ol: "i32",
} as const;

/**
 * Vectors per block of the direct axpy loop, by number of small lanes: s * vectors accumulators
 * plus the vectors loaded and one broadcast must fit in 15 registers. Measured (GFLOP/s, relaxed):
 * 2 x 784 x 256 runs at 34 / 50 / 34 with 4 / 3 / 2 vectors, 3 x 784 x 256 at 30 / 38 / 47.
 */
const AXPY_VECTORS = [0, 4, 3, 2];

/**
 * Direct product with `s` small lanes when the large operand's lanes are adjacent in memory
 * (ls = 4): out[r][t] = sum_q S[q][r] L[t][q], vectorised along t. S is packed as k rows of s
 * floats at `sp`; lane t, element q of L is at `l + 4 t + q * ps`; out[r][t] is at
 * `out + r * os + t * ol`. 4 * AXPY_VECTORS[s] lanes at a time, then four, then one.
 */
function emitDirectAxpy(mod: ModuleBuilder, s: number, relaxed: boolean) {
  return mod.func({ name: `direct_axpy${s}`, params: DIRECT_PARAMS }, (b, p) => {
    const t0 = b.local("t0", "i32");
    const q = b.local("q", "i32");
    const lp = b.local("lp", "i32");
    const sq = b.local("sq", "i32");
    const at = b.local("at", "i32");
    const contiguous = b.local("contiguous", "i32");
    const av = b.local("a", "v128");
    const bv = Array.from({ length: 4 }, (_, v) => b.local(`b${v}`, "v128"));
    const acc = Array.from(
      { length: s },
      (_, r) => Array.from({ length: 4 }, (_, v) => b.local(`acc${r}_${v}`, "v128")),
    );
    b.set(contiguous, b.i32.eq(p.ol, 4));
    b.set(t0, 0);
    for (const vecs of [AXPY_VECTORS[s], 1]) {
      b.while(() => b.i32.le_s(b.i32.add(t0, 4 * vecs), p.lanes), () => {
        for (let r = 0; r < s; r++) {
          for (let v = 0; v < vecs; v++) b.set(acc[r][v], b.f32x4.splat(b.f32.const(0)));
        }
        b.set(lp, b.i32.add(p.l, b.i32.shl(t0, 2)));
        b.set(sq, p.sp);
        b.for(q, 0, p.k, 1, () => {
          for (let v = 0; v < vecs; v++) b.set(bv[v], b.v128.load(lp, { offset: 16 * v }));
          for (let r = 0; r < s; r++) {
            b.set(av, b.v128.load32_splat(sq, { offset: 4 * r }));
            for (let v = 0; v < vecs; v++) madd(b, relaxed, av, bv[v], acc[r][v]);
          }
          b.set(lp, b.i32.add(lp, p.ps));
          b.set(sq, b.i32.add(sq, 4 * s));
        });
        for (let r = 0; r < s; r++) {
          for (let v = 0; v < vecs; v++) {
            const lane = () => b.i32.add(t0, 4 * v);
            b.set(at, b.i32.add(b.i32.add(p.out, b.i32.mul(r, p.os)), b.i32.mul(lane(), p.ol)));
            storeStrided(b, at, p.ol, acc[r][v], contiguous);
          }
        }
        b.set(t0, b.i32.add(t0, 4 * vecs));
      });
    }
    // The last lanes one at a time, in scalar arithmetic.
    const sums = Array.from({ length: s }, (_, r) => b.local(`sum${r}`, "f32"));
    const x = b.local("x", "f32");
    b.for(t0, t0, p.lanes, 1, () => {
      for (let r = 0; r < s; r++) b.set(sums[r], 0);
      b.set(lp, b.i32.add(p.l, b.i32.shl(t0, 2)));
      b.set(sq, p.sp);
      b.for(q, 0, p.k, 1, () => {
        b.set(x, b.f32.load(lp));
        for (let r = 0; r < s; r++) {
          b.set(sums[r], b.f32.add(sums[r], b.f32.mul(x, b.f32.load(sq, { offset: 4 * r }))));
        }
        b.set(lp, b.i32.add(lp, p.ps));
        b.set(sq, b.i32.add(sq, 4 * s));
      });
      for (let r = 0; r < s; r++) {
        b.f32.store(b.i32.add(b.i32.add(p.out, b.i32.mul(r, p.os)), b.i32.mul(t0, p.ol)), sums[r]);
      }
    });
  });
}

/**
 * Lanes of L per block of the direct dot loop, by s: width * s accumulators, width + s loaded
 * vectors. Measured (GFLOP/s, relaxed): 3 x 784 x 256 with B transposed at 34 / 57 / 49 with
 * 4 / 3 / 2 lanes; s = 1 and 2 are best at 4.
 */
const DOT_LANES = [0, 4, 4, 3];

/**
 * Direct product with `s` small lanes when the large operand's lanes are contiguous along the
 * shared dimension (ps = 4): each output is a dot product, vectorised along q. S is packed as s
 * rows of k4 floats (zero past k) at `sp`; lane t, element q of L is at `l + t * ls + 4 q`.
 * DOT_LANES[s] lanes of L at a time (independent accumulators hide the add latency), then one;
 * the last k % 4 elements are loaded singly (into lane 0) so that nothing past the operand is
 * ever read.
 */
function emitDirectDot(mod: ModuleBuilder, s: number, relaxed: boolean) {
  return mod.func({ name: `direct_dot${s}`, params: DIRECT_PARAMS }, (b, p) => {
    const t0 = b.local("t0", "i32");
    const q = b.local("q", "i32");
    const k4 = b.local("k_floor4", "i32");
    const sps = Array.from({ length: s }, (_, r) => b.local(`sp${r}`, "i32"));
    const lps = Array.from({ length: 4 }, (_, i) => b.local(`lp${i}`, "i32"));
    const lv = Array.from({ length: 4 }, (_, i) => b.local(`l${i}`, "v128"));
    const sv = Array.from({ length: s }, (_, r) => b.local(`s${r}`, "v128"));
    const acc = Array.from(
      { length: 4 },
      (_, i) => Array.from({ length: s }, (_, r) => b.local(`acc${i}_${r}`, "v128")),
    );
    const h = b.local("h", "v128");
    b.set(k4, b.i32.and(p.k, -4));
    b.set(t0, 0);
    for (const width of [DOT_LANES[s], 1]) {
      b.while(() => b.i32.le_s(b.i32.add(t0, width), p.lanes), () => {
        for (let i = 0; i < width; i++) {
          b.set(lps[i], b.i32.add(p.l, b.i32.mul(b.i32.add(t0, i), p.ls)));
          for (let r = 0; r < s; r++) b.set(acc[i][r], b.f32x4.splat(b.f32.const(0)));
        }
        const body = (load: "load" | "load32_zero", advance: number) => {
          for (let i = 0; i < width; i++) b.set(lv[i], b.v128[load](lps[i]));
          for (let r = 0; r < s; r++) {
            b.set(sv[r], b.v128[load](sps[r]));
            for (let i = 0; i < width; i++) madd(b, relaxed, lv[i], sv[r], acc[i][r]);
          }
          for (let i = 0; i < width; i++) b.set(lps[i], b.i32.add(lps[i], advance));
          for (let r = 0; r < s; r++) b.set(sps[r], b.i32.add(sps[r], advance));
        };
        for (let r = 0; r < s; r++) {
          b.set(sps[r], b.i32.add(p.sp, b.i32.mul(r, b.i32.shl(p.k4, 2))));
        }
        b.for(q, 0, k4, 4, () => body("load", 16));
        b.for(q, q, p.k, 1, () => body("load32_zero", 4));
        for (let i = 0; i < width; i++) {
          for (let r = 0; r < s; r++) {
            // Horizontal sum: fold the high half onto the low, then lane 1 onto lane 0.
            const v = acc[i][r];
            b.set(h, b.f32x4.add(v, b.i8x16.shuffle(HIGH_HALF, v, v)));
            b.set(h, b.f32x4.add(h, b.i8x16.shuffle(LANE_1, h, h)));
            const at = b.i32.add(
              b.i32.add(p.out, b.i32.mul(r, p.os)),
              b.i32.mul(b.i32.add(t0, i), p.ol),
            );
            b.f32.store(at, b.f32x4.extract_lane(0, h));
          }
        }
        b.set(t0, b.i32.add(t0, width));
      });
    }
  });
}

interface Parts {
  micro: Func;
  edge: Func;
  packA: Func;
  packB: Func;
  packSmall: Func;
  axpy: Func[];
  dot: Func[];
}

/** The exported entry point: argument decoding, the direct path, and the blocked loops. */
function emitDriver(
  mod: ModuleBuilder,
  config: Readonly<MatmulConfig>,
  f: Parts,
  exported: boolean,
): Func {
  const { mr, nr } = config;
  const params = i32Params(
    "a",
    "b",
    "out",
    "m",
    "n",
    "k",
    "flags",
    "scratch",
    "row_begin",
    "row_end",
  );
  return mod.func({ name: "matmul", params, export: exported }, (b, p) => {
    const local = (name: string) => b.local(name, "i32");
    const rows = local("rows");
    // op(A)[i][q] is at a + i * aRs + q * aPs, op(B)[q][j] at b + q * bPs + j * bCs (bytes).
    const aRs = local("a_rs");
    const aPs = local("a_ps");
    const bPs = local("b_ps");
    const bCs = local("b_cs");
    const aBase = local("a_base");
    const outBase = local("out_base");
    const i = local("i");

    b.set(rows, b.i32.sub(p.row_end, p.row_begin));
    b.if(b.i32.or(b.i32.le_s(rows, 0), b.i32.le_s(p.n, 0)), () => b.return());
    b.set(outBase, b.i32.add(p.out, b.i32.shl(b.i32.mul(p.row_begin, p.n), 2)));
    b.if(b.i32.le_s(p.k, 0), () => {
      // An empty sum: the band is zero.
      const count = local("count");
      b.set(count, b.i32.mul(rows, p.n));
      b.for(i, 0, count, 1, () => {
        b.f32.store(b.i32.add(outBase, b.i32.shl(i, 2)), 0);
      });
      b.return();
    });
    b.set(aRs, b.select("i32", 4, b.i32.shl(p.k, 2), b.i32.and(p.flags, 1)));
    b.set(aPs, b.select("i32", b.i32.shl(p.m, 2), 4, b.i32.and(p.flags, 1)));
    b.set(bPs, b.select("i32", 4, b.i32.shl(p.n, 2), b.i32.and(p.flags, 2)));
    b.set(bCs, b.select("i32", b.i32.shl(p.k, 2), 4, b.i32.and(p.flags, 2)));
    b.set(aBase, b.i32.add(p.a, b.i32.mul(p.row_begin, aRs)));

    // -- Direct path ----------------------------------------------------------------------------
    // Decided on the whole product, not the band: a thin band of a large product takes the
    // packed path like its neighbours, whose arithmetic does not depend on the band, so a
    // product splits across any number of threads with bit-identical results.
    b.if(b.i32.or(b.i32.le_s(p.m, DIRECT_MAX), b.i32.le_s(p.n, DIRECT_MAX)), () => {
      const s = local("s");
      const src = local("src");
      const srcLs = local("src_ls");
      const srcPs = local("src_ps");
      const l = local("l");
      const ls = local("ls");
      const ps = local("ps");
      const lanes = local("lanes");
      const os = local("os");
      const ol = local("ol");
      const k4 = local("k4");
      b.if(b.i32.le_s(rows, p.n), () => {
        // The small side is op(A)'s band of rows; the large one op(B)'s columns.
        b.set(s, rows);
        b.set(src, aBase);
        b.set(srcLs, aRs);
        b.set(srcPs, aPs);
        b.set(l, p.b);
        b.set(ls, bCs);
        b.set(ps, bPs);
        b.set(lanes, p.n);
        b.set(os, b.i32.shl(p.n, 2));
        b.set(ol, 4);
      }, () => {
        // The small side is op(B)'s columns; the large one op(A)'s rows.
        b.set(s, p.n);
        b.set(src, p.b);
        b.set(srcLs, bCs);
        b.set(srcPs, bPs);
        b.set(l, aBase);
        b.set(ls, aRs);
        b.set(ps, aPs);
        b.set(lanes, rows);
        b.set(os, 4);
        b.set(ol, b.i32.shl(p.n, 2));
      });
      b.set(k4, b.i32.and(b.i32.add(p.k, 3), -4));
      const dispatch = (funcs: Func[]) => {
        for (let size = 1; size <= DIRECT_MAX; size++) {
          b.if(b.i32.eq(s, size), () => {
            b.call(funcs[size - 1], p.scratch, l, ls, ps, lanes, p.k, k4, outBase, os, ol);
          });
        }
      };
      b.if(b.i32.eq(ls, 4), () => {
        // L's lanes are adjacent: pack S as k rows of s floats, vectorise along the lanes.
        b.call(f.packSmall, src, srcLs, srcPs, s, p.k, p.k, p.scratch, 4, b.i32.shl(s, 2));
        dispatch(f.axpy);
      }, () => {
        // L's lanes run along k: pack S as s rows of k4 floats, vectorise the dot products.
        b.call(f.packSmall, src, srcLs, srcPs, s, p.k, k4, p.scratch, b.i32.shl(k4, 2), 4);
        dispatch(f.dot);
      });
      b.return();
    });

    // -- Packed path ----------------------------------------------------------------------------
    const kcMax = local("kc_max");
    const mcMax = local("mc_max");
    const ncMax = local("nc_max");
    const pa = local("pa");
    const pb = local("pb");
    const tile = local("tile");
    const ldc = local("ldc");
    const jc = local("jc");
    const nc = local("nc");
    const pc = local("pc");
    const kc = local("kc");
    const ic = local("ic");
    const mc = local("mc");
    const jr = local("jr");
    const cols = local("cols");
    const ir = local("ir");
    const rr = local("rr");
    const accumulate = local("accumulate");
    const c = local("c");
    const blocks = local("blocks");

    const ceilDiv = (x: Local, y: Local | number) => b.i32.div_u(b.i32.add(x, b.i32.sub(y, 1)), y);
    // (x + step - 1) / step * step: step need not be a power of two (mr = 6).
    const roundUpTo = (x: Local, step: number) =>
      b.i32.mul(b.i32.div_u(b.i32.add(x, step - 1), step), step);
    const min = (x: Local, y: Local | number) => b.select("i32", x, y, b.i32.lt_s(x, y));
    // Equal blocks rather than full ones plus a sliver: k = 784 runs as 4 x 196, not
    // 3 x 256 + 16, which would pay the micro-kernel's fixed costs for little work.
    b.set(blocks, ceilDiv(p.k, config.kc));
    b.set(kcMax, ceilDiv(p.k, blocks));
    b.set(blocks, ceilDiv(rows, config.mc));
    b.set(mcMax, ceilDiv(rows, blocks));
    b.set(mcMax, roundUpTo(mcMax, mr));
    b.set(blocks, ceilDiv(p.n, config.nc));
    b.set(ncMax, ceilDiv(p.n, blocks));
    b.set(ncMax, roundUpTo(ncMax, nr));
    // The scratch layout of matmulScratchBytes: packed A, packed B, edge tile.
    b.set(pa, p.scratch);
    b.set(i, min(p.m, config.mc));
    b.set(i, roundUpTo(i, mr));
    b.set(i, b.i32.shl(b.i32.mul(i, kcMax), 2));
    b.set(pb, b.i32.add(pa, roundUpTo(i, ALIGN)));
    b.set(i, min(p.n, config.nc));
    b.set(i, roundUpTo(i, nr));
    b.set(i, b.i32.shl(b.i32.mul(i, kcMax), 2));
    b.set(tile, b.i32.add(pb, roundUpTo(i, ALIGN)));
    b.set(ldc, b.i32.shl(p.n, 2));

    b.for(jc, 0, p.n, ncMax, () => {
      b.set(nc, b.i32.sub(p.n, jc));
      b.set(nc, min(nc, ncMax));
      b.for(pc, 0, p.k, kcMax, () => {
        b.set(kc, b.i32.sub(p.k, pc));
        b.set(kc, min(kc, kcMax));
        b.set(accumulate, b.i32.ne(pc, 0));
        const bSrc = b.i32.add(b.i32.add(p.b, b.i32.mul(pc, bPs)), b.i32.mul(jc, bCs));
        b.call(f.packB, bSrc, bCs, bPs, nc, kc, pb);
        b.for(ic, 0, rows, mcMax, () => {
          b.set(mc, b.i32.sub(rows, ic));
          b.set(mc, min(mc, mcMax));
          const aSrc = b.i32.add(b.i32.add(aBase, b.i32.mul(ic, aRs)), b.i32.mul(pc, aPs));
          b.call(f.packA, aSrc, aRs, aPs, mc, kc, pa);
          const tileLoops = () => {
            const panelA = () => b.i32.add(pa, b.i32.shl(b.i32.mul(ir, kc), 2));
            const panelB = () => b.i32.add(pb, b.i32.shl(b.i32.mul(jr, kc), 2));
            const row = b.i32.mul(b.i32.add(ic, ir), p.n);
            b.set(c, b.i32.add(outBase, b.i32.shl(b.i32.add(row, b.i32.add(jc, jr)), 2)));
            const whole = b.i32.and(b.i32.eq(rr, mr), b.i32.eq(cols, nr));
            b.if(whole, () => {
              b.call(f.micro, panelA(), panelB(), c, ldc, kc, accumulate);
            }, () => {
              b.call(f.edge, panelA(), panelB(), c, ldc, kc, accumulate, rr, cols, tile);
            });
          };
          const jrLoop = (inner: () => void) =>
            b.for(jr, 0, nc, nr, () => {
              b.set(cols, b.i32.sub(nc, jr));
              b.set(cols, min(cols, nr));
              inner();
            });
          const irLoop = (inner: () => void) =>
            b.for(ir, 0, mc, mr, () => {
              b.set(rr, b.i32.sub(mc, ir));
              b.set(rr, min(rr, mr));
              inner();
            });
          // Row strips outermost: each strip of `out` (mr rows) is written left to right, whole
          // cache lines at a time. Column strips first (BLIS's order) wrote mr-row columns
          // down the block; with a 4 KiB row stride (n = 1024) all those rows share one L1 set,
          // and products with small k, where writing `out` dominates, ran 3-6x slower
          // (1024 x 1024 x 1: 970 us against 140). For large k the two orders measure alike.
          irLoop(() => jrLoop(tileLoops));
        });
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// A convenience wrapper for tests and benchmarks.

const moduleCache = new Map<string, WebAssembly.Module>();

/** The compiled module for these options (compiled once per process and configuration). */
export function compileMatmulModule(options: MatmulModuleOptions): WebAssembly.Module {
  const key = JSON.stringify([
    options.relaxed,
    options.config ?? defaultMatmulConfig(options.relaxed),
    options.memoryPages,
  ]);
  let module = moduleCache.get(key);
  if (module === undefined) {
    module = new WebAssembly.Module(buildMatmulModule(options));
    moduleCache.set(key, module);
  }
  return module;
}

/** A product laid out in a {@link WasmMatmul}'s memory, ready to run repeatedly. */
export interface PreparedMatmul {
  /** Computes rows [rowBegin, rowEnd) of the product (all rows by default). */
  run(rowBegin?: number, rowEnd?: number): void;
  /** A copy of the product. */
  result(): Float32Array;
}

/**
 * Owns a shared memory and an instance of the kernel, and multiplies typed arrays by copying
 * them in. For tests and benchmarks; a device would keep its tensors in the memory instead.
 */
export class WasmMatmul {
  /** The shared memory the kernel works in. */
  readonly memory: WebAssembly.Memory;
  /** The kernel's raw export, for callers that lay out memory themselves. */
  readonly kernel: MatmulExport;
  /** Whether this instance uses relaxed_madd. */
  readonly relaxed: boolean;
  /** The blocking the module was built with (scratch sizes depend on it). */
  readonly config: Readonly<MatmulConfig>;

  /** `relaxed` defaults to what the host supports. */
  constructor(options: { relaxed?: boolean; config?: Readonly<MatmulConfig> } = {}) {
    this.relaxed = options.relaxed ?? relaxedSimdSupported();
    this.config = options.config ?? defaultMatmulConfig(this.relaxed);
    this.memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    const module = compileMatmulModule({ relaxed: this.relaxed, config: this.config });
    const instance = new WebAssembly.Instance(module, { env: { memory: this.memory } });
    this.kernel = instance.exports.matmul as MatmulExport;
  }

  /** First free byte: products prepared so far lie below it, each in its own regions. */
  private top = 0;

  /**
   * Places `a` and `b` in fresh regions of the memory (after any earlier prepared product) and
   * reserves `out` and scratch, so that several products can stay laid out side by side, as a
   * device's tensors would. `a` is m x k (k x m if `transposeA`), `b` is k x n (n x k if
   * `transposeB`). {@link reset} frees every region.
   */
  prepare(
    a: Float32Array,
    b: Float32Array,
    m: number,
    n: number,
    k: number,
    transposeA = false,
    transposeB = false,
  ): PreparedMatmul {
    for (const [name, v] of [["m", m], ["n", n], ["k", k]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`matmul: ${name} = ${v}`);
    }
    if (a.length < m * k || b.length < k * n) throw new RangeError("matmul: operand too short");
    const aAt = roundUp(this.top, ALIGN);
    const bAt = roundUp(aAt + 4 * m * k, ALIGN);
    const outAt = roundUp(bAt + 4 * k * n, ALIGN);
    const scratchAt = roundUp(outAt + 4 * m * n, ALIGN);
    this.top = scratchAt + matmulScratchBytes(m, n, k, this.config);
    const pages = Math.ceil(this.top / 65536);
    const have = this.memory.buffer.byteLength / 65536;
    if (pages > have) this.memory.grow(pages - have);
    const f32 = new Float32Array(this.memory.buffer);
    f32.set(a.subarray(0, m * k), aAt / 4);
    f32.set(b.subarray(0, k * n), bAt / 4);
    const flags = (transposeA ? TRANSPOSE_A : 0) | (transposeB ? TRANSPOSE_B : 0);
    return {
      run: (rowBegin = 0, rowEnd = m) => {
        this.kernel(aAt, bAt, outAt, m, n, k, flags, scratchAt, rowBegin, rowEnd);
      },
      // set, not slice: slice copies a shared buffer element by element (see device.ts).
      result: () => {
        const out = new Float32Array(m * n);
        out.set(new Float32Array(this.memory.buffer, outAt, m * n));
        return out;
      },
    };
  }

  /** Frees the regions of every prepared product (which must not be run afterwards). */
  reset(): void {
    this.top = 0;
  }

  /** out = op(A) op(B) (m x n, row-major), through the kernel. */
  multiply(
    a: Float32Array,
    b: Float32Array,
    m: number,
    n: number,
    k: number,
    transposeA = false,
    transposeB = false,
  ): Float32Array {
    const top = this.top;
    try {
      const prepared = this.prepare(a, b, m, n, k, transposeA, transposeB);
      prepared.run();
      return prepared.result();
    } finally {
      this.top = top;
    }
  }
}
