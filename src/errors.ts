/**
 * Error types. Every error a user can cause by their input is a {@link MagnetInputError} with a message
 * that says what is wrong, where (file, row, column, op, cluster) and what was expected. An
 * {@link EnvironmentError} is the operating system's refusal (a full disk), a
 * {@link DivergenceError} a training run that left float32's range. Anything else escaping a command
 * is a bug of ours, reported as such (see `reportFailure` in the CLI).
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

/**
 * A graph, model or batch too large for the device: one tensor beyond the largest buffer it can
 * hold, or more memory than it has left. Refused before anything is allocated, so the backend keeps
 * working for smaller graphs. The message names the layer and the size, and what to make smaller.
 */
export class TooLargeError extends MagnetInputError {
  /** Creates the error; `needed` and `limit` are in bytes. */
  constructor(readonly needed: number, readonly limit: number, message: string) {
    super(message);
    this.name = "TooLargeError";
  }
}

/**
 * The operating system refused an operation on a file (disk full, read-only file system,
 * permission denied, ...): neither the user's input nor a bug of ours. The message names the file
 * and the cause; `code` is the system's (ENOSPC, EROFS, EACCES, ...).
 */
export class EnvironmentError extends Error {
  /** Creates the error for the system error `code`. */
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = "EnvironmentError";
  }
}

/** What went wrong when a training run diverged. */
export type DivergenceReason = "loss" | "embeddings" | "variance" | "update";

/**
 * A training run diverged: its loss, its embeddings, its batch variance or its update left the
 * range float32 can carry on with. The step that did so was not applied, so the last good state is
 * kept (and can be captured); the message says what happened and what to change.
 */
export class DivergenceError extends Error {
  /** Creates the error for the step after `iteration` good steps. */
  constructor(
    readonly iteration: number,
    readonly reason: DivergenceReason,
    message: string,
  ) {
    super(message);
    this.name = "DivergenceError";
  }
}

/**
 * The former name of {@link DivergenceError}, when only a non-finite loss was detected.
 *
 * @deprecated Use {@link DivergenceError}.
 */
export const NonFiniteLossError = DivergenceError;
/**
 * The former name of {@link DivergenceError}.
 *
 * @deprecated Use {@link DivergenceError}.
 */
export type NonFiniteLossError = DivergenceError;

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
