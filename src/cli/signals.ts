/**
 * Stopping a command cleanly on SIGINT (Ctrl-C) and SIGTERM (what `timeout`, containers and
 * schedulers send): the first signal asks the work to stop at its next safe point; later ones only
 * say that the save is under way, so a signal can never cut a write short. The listeners stay
 * installed until the command has written everything.
 */

/** The signals a command handles, with the exit code a process ended by each conventionally has. */
const SIGNALS = [["SIGINT", 130], ["SIGTERM", 143]] as const;

/** Signal listeners for the lifetime of a command. */
export class StopSignals {
  readonly #controller = new AbortController();
  readonly #listeners: [Deno.Signal, () => void][] = [];
  #received: (typeof SIGNALS)[number] | null = null;

  /**
   * Installs the listeners; `onFirst` is told when the first signal comes (to say the command is
   * stopping), `onRepeat` when a signal comes while stopping.
   */
  constructor(
    onRepeat: (signal: string) => void = () => {},
    onFirst: (signal: string) => void = () => {},
  ) {
    for (const entry of SIGNALS) {
      const listener = () => {
        if (this.#received !== null) {
          onRepeat(entry[0]);
          return;
        }
        this.#received = entry;
        this.#controller.abort();
        onFirst(entry[0]);
      };
      try {
        Deno.addSignalListener(entry[0], listener);
        this.#listeners.push([entry[0], listener]);
      } catch {
        // A platform without this signal (SIGTERM on Windows) cannot send it either.
      }
    }
  }

  /** Aborted on the first signal. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The first signal's name, or null. */
  get received(): string | null {
    return this.#received?.[0] ?? null;
  }

  /** The exit code for a process stopped by the first signal (130 for SIGINT, 143 for SIGTERM). */
  get exitCode(): number {
    return this.#received?.[1] ?? 0;
  }

  /** Removes the listeners: from now on a signal ends the process as it normally would. */
  dispose(): void {
    for (const [name, listener] of this.#listeners) Deno.removeSignalListener(name, listener);
    this.#listeners.length = 0;
  }
}
