/**
 * Convolution and pooling with every setting the exchange formats carry: a stride per axis, pads
 * on each side (asymmetric too), dilation, groups (depthwise included), ceil mode, and averages
 * that count the padding or not. Composed from the primitive ops, channels last, like conv.ts:
 *
 * - windows are the `patches` op's, whose geometry already has separate top/left pads and an
 *   output grid that may run past the image (the pixels there read as zeros);
 * - strides that differ between the axes take stride-1 windows and keep every stride-th row;
 * - dilation widens the window to its extent: a convolution then multiplies by the kernel with
 *   zeros between its taps (a constant 0/1 matrix times the kernel, so its gradient flows), a pool
 *   masks the holes out;
 * - a depthwise convolution multiplies each window by its channel's kernel and sums over the
 *   window; other groups multiply by a block-diagonal kernel (one product, zeros outside the
 *   groups' blocks), built from the kernel with a constant identity;
 * - pools read only real pixels: a max pool replaces padding by the lowest float, an average pool
 *   weights each window's entries by a constant (1 / its divisor, 0 in the padding).
 *
 * The constants depend only on the geometry, so every backend and the gradient checker see the
 * same graph.
 */
import { ShapeError } from "../errors.ts";
import { add, gather, matmul, max, mul, patches, reshape, sum, transpose, where } from "./ops.ts";
import { formatShape, type Graph, type PatchGeometry, type Tensor } from "./tensor.ts";

/** Where windows lie on an image, per axis as [height, width]. */
export interface WindowOptions {
  /** Pixels between windows. Default [1, 1]. */
  readonly strides?: readonly [number, number];
  /** Zero rows and columns added: [top, left, bottom, right]. Default none. */
  readonly pads?: readonly [number, number, number, number];
  /** Distance between a window's taps. Default [1, 1]. */
  readonly dilations?: readonly [number, number];
  /** Round the number of windows up (the last may overhang the padding). Default false. */
  readonly ceilMode?: boolean;
}

/** Options of {@link convolution}. */
export interface ConvolutionOptions extends WindowOptions {
  /** Input and output channels split into this many independent groups. Default 1. */
  readonly groups?: number;
}

/** Options of {@link avgPool}. */
export interface AvgPoolOptions extends WindowOptions {
  /** Whether the padding counts in each window's divisor. Default false. */
  readonly countIncludePad?: boolean;
}

/** The lowest finite float32: what max pooling reads in the padding. */
const LOWEST = -3.4028234663852886e38;

/** Every quantity of a window layout, worked out once. */
interface Layout {
  readonly n: number;
  readonly height: number;
  readonly width: number;
  readonly c: number;
  readonly kh: number;
  readonly kw: number;
  readonly strides: readonly [number, number];
  readonly pads: readonly [number, number, number, number];
  readonly dilations: readonly [number, number];
  /** Extent of a window with its holes: (k - 1) * dilation + 1. */
  readonly eh: number;
  readonly ew: number;
  readonly outHeight: number;
  readonly outWidth: number;
}

function checkImage(op: string, x: Tensor): [number, number, number, number] {
  if (x.rank !== 4 || x.dtype !== "float") {
    throw new ShapeError(op, `expects a float image batch [N, H, W, C], got ${x}`);
  }
  return x.shape as [number, number, number, number];
}

function positive(op: string, what: string, values: readonly number[], min = 1): void {
  if (values.some((v) => !Number.isInteger(v) || v < min)) {
    throw new ShapeError(op, `${what} must be integers >= ${min}, got [${values}]`);
  }
}

/** The number of windows along one axis (ONNX's and PyTorch's rule, ceil mode included). */
function windowCount(
  size: number,
  before: number,
  after: number,
  extent: number,
  stride: number,
  ceilMode: boolean,
): number {
  const span = size + before + after - extent;
  if (span < 0) return 0;
  let count = (ceilMode ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  // A last window that would start in the trailing padding is dropped.
  if (ceilMode && (count - 1) * stride >= size + before) count--;
  return count;
}

/** The layout of kh x kw windows over `x` with `options`; throws when no window fits. */
export function windowLayout(
  op: string,
  x: Tensor,
  kh: number,
  kw: number,
  options: WindowOptions,
): Layout {
  const [n, height, width, c] = checkImage(op, x);
  const strides = options.strides ?? [1, 1];
  const pads = options.pads ?? [0, 0, 0, 0];
  const dilations = options.dilations ?? [1, 1];
  positive(op, "kernel sizes", [kh, kw]);
  positive(op, "strides", strides);
  positive(op, "dilations", dilations);
  positive(op, "pads", pads, 0);
  const eh = (kh - 1) * dilations[0] + 1, ew = (kw - 1) * dilations[1] + 1;
  const ceil = options.ceilMode ?? false;
  const outHeight = windowCount(height, pads[0], pads[2], eh, strides[0], ceil);
  const outWidth = windowCount(width, pads[1], pads[3], ew, strides[1], ceil);
  if (outHeight < 1 || outWidth < 1) {
    throw new ShapeError(
      op,
      `a ${kh}x${kw} window (extent ${eh}x${ew}) does not fit a ${height}x${width} image padded ` +
        `by [${pads}]`,
    );
  }
  return { n, height, width, c, kh, kw, strides, pads, dilations, eh, ew, outHeight, outWidth };
}

/**
 * Each window of the layout (its full extent, holes included) as rows [N * outHeight * outWidth,
 * eh * ew * C], rows in (n, oy, ox) order.
 */
function windowRows(x: Tensor, l: Layout): Tensor {
  const [sh, sw] = l.strides;
  const same = sh === sw;
  // With unequal strides: stride-1 windows, then every stride-th row and column of them.
  const rowsH = same ? l.outHeight : (l.outHeight - 1) * sh + 1;
  const rowsW = same ? l.outWidth : (l.outWidth - 1) * sw + 1;
  const geometry: PatchGeometry = {
    height: l.height,
    width: l.width,
    kh: l.eh,
    kw: l.ew,
    stride: same ? sh : 1,
    padTop: l.pads[0],
    padLeft: l.pads[1],
    outHeight: rowsH,
    outWidth: rowsW,
  };
  const rows = patches(x, geometry);
  if (same) return rows;
  const picked: number[] = [];
  for (let img = 0; img < l.n; img++) {
    for (let oy = 0; oy < l.outHeight; oy++) {
      for (let ox = 0; ox < l.outWidth; ox++) {
        picked.push((img * rowsH + oy * sh) * rowsW + ox * sw);
      }
    }
  }
  return gather(rows, x.graph.constant(picked, [picked.length], "int32"));
}

/** A constant [eh * ew, kh * kw] placing each kernel tap at its dilated position. */
function dilationMatrix(g: Graph, l: Layout): Tensor {
  const data = new Float64Array(l.eh * l.ew * l.kh * l.kw);
  for (let i = 0; i < l.kh; i++) {
    for (let j = 0; j < l.kw; j++) {
      const row = i * l.dilations[0] * l.ew + j * l.dilations[1];
      data[row * l.kh * l.kw + i * l.kw + j] = 1;
    }
  }
  return g.constant(data, [l.eh * l.ew, l.kh * l.kw]);
}

/**
 * 2-D convolution (cross-correlation) of `x` [N, H, W, Cin] with `kernel` [kh, kw, Cin / groups,
 * Cout] plus `bias` [Cout] when given: [N, H', W', Cout]. Output channel o belongs to group
 * floor(o / (Cout / groups)), as in ONNX and PyTorch.
 */
export function convolution(
  x: Tensor,
  kernel: Tensor,
  bias: Tensor | null,
  options: ConvolutionOptions = {},
): Tensor {
  const [, , , cin] = checkImage("convolution", x);
  const groups = options.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1 || cin % groups !== 0) {
    throw new ShapeError("convolution", `${cin} input channels do not split into ${groups} groups`);
  }
  const cg = cin / groups;
  if (kernel.rank !== 4 || kernel.shape[2] !== cg || kernel.shape[3] % groups !== 0) {
    throw new ShapeError(
      "convolution",
      `expects a kernel [kh, kw, ${cg}, Cout] with Cout a multiple of ${groups} groups, got ${
        formatShape(kernel.shape)
      }`,
    );
  }
  const [kh, kw, , cout] = kernel.shape;
  if (bias !== null && bias.size !== cout) {
    throw new ShapeError("convolution", `expects a bias of ${cout} values, got ${bias}`);
  }
  const l = windowLayout("convolution", x, kh, kw, options);
  const g = x.graph;
  const taps = l.eh * l.ew;
  // The kernel over the window's whole extent, zeros in the dilation's holes.
  let k = reshape(kernel, [kh * kw, cg * cout]);
  if (taps !== kh * kw) k = matmul(dilationMatrix(g, l), k);
  const rows = l.eh === 1 && l.ew === 1 && l.strides[0] === 1 && l.strides[1] === 1 &&
      l.pads.every((p) => p === 0)
    ? reshape(x, [l.n * l.height * l.width, cin]) // a 1x1 convolution reads pixels as they are
    : windowRows(x, l);
  const positions = rows.shape[0];
  let y: Tensor;
  if (groups === 1) {
    y = matmul(rows, reshape(k, [taps * cin, cout]));
  } else if (cg === 1) {
    // Depthwise: each channel's window times its own kernel (times `multiplier` outputs each).
    const multiplier = cout / cin;
    const product = mul(
      reshape(rows, [positions, taps, cin, 1]),
      reshape(k, [1, taps, cin, multiplier]),
    );
    y = reshape(sum(product, 1), [positions, cout]);
  } else {
    y = matmul(rows, blockDiagonal(k, taps, groups, cg, cout / groups));
  }
  if (bias !== null) y = add(y, reshape(bias, [1, cout]));
  return reshape(y, [l.n, l.outHeight, l.outWidth, cout]);
}

/**
 * The [taps * Cin, Cout] matrix of a grouped kernel `k` [taps, cg * Cout] (rows (tap, channel of
 * the group), columns the output channels): group g's block holds its kernel, the rest zeros.
 */
function blockDiagonal(k: Tensor, taps: number, groups: number, cg: number, og: number): Tensor {
  // [taps, cg, groups, og] -> [groups, taps * cg, 1, og], times the identity [groups, 1, groups, 1].
  const byGroup = reshape(
    transpose(reshape(k, [taps, cg, groups, og]), [2, 0, 1, 3]),
    [groups, taps * cg, 1, og],
  );
  const identity = new Float64Array(groups * groups);
  for (let i = 0; i < groups; i++) identity[i * groups + i] = 1;
  const blocks = mul(byGroup, k.graph.constant(identity, [groups, 1, groups, 1]));
  // [groups, taps, cg, groups * og] -> [taps, groups, cg, groups * og]: rows in the windows' order.
  const rows = transpose(reshape(blocks, [groups, taps, cg, groups * og]), [1, 0, 2, 3]);
  return reshape(rows, [taps * groups * cg, groups * og]);
}

/**
 * For each window position and tap of the extent: whether it reads a real tap (not a dilation
 * hole) inside the image, and inside the image or its explicit padding.
 */
function tapMasks(l: Layout): { inside: Float64Array; padded: Float64Array } {
  const taps = l.eh * l.ew;
  const inside = new Float64Array(l.outHeight * l.outWidth * taps);
  const padded = new Float64Array(inside.length);
  for (let oy = 0; oy < l.outHeight; oy++) {
    for (let ox = 0; ox < l.outWidth; ox++) {
      const base = (oy * l.outWidth + ox) * taps;
      for (let dy = 0; dy < l.eh; dy += l.dilations[0]) {
        const y = oy * l.strides[0] + dy - l.pads[0];
        for (let dx = 0; dx < l.ew; dx += l.dilations[1]) {
          const x = ox * l.strides[1] + dx - l.pads[1];
          const at = base + dy * l.ew + dx;
          if (y >= 0 && y < l.height && x >= 0 && x < l.width) inside[at] = 1;
          if (
            y >= -l.pads[0] && y < l.height + l.pads[2] && x >= -l.pads[1] &&
            x < l.width + l.pads[3]
          ) {
            padded[at] = 1;
          }
        }
      }
    }
  }
  return { inside, padded };
}

/** Windows as [N, positions, taps, C] and the layout. */
function poolWindows(op: string, x: Tensor, kh: number, kw: number, options: WindowOptions) {
  const l = windowLayout(op, x, kh, kw, options);
  const positions = l.outHeight * l.outWidth;
  const rows = reshape(windowRows(x, l), [l.n, positions, l.eh * l.ew, l.c]);
  return { l, rows, positions };
}

/** The maximum of each kh x kw window per channel, over real pixels only: [N, H', W', C]. */
export function maxPool(x: Tensor, kh: number, kw: number, options: WindowOptions = {}): Tensor {
  const { l, rows, positions } = poolWindows("maxPool", x, kh, kw, options);
  const { inside } = tapMasks(l);
  const values = inside.every((v) => v === 1)
    ? rows
    : where(x.graph.constant(inside, [1, positions, l.eh * l.ew, 1]), rows, LOWEST);
  return reshape(max(values, 2), [l.n, l.outHeight, l.outWidth, l.c]);
}

/**
 * The mean of each kh x kw window per channel: [N, H', W', C]. The divisor counts the window's
 * taps inside the image, or, with `countIncludePad`, inside the image and its explicit padding
 * (not the overhang of ceil mode), as ONNX and PyTorch define it.
 */
export function avgPool(x: Tensor, kh: number, kw: number, options: AvgPoolOptions = {}): Tensor {
  const { l, rows, positions } = poolWindows("avgPool", x, kh, kw, options);
  const taps = l.eh * l.ew;
  const { inside, padded } = tapMasks(l);
  const counted = options.countIncludePad ? padded : inside;
  const weights = new Float64Array(inside.length);
  for (let p = 0; p < positions; p++) {
    let count = 0;
    for (let t = 0; t < taps; t++) count += counted[p * taps + t];
    // A window wholly in the padding (pads wider than the kernel) averages nothing: 0.
    for (let t = 0; t < taps; t++) weights[p * taps + t] = count && inside[p * taps + t] / count;
  }
  const uniform = weights.every((w) => w === weights[0]);
  const weighted = uniform
    ? mul(rows, weights[0])
    : mul(rows, x.graph.constant(weights, [1, positions, taps, 1]));
  return reshape(sum(weighted, 2), [l.n, l.outHeight, l.outWidth, l.c]);
}
