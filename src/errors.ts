/**
 * Error types. Every error a user can cause by their input is a {@link MagnetInputError} with a message
 * that says what is wrong, where (file, row, column, op, cluster) and what was expected.
 */

/** A user mistake: bad data, bad options, an impossible request. The message is meant for people. */
export class MagnetInputError extends Error {
  /** Creates an error whose message is shown to the user as it is. */
  constructor(message: string) {
    super(message);
    this.name = "MagnetInputError";
  }
}

/** A shape or dtype mismatch found while building a graph. The message names the op and the shapes. */
export class ShapeError extends MagnetInputError {
  /** Creates a shape error for `op` with a message that already names the shapes involved. */
  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
    this.name = "ShapeError";
  }
}

/** The requested backend cannot run here (no WebGPU adapter, say). */
export class BackendUnavailableError extends Error {
  /** Creates the error with a message that says how to fall back. */
  constructor(message: string) {
    super(message);
    this.name = "BackendUnavailableError";
  }
}

/** Training produced a non-finite loss; the last good state is kept. */
export class NonFiniteLossError extends Error {
  /** Creates the error for the iteration where the loss stopped being finite. */
  constructor(readonly iteration: number, message: string) {
    super(message);
    this.name = "NonFiniteLossError";
  }
}
