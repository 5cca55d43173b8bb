/** How a command's failure reaches the person who ran it: one line, and the right exit code. */
import {
  BackendUnavailableError,
  DivergenceError,
  EnvironmentError,
  MagnetInputError,
} from "../errors.ts";

/**
 * Prints a command's failure and returns its exit code: 2 and one line for a user's mistake (bad
 * input, flags, or no WebGPU where it was asked for); 1 and one line for the operating system's
 * refusal (a full disk, a read-only folder) and for a training run that diverged; 1 for anything
 * else, which is a bug of ours: its message, a request to report it, and its stack when
 * MAGNET_DEBUG=1 is set.
 */
export function reportFailure(error: unknown): number {
  if (error instanceof MagnetInputError || error instanceof BackendUnavailableError) {
    console.error(`error: ${error.message}`);
    return 2;
  }
  if (error instanceof EnvironmentError || error instanceof DivergenceError) {
    console.error(`error: ${error.message}`);
    return 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  console.error(
    `internal error: ${message}\nThis is a bug in magnet: please report it with the command ` +
      "you ran (set MAGNET_DEBUG=1 to print where it happened).",
  );
  if (Deno.env.get("MAGNET_DEBUG")) console.error(error instanceof Error ? error.stack : error);
  return 1;
}
