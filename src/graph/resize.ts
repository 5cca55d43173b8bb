/**
 * Images resized to another size: each axis by a constant interpolation matrix (a triangle filter,
 * as bilinear resizing with antialiasing: plain bilinear with half-pixel centres when enlarging,
 * an average over the covered pixels when shrinking), applied as two matrix products. Linear in
 * the pixels, so gradients flow through it like any product.
 */
import { ShapeError } from "../errors.ts";
import { matmul, reshape, transpose } from "./ops.ts";
import type { Tensor } from "./tensor.ts";

/**
 * The [outSize, inSize] matrix of the resize along one axis: row i holds the weights of the input
 * pixels for output pixel i (each row sums to 1).
 */
export function resizeMatrix(inSize: number, outSize: number): Float64Array {
  const m = new Float64Array(outSize * inSize);
  const scale = inSize / outSize;
  const support = Math.max(scale, 1);
  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale;
    let total = 0;
    const from = Math.max(0, Math.floor(centre - support));
    const to = Math.min(inSize - 1, Math.ceil(centre + support));
    for (let j = from; j <= to; j++) {
      const w = Math.max(0, 1 - Math.abs((j + 0.5 - centre) / support));
      m[i * inSize + j] = w;
      total += w;
    }
    for (let j = from; j <= to; j++) m[i * inSize + j] /= total;
  }
  return m;
}

/** `x` [N, H, W, C] resized to [N, height, width, C]. */
export function resizeImages(x: Tensor, height: number, width: number): Tensor {
  if (x.rank !== 4 || x.dtype !== "float") {
    throw new ShapeError("resizeImages", `expects a float image batch [N, H, W, C], got ${x}`);
  }
  if (![height, width].every((v) => Number.isInteger(v) && v >= 1)) {
    throw new ShapeError("resizeImages", `sizes must be positive integers, got ${height}x${width}`);
  }
  const [n, h, w, c] = x.shape;
  if (h === height && w === width) return x;
  const g = x.graph;
  let y = x;
  if (h !== height) {
    // [H, N * W * C], rows mixed by the [height, H] matrix.
    const rows = reshape(transpose(y, [1, 0, 2, 3]), [h, n * w * c]);
    const mixed = matmul(g.constant(resizeMatrix(h, height), [height, h]), rows);
    y = transpose(reshape(mixed, [height, n, w, c]), [1, 0, 2, 3]);
  }
  if (w !== width) {
    const cols = reshape(transpose(y, [2, 0, 1, 3]), [w, n * height * c]);
    const mixed = matmul(g.constant(resizeMatrix(w, width), [width, w]), cols);
    y = transpose(reshape(mixed, [width, n, height, c]), [1, 2, 0, 3]);
  }
  return y;
}
