/**
 * Error types. Every error a user can cause by their input is a {@link MagnetInputError} with a message
 * that says what is wrong, where (file, row, column, op, cluster) and what was expected. Anything
 * else escaping a command is a bug of ours, reported as such (see `reportFailure` in the CLI).
 */

/** A user mistake: bad data, bad options, an impossible request. The message is meant for people. */
export class MagnetInputError extends Error {
  /** Creates an error whose message is shown to the user as it is. */
  constructor(message: string) {
    super(message);
    this.name = "MagnetInputError";
  }
}

/**
 * A shape or dtype mismatch found while building a graph; the message names the op and the shapes.
 * It is the mistake of whoever built the graph: a library user's own graph, or, when it escapes a
 * command, a bug of the command's (so it is not a {@link MagnetInputError}).
 */
export class ShapeError extends Error {
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

/**
 * Long work (embedding, clustering, an evaluation) stopped because its abort signal fired: not a
 * failure, the caller asked for it. The trainer turns it into an interrupted run.
 */
export class AbortedError extends Error {
  /** Creates the error; `what` names the work that stopped. */
  constructor(what = "the work") {
    super(`${what} was stopped by its abort signal`);
    this.name = "AbortedError";
  }
}
