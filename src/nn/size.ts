/**
 * Size checks of an architecture, made on the shapes its variables will have (see
 * `modelVariableShapes`) before any value is allocated: every model kind, present and future, gets
 * them by listing its variables. A model file or a setting with absurd shapes is refused here, in
 * one sentence naming the layer, rather than as an allocation failure.
 */
import type { DeviceLimits } from "../backend/backend.ts";
import { formatBytes } from "../backend/capacity.ts";
import { MagnetInputError, TooLargeError } from "../errors.ts";
import { formatShape } from "../graph/tensor.ts";
import type { VariableShape } from "./model.ts";

/**
 * The most elements one weight matrix or activation may hold (2^28 float32 values, 1 GiB): far
 * beyond any model of this kind, and below what typed arrays and GPU buffers can allocate.
 */
export const MAX_TENSOR_ELEMENTS = 2 ** 28;

/**
 * How many float32 copies of each parameter a training step keeps on the device at most: the value,
 * its gradient and an optimizer's two moments (Adam's).
 */
const COPIES_IN_TRAINING = 4;

function elements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Throws a {@link MagnetInputError} for the first variable whose shape is not positive integers or
 * whose values would not fit one buffer ({@link MAX_TENSOR_ELEMENTS}), naming its layer.
 */
export function checkVariableShapes(shapes: readonly VariableShape[]): void {
  for (const v of shapes) {
    if (!v.shape.every((d) => Number.isSafeInteger(d) && d >= 1)) {
      throw new MagnetInputError(
        `${v.layer}: variable "${v.name}" has shape ${formatShape(v.shape)}, not positive integers`,
      );
    }
    const n = elements(v.shape);
    if (n > MAX_TENSOR_ELEMENTS) {
      throw new MagnetInputError(
        `${v.layer}: variable "${v.name}" ${formatShape(v.shape)} would hold ${
          n.toExponential(2)
        } values; at most ${MAX_TENSOR_ELEMENTS} fit in one buffer: make that layer smaller`,
      );
    }
  }
}

/**
 * Throws a {@link TooLargeError} when a model of these variables cannot train on a device of
 * `limits`: a variable beyond one buffer, or its parameters (with their gradients and optimizer
 * state) beyond the memory left. The compiled step checks its every tensor again (capacity.ts);
 * this check comes first, before the values are even made.
 */
export function checkModelFits(shapes: readonly VariableShape[], limits: DeviceLimits): void {
  checkVariableShapes(shapes);
  let total = 0;
  for (const v of shapes) {
    const bytes = 4 * elements(v.shape);
    if (bytes > limits.maxBufferBytes) {
      throw new TooLargeError(
        bytes,
        limits.maxBufferBytes,
        `${v.layer}: variable "${v.name}" ${formatShape(v.shape)} would take ${
          formatBytes(bytes)
        }, more than the largest buffer this device holds (${
          formatBytes(limits.maxBufferBytes)
        }): make that layer smaller`,
      );
    }
    total += bytes * (v.role === "parameter" ? COPIES_IN_TRAINING : 1);
  }
  if (total > limits.availableBytes) {
    throw new TooLargeError(
      total,
      limits.availableBytes,
      `the model's parameters, gradients and optimizer state would take ${
        formatBytes(total)
      }, more than the ${formatBytes(limits.availableBytes)} this device has left: use a ` +
        "smaller model",
    );
  }
}
