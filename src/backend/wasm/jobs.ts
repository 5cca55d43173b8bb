/**
 * What every kernel job of the WebAssembly device shares: its signature `(args, tid, threads)`,
 * its argument block (i32 words at byte offset `args`, written once when the kernel is prepared)
 * and the share of the work each thread takes. See kernels.ts and threads.ts.
 */
import type { FunctionBuilder, Local, Operand } from "./assembler.ts";

/** The parameters of a job. */
export const JOB = { args: "i32", tid: "i32", threads: "i32" } as const;

/**
 * The share [begin, end) of `total` items that thread `tid` of `threads` takes, in multiples of
 * `grain` (the last thread takes the rest); sets the two locals.
 */
export function share(
  b: FunctionBuilder,
  total: Local | number,
  grain: number | Local,
  tid: Local,
  threads: Local,
  begin: Local,
  end: Local,
): void {
  const per = b.local(`per_${begin.name}`, "i32");
  // per = ceil(ceil(total / grain) / threads) * grain
  b.set(per, b.i32.div_u(b.i32.add(total, b.i32.sub(grain, 1)), grain));
  b.set(per, b.i32.mul(b.i32.div_u(b.i32.add(per, b.i32.sub(threads, 1)), threads), grain));
  b.set(begin, b.i32.mul(tid, per));
  b.set(end, b.i32.add(begin, per));
  b.if(b.i32.gt_s(end, total), () => b.set(end, total));
  b.if(b.i32.gt_s(begin, total), () => b.set(begin, total));
}

/** Declares a local per argument word (`names`, in block order) and loads it. */
export function loadWords(
  b: FunctionBuilder,
  names: readonly string[],
  args: Local,
): Record<string, Local> {
  const locals: Record<string, Local> = {};
  names.forEach((name, i) => {
    locals[name] = b.local(name, "i32");
    b.set(locals[name], b.i32.load(args, { offset: 4 * i }));
  });
  return locals;
}

/** Copies `count` f32 from `src` to `dst`, four at a time, then one at a time. */
export function copyFloats(
  b: FunctionBuilder,
  src: Local,
  dst: Local,
  count: Operand,
  j: Local,
  vectorEnd: Local,
) {
  b.set(vectorEnd, b.i32.and(count, -4));
  b.for(j, 0, vectorEnd, 4, () => {
    b.v128.store(b.i32.add(dst, b.i32.shl(j, 2)), b.v128.load(b.i32.add(src, b.i32.shl(j, 2))));
  });
  b.for(j, vectorEnd, count as Local | number, 1, () => {
    b.f32.store(b.i32.add(dst, b.i32.shl(j, 2)), b.f32.load(b.i32.add(src, b.i32.shl(j, 2))));
  });
}
