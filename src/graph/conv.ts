/**
 * Convolution, pooling and normalisation, composed from the primitive ops: images are channels
 * last, [N, H, W, C]. Channels last makes a window of pixels one contiguous row (each pixel's C
 * values side by side), so a convolution is the window rows (`patches`) times the kernel as a
 * [kh * kw * Cin, Cout] matrix, and the product comes out as [N * H' * W', Cout], already the
 * output image: no transposition anywhere, forward or backward. Gradients come from the ops.
 */
import { ShapeError } from "../errors.ts";
import {
  add,
  div,
  matmul,
  max,
  mul,
  type Padding,
  patches,
  patchGeometry,
  reshape,
  sqrt,
  square,
  sub,
  sum,
} from "./ops.ts";
import { mean } from "./functions.ts";
import { formatShape, type Tensor } from "./tensor.ts";

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  /** Step between windows. Default 1. */
  readonly stride?: number;
  /** Default "same". */
  readonly padding?: Padding;
}

function checkImage(op: string, x: Tensor): [number, number, number, number] {
  if (x.rank !== 4 || x.dtype !== "float") {
    throw new ShapeError(op, `expects a float image batch [N, H, W, C], got ${x}`);
  }
  return x.shape as [number, number, number, number];
}

/**
 * 2-D convolution (cross-correlation, as every framework computes it) of `x` [N, H, W, Cin] with
 * `kernel` [kh, kw, Cin, Cout], plus `bias` [Cout] when given: [N, H', W', Cout].
 */
export function conv2d(
  x: Tensor,
  kernel: Tensor,
  bias: Tensor | null,
  options: Conv2dOptions = {},
): Tensor {
  const [n, h, w, cin] = checkImage("conv2d", x);
  if (kernel.rank !== 4 || kernel.shape[2] !== cin) {
    throw new ShapeError(
      "conv2d",
      `expects a kernel [kh, kw, ${cin}, Cout] for ${cin} input channels, got ${
        formatShape(kernel.shape)
      }`,
    );
  }
  const [kh, kw, , cout] = kernel.shape;
  if (bias !== null && bias.size !== cout) {
    throw new ShapeError("conv2d", `expects a bias of ${cout} values, got ${bias}`);
  }
  const g = patchGeometry(h, w, kh, kw, options.stride ?? 1, options.padding ?? "same");
  let y = matmul(patches(x, g), reshape(kernel, [kh * kw * cin, cout]));
  if (bias !== null) y = add(y, reshape(bias, [1, cout]));
  return reshape(y, [n, g.outHeight, g.outWidth, cout]);
}

/** Each window's values per channel as [N * H' * W', size * size, C], for pooling. */
function windows(op: string, x: Tensor, size: number, stride: number) {
  const [n, h, w, c] = checkImage(op, x);
  const g = patchGeometry(h, w, size, size, stride, "valid");
  const rows = reshape(patches(x, g), [n * g.outHeight * g.outWidth, size * size, c]);
  return { rows, shape: [n, g.outHeight, g.outWidth, c] };
}

/** The maximum of each size x size window, every `stride` pixels (default: size), per channel. */
export function maxPool2d(x: Tensor, size: number, stride: number = size): Tensor {
  const { rows, shape } = windows("maxPool2d", x, size, stride);
  return reshape(max(rows, 1), shape);
}

/** The mean of each size x size window, every `stride` pixels (default: size), per channel. */
export function avgPool2d(x: Tensor, size: number, stride: number = size): Tensor {
  const { rows, shape } = windows("avgPool2d", x, size, stride);
  return reshape(mean(rows, 1), shape);
}

/** The mean of each image's pixels per channel: [N, H, W, C] to [N, C]. */
export function globalAvgPool(x: Tensor): Tensor {
  const [n, h, w, c] = checkImage("globalAvgPool", x);
  return mean(reshape(x, [n, h * w, c]), 1);
}

/** The mean and the (biased) variance of the rows of `x` [rows, C], per column, as [1, C]. */
export function columnMoments(x: Tensor): { mean: Tensor; variance: Tensor } {
  const rows = x.shape[0];
  const m = div(sum(x, 0, true), rows);
  const variance = div(sum(square(sub(x, m)), 0, true), rows);
  return { mean: m, variance };
}

/**
 * `x` [rows, C] normalised per column with `moments` and scaled and shifted by `gamma` and
 * `beta` [C]: (x - mean) / sqrt(variance + epsilon) * gamma + beta.
 */
export function normalize(
  x: Tensor,
  moments: { mean: Tensor; variance: Tensor },
  gamma: Tensor,
  beta: Tensor,
  epsilon = 1e-5,
): Tensor {
  const c = x.shape[x.rank - 1];
  const scale = div(reshape(gamma, [1, c]), sqrt(add(moments.variance, epsilon)));
  return add(mul(sub(x, moments.mean), scale), reshape(beta, [1, c]));
}
