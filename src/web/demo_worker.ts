/**
 * The demo's training worker: the page starts it (a module worker) and sends it a
 * {@link DemoRequest}; it fetches the digits, opens the chosen backend and runs the demo's training
 * (demo_training.ts), sending its messages back. The training runs here, off the page's thread, so
 * the page stays responsive; the page ends a run by terminating the worker.
 */
import { createBackend } from "../backend/create.ts";
import { decodeDigits } from "./digits.ts";
import { demoBackendOptions, type DemoMessage, type DemoRequest } from "./demo_run.ts";
import { trainDemo } from "./demo_training.ts";

/** The worker's global scope, as far as this module uses it. */
const scope = globalThis as unknown as {
  onmessage: ((event: MessageEvent<DemoRequest>) => void) | null;
  postMessage(message: DemoMessage, transfer?: Transferable[]): void;
  location: { href: string };
};

async function run(request: DemoRequest): Promise<void> {
  const response = await fetch(new URL("digits.bin", scope.location.href));
  if (!response.ok) throw new Error(`could not fetch the digits: HTTP ${response.status}`);
  const digits = decodeDigits(new Uint8Array(await response.arrayBuffer()));
  const backend = await createBackend(demoBackendOptions(request.backend));
  try {
    await trainDemo(
      backend,
      digits,
      request.iterations,
      (message, transfer) => scope.postMessage(message, transfer ?? []),
    );
  } finally {
    backend.dispose();
  }
}

scope.onmessage = (event) => {
  run(event.data).catch((error) => {
    scope.postMessage({
      kind: "error",
      message: error instanceof Error ? error.message : String(error),
    });
  });
};
