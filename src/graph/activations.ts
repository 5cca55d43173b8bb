/**
 * Piecewise activations of mobile networks, composed from the primitive ops (their gradients come
 * from `maximum` and `minimum`): clipping, the hard sigmoid and the hard swish.
 */
import { add, maximum, minimum, mul } from "./ops.ts";
import type { Tensor } from "./tensor.ts";

/** `x` limited to [low, high] (either bound may be omitted with ±Infinity). */
export function clip(x: Tensor, low = -Infinity, high = Infinity): Tensor {
  let y = x;
  if (low > -Infinity) y = maximum(y, low);
  if (high < Infinity) y = minimum(y, high);
  return y;
}

/** max(0, min(1, alpha x + beta)); ONNX's defaults alpha = 0.2, beta = 0.5. */
export function hardSigmoid(x: Tensor, alpha = 0.2, beta = 0.5): Tensor {
  return clip(add(mul(x, alpha), beta), 0, 1);
}

/** x * max(0, min(1, x / 6 + 1 / 2)): MobileNetV3's activation. */
export function hardSwish(x: Tensor): Tensor {
  return mul(x, hardSigmoid(x, 1 / 6, 0.5));
}
