/**
 * Kernels as plain data: what one step of a compiled plan computes, with every size worked out and
 * no reference to the graph, so a device needs no knowledge of ops. The executor turns plan steps
 * into these (see {@link kernelOf}); each device implements one kernel per kind.
 */
import type { PatchGeometry, Tensor } from "../graph/tensor.ts";
import { opDefinition } from "../graph/ops.ts";
import { externalInputs, type FusedProgram, fusedProgram } from "./fusion.ts";
import { convolutionOf, poolingOf } from "./conv_fusion.ts";
import { reductionExtents } from "./layout.ts";

/** A chain of elementwise ops computed per output element (see fusion.ts). */
export interface ElementwiseKernel {
  readonly kind: "elementwise";
  readonly program: FusedProgram;
  /** The output's shape (strided inputs are addressed by its coordinates). */
  readonly shape: readonly number[];
  readonly size: number;
}

/** sum / max / argmax along the middle axis of an input seen as [outer, length, inner]. */
export interface ReduceKernel {
  readonly kind: "reduce";
  readonly op: "sum" | "max" | "argmax";
  readonly outer: number;
  readonly length: number;
  readonly inner: number;
}

/** op(A) op(B): op(A) is m x k (stored k x m when transposeA), op(B) k x n (n x k when transposeB). */
export interface MatmulKernel {
  readonly kind: "matmul";
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly transposeA: boolean;
  readonly transposeB: boolean;
}

/** out[r] = x[indices[r]] for `rows` rows of `inner` values; x has `bound` rows. */
export interface GatherKernel {
  readonly kind: "gather";
  readonly rows: number;
  readonly inner: number;
  readonly bound: number;
}

/** out[s] = sum of the `rows` rows r of x with ids[r] == s, for `segments` segments. */
export interface SegmentSumKernel {
  readonly kind: "segmentSum";
  readonly rows: number;
  readonly inner: number;
  readonly segments: number;
}

/** out[r, k] = 1 where indices[r] == k, for `rows` rows of `depth`. */
export interface OneHotKernel {
  readonly kind: "oneHot";
  readonly rows: number;
  readonly depth: number;
}

/**
 * Windows of N images [N, height, width, c] as rows [N * outHeight * outWidth, kh * kw * c]
 * (patches), or those rows added back onto the images (unpatches, the adjoint): see ops.ts.
 */
export interface PatchKernel extends PatchGeometry {
  readonly kind: "patches" | "unpatches";
  readonly n: number;
  readonly c: number;
}

/**
 * The columns of the k smallest values of each of `rows` rows of `n` (argSmallestK), or the values
 * at given columns of each row (takeAlongRows: x [rows, n], indices [rows, k]); see ops.ts.
 */
export interface RowSelectKernel {
  readonly kind: "argSmallestK" | "takeAlongRows";
  readonly rows: number;
  readonly n: number;
  readonly k: number;
}

/**
 * A convolution's shape as the executor offers it to a device (see Device.directConvolution):
 * images [n, height, width, cin], a kh x kw x cin x cout kernel, the windows' geometry, and which
 * composition it stands for: "forward", patches(x) W; "data", unpatches(dY Wᵀ) (the image's
 * gradient); "filter", patches(x)ᵀ dY (the kernel's gradient).
 */
export interface ConvShape extends PatchGeometry {
  readonly mode: "forward" | "data" | "filter";
  readonly n: number;
  readonly cin: number;
  readonly cout: number;
}

/**
 * A pooling as the executor offers it to a device (see Device.directPooling): the max or sum of
 * each window of patches(x) (images [n, height, width, c]) along its taps, computed without the
 * windows. Output: [n * outHeight * outWidth, c].
 */
export interface PoolShape extends PatchGeometry {
  readonly op: "max" | "sum";
  readonly n: number;
  readonly c: number;
}

/** A pooling computed as one kernel in place of windows and a reduction (see {@link PoolShape}). */
export interface PoolKernel extends PoolShape {
  readonly kind: "pool";
}

/**
 * A convolution computed as one kernel in place of its composition (see {@link ConvShape}).
 * Reads: forward (x, W), data (dY, W), filter (x, dY); W is [kh * kw * cin, cout], dY
 * [n * outHeight * outWidth, cout].
 */
export interface ConvKernel extends ConvShape {
  readonly kind: "conv";
}

/** Every kernel a device implements (conv only where the device asks for it). */
export type Kernel =
  | ElementwiseKernel
  | ReduceKernel
  | MatmulKernel
  | GatherKernel
  | SegmentSumKernel
  | OneHotKernel
  | PatchKernel
  | RowSelectKernel
  | ConvKernel
  | PoolKernel;

/**
 * The kernel of a plan step computing `node` (with `group`, the elementwise nodes fused into it,
 * itself last) and the tensors it reads, in the order the kernel binds them.
 */
export function kernelOf(
  node: Tensor,
  group: readonly Tensor[],
): { kernel: Kernel; reads: readonly Tensor[] } {
  const spec = node.spec;
  const kind = opDefinition(node.op).kind;
  const conv = convolutionOf(node, group);
  if (conv !== null) return { kernel: { ...conv, kind: "conv" }, reads: externalInputs(group) };
  const pool = poolingOf(node, group);
  if (pool !== null) return { kernel: { ...pool, kind: "pool" }, reads: externalInputs(group) };
  if (kind === "elementwise") {
    const { program, reads } = fusedProgram(group);
    return { kernel: { kind, program, shape: node.shape, size: node.size }, reads };
  }
  switch (spec.op) {
    case "sum":
    case "max":
    case "argmax": {
      const [outer, length, inner] = reductionExtents(node.inputs[0], spec.axis);
      return { kernel: { kind: "reduce", op: spec.op, outer, length, inner }, reads: node.inputs };
    }
    case "matmul": {
      const [m, n] = node.shape;
      const { transposeA, transposeB } = spec;
      const k = transposeA ? node.inputs[0].shape[0] : node.inputs[0].shape[1];
      return { kernel: { kind: "matmul", m, n, k, transposeA, transposeB }, reads: node.inputs };
    }
    case "gather": {
      const rows = node.shape[0];
      const kernel: GatherKernel = {
        kind: "gather",
        rows,
        inner: node.size / rows,
        bound: node.inputs[0].shape[0],
      };
      return { kernel, reads: node.inputs };
    }
    case "segmentSum": {
      const x = node.inputs[0];
      const kernel: SegmentSumKernel = {
        kind: "segmentSum",
        rows: x.shape[0],
        inner: x.size / x.shape[0],
        segments: spec.numSegments,
      };
      return { kernel, reads: node.inputs };
    }
    case "oneHot":
      return {
        kernel: { kind: "oneHot", rows: node.shape[0], depth: spec.depth },
        reads: node.inputs,
      };
    case "patches": {
      const [n, , , c] = node.inputs[0].shape;
      return { kernel: { ...spec, kind: "patches", n, c }, reads: node.inputs };
    }
    case "unpatches": {
      const [n, , , c] = node.shape;
      return { kernel: { ...spec, kind: "unpatches", n, c }, reads: node.inputs };
    }
    case "argSmallestK":
    case "takeAlongRows": {
      const [rows, n] = node.inputs[0].shape;
      return { kernel: { kind: spec.op, rows, n, k: node.shape[1] }, reads: node.inputs };
    }
    default:
      throw new Error(`no kernel computes op "${node.op}" (${kind})`);
  }
}

/** Elements each input of a kernel covers (undefined: the whole buffer). */
export function inputSizes(kernel: Kernel): (number | undefined)[] {
  switch (kernel.kind) {
    case "elementwise":
      return [];
    case "reduce":
      return [kernel.outer * kernel.length * kernel.inner];
    case "matmul":
      return [kernel.m * kernel.k, kernel.k * kernel.n];
    case "gather":
      return [kernel.bound * kernel.inner, kernel.rows];
    case "segmentSum":
      return [kernel.rows * kernel.inner, kernel.rows];
    case "oneHot":
      return [kernel.rows];
    case "patches":
      return [imageSize(kernel)];
    case "unpatches":
      return [windowsSize(kernel)];
    case "argSmallestK":
      return [kernel.rows * kernel.n];
    case "takeAlongRows":
      return [kernel.rows * kernel.n, kernel.rows * kernel.k];
    case "conv": {
      const image = kernel.n * kernel.height * kernel.width * kernel.cin;
      const weights = kernel.kh * kernel.kw * kernel.cin * kernel.cout;
      const dy = kernel.n * kernel.outHeight * kernel.outWidth * kernel.cout;
      return kernel.mode === "forward"
        ? [image, weights]
        : kernel.mode === "data"
        ? [dy, weights]
        : [image, dy];
    }
    case "pool":
      return [kernel.n * kernel.height * kernel.width * kernel.c];
  }
}

/** Elements a kernel writes. */
export function outputSize(kernel: Kernel): number {
  switch (kernel.kind) {
    case "elementwise":
      return kernel.size;
    case "reduce":
      return kernel.outer * kernel.inner;
    case "matmul":
      return kernel.m * kernel.n;
    case "gather":
      return kernel.rows * kernel.inner;
    case "segmentSum":
      return kernel.segments * kernel.inner;
    case "oneHot":
      return kernel.rows * kernel.depth;
    case "patches":
      return windowsSize(kernel);
    case "unpatches":
      return imageSize(kernel);
    case "argSmallestK":
    case "takeAlongRows":
      return kernel.rows * kernel.k;
    case "conv":
      return kernel.mode === "forward"
        ? kernel.n * kernel.outHeight * kernel.outWidth * kernel.cout
        : kernel.mode === "data"
        ? kernel.n * kernel.height * kernel.width * kernel.cin
        : kernel.kh * kernel.kw * kernel.cin * kernel.cout;
    case "pool":
      return kernel.n * kernel.outHeight * kernel.outWidth * kernel.c;
  }
}

/**
 * A patch or pooling kernel's geometry as the words its kernels read, in one order for every
 * device: n, height, width, c, kh, kw, stride, padTop, padLeft, outHeight, outWidth.
 */
export function patchWords(
  k: PatchGeometry & { readonly n: number; readonly c: number },
): number[] {
  return [
    k.n,
    k.height,
    k.width,
    k.c,
    k.kh,
    k.kw,
    k.stride,
    k.padTop,
    k.padLeft,
    k.outHeight,
    k.outWidth,
  ];
}

/**
 * A short description of a kernel for profiles and messages: its kind and extents, so kernels of
 * one kind and size share a label (e.g. "matmul 2352x32x9 tA", "patches 48x28x28x1 3x3/1").
 */
export function kernelLabel(kernel: Kernel): string {
  switch (kernel.kind) {
    case "elementwise":
      return `elementwise [${kernel.shape.join("x")}] ${kernel.program.nodes.length} ops ` +
        `${kernel.program.inputs.map((x) => x.access[0]).join("")}`;
    case "reduce":
      return `${kernel.op} ${kernel.outer}x${kernel.length}x${kernel.inner}`;
    case "matmul":
      return `matmul ${kernel.m}x${kernel.n}x${kernel.k}` +
        `${kernel.transposeA ? " tA" : ""}${kernel.transposeB ? " tB" : ""}`;
    case "gather":
    case "segmentSum":
      return `${kernel.kind} ${kernel.rows}x${kernel.inner}`;
    case "oneHot":
      return `oneHot ${kernel.rows}x${kernel.depth}`;
    case "patches":
    case "unpatches":
      return `${kernel.kind} ${kernel.n}x${kernel.height}x${kernel.width}x${kernel.c} ` +
        `${kernel.kh}x${kernel.kw}/${kernel.stride}`;
    case "argSmallestK":
    case "takeAlongRows":
      return `${kernel.kind} ${kernel.rows}x${kernel.n} k ${kernel.k}`;
    case "conv":
      return `conv ${kernel.mode} ${kernel.n}x${kernel.height}x${kernel.width}x${kernel.cin}` +
        `->${kernel.cout} ${kernel.kh}x${kernel.kw}/${kernel.stride}`;
    case "pool":
      return `pool ${kernel.op} ${kernel.n}x${kernel.height}x${kernel.width}x${kernel.c} ` +
        `${kernel.kh}x${kernel.kw}/${kernel.stride}`;
  }
}

/** Values in the images of a patch kernel. */
export function imageSize(k: PatchKernel): number {
  return k.n * k.height * k.width * k.c;
}

/** Values in the window rows of a patch kernel. */
export function windowsSize(k: PatchKernel): number {
  return k.n * k.outHeight * k.outWidth * k.kh * k.kw * k.c;
}
