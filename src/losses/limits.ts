/**
 * The range of values the float32 losses can take as settings, checked in one place for the library
 * and the command line.
 */
import { MagnetInputError } from "../errors.ts";

/** The largest finite float32. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * The largest margin alpha accepted: the loss adds alpha to terms of order one, so a margin near
 * the float32 limit would overflow the loss while looking like a valid number.
 */
export const MAX_ALPHA = 1e30;

/** Throws a {@link MagnetInputError} unless `alpha` is a finite margin within ±{@link MAX_ALPHA}. */
export function checkAlpha(alpha: number, name = "alpha"): void {
  if (typeof alpha !== "number" || !Number.isFinite(alpha)) {
    throw new MagnetInputError(`${name} must be a finite number, got ${alpha}`);
  }
  if (Math.abs(alpha) > MAX_ALPHA) {
    throw new MagnetInputError(
      `${name} = ${alpha} is too large: the loss is computed in float32, and a margin beyond ` +
        `±${MAX_ALPHA} would overflow it`,
    );
  }
}
