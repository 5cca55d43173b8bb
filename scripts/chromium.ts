/**
 * Headless Chromium driven over the DevTools protocol, with nothing but Deno's WebSocket: launch the
 * system browser (`$CHROMIUM` or /usr/bin/chromium, no download), open pages, evaluate
 * expressions in them, collect every console message and uncaught exception (the page's and its
 * workers'), and take screenshots. Used by the browser tests and scripts/browser_speed.ts.
 *
 * WebGPU runs on SwiftShader (Chromium's software Vulkan), so the WGSL kernels meet Dawn, the
 * browser's WebGPU implementation, on any machine.
 */

/** The flags of every launch: headless, no sandbox (CI runs as root), WebGPU on SwiftShader. */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless=new",
  "--no-sandbox",
  "--enable-unsafe-webgpu",
  "--use-webgpu-adapter=swiftshader",
  "--enable-features=Vulkan",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--no-default-browser-check",
  "--disable-quic",
];

/** Where Chromium is: `$CHROMIUM`, else Debian's /usr/bin/chromium. */
export function chromiumPath(): string {
  return Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";
}

/** A console message or an uncaught exception, from the page or one of its workers. */
export interface ConsoleEntry {
  /** "log", "warning", "error", ... ; "exception" for an uncaught exception. */
  level: string;
  text: string;
  /** "page" or the worker's URL. */
  source: string;
}

interface Pending {
  resolve: (value: Record<string, unknown>) => void;
  reject: (error: Error) => void;
  method: string;
}

type Message = {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
  sessionId?: string;
};

/** One DevTools-protocol connection (the browser's), multiplexing its sessions. */
class Connection {
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, Pending>();
  #next = 1;
  #closed: Error | null = null;
  onEvent: (message: Message) => void = () => {};

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data as string) as Message;
      if (message.id !== undefined) {
        const pending = this.#pending.get(message.id);
        if (pending === undefined) return;
        this.#pending.delete(message.id);
        if (message.error) {
          pending.reject(new Error(`${pending.method}: ${message.error.message}`));
        } else pending.resolve(message.result ?? {});
      } else this.onEvent(message);
    };
    socket.onclose = () => {
      this.#closed = new Error("the DevTools connection to Chromium closed");
      for (const p of this.#pending.values()) p.reject(this.#closed);
      this.#pending.clear();
    };
  }

  static open(url: string): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      socket.onopen = () => resolve(new Connection(socket));
      socket.onerror = () => reject(new Error(`could not connect to Chromium at ${url}`));
    });
  }

  send(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<Record<string, unknown>> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#next++;
    const message: Message & { params: unknown } = { id, method, params };
    if (sessionId !== undefined) message.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, method });
      this.#socket.send(JSON.stringify(message));
    });
  }

  close(): void {
    this.#socket.close();
  }
}

/** Text of a console call's arguments, as the DevTools console prints them. */
function consoleText(args: { type: string; value?: unknown; description?: string }[]): string {
  return args.map((a) =>
    a.value !== undefined
      ? (typeof a.value === "string" ? a.value : JSON.stringify(a.value))
      : a.description ?? a.type
  ).join(" ");
}

/** A tab of the browser. */
export class Page {
  readonly #connection: Connection;
  readonly #session: string;
  /** Every console message and uncaught exception so far, the workers' included. */
  readonly console: ConsoleEntry[] = [];

  constructor(connection: Connection, session: string) {
    this.#connection = connection;
    this.#session = session;
  }

  /** Sends a DevTools command to this page. */
  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.#connection.send(method, params, this.#session);
  }

  /** Handles an event of this page's session or of one of its workers' sessions. */
  event(message: Message, source: string): void {
    const params = message.params ?? {};
    if (message.method === "Runtime.consoleAPICalled") {
      const args = params.args as { type: string; value?: unknown; description?: string }[];
      this.console.push({ level: String(params.type), text: consoleText(args), source });
    } else if (message.method === "Runtime.exceptionThrown") {
      const details = params.exceptionDetails as {
        text: string;
        exception?: { description?: string };
      };
      const text = details.exception?.description ?? details.text;
      this.console.push({ level: "exception", text, source });
    } else if (message.method === "Log.entryAdded") {
      const entry = params.entry as { level: string; text: string; url?: string };
      this.console.push({ level: entry.level, text: entry.text, source: entry.url ?? source });
    }
  }

  /** Goes to `url` and waits for its load event. */
  async goto(url: string, timeoutMs = 60_000): Promise<void> {
    const loaded = new Promise<void>((resolve) => this.#onLoad = resolve);
    await this.send("Page.navigate", { url });
    await withTimeout(loaded, timeoutMs, `loading ${url}`);
  }

  #onLoad: () => void = () => {};

  /** Called when the page's load event fires. */
  loaded(): void {
    this.#onLoad();
  }

  /**
   * Evaluates `expression` in the page (awaiting it when it is a promise) and returns its value,
   * which must be JSON-serialisable. An exception in the page rejects with its message and stack.
   */
  async evaluate<T>(expression: string, timeoutMs = 120_000): Promise<T> {
    const result = await withTimeout(
      this.send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true }),
      timeoutMs,
      `evaluating ${expression.slice(0, 80)}`,
    );
    const details = result.exceptionDetails as
      | { text: string; exception?: { description?: string } }
      | undefined;
    if (details) throw new Error(`in the page: ${details.exception?.description ?? details.text}`);
    return (result.result as { value: T }).value;
  }

  /** A PNG of the visible page. */
  async screenshot(): Promise<Uint8Array> {
    const { data } = await this.send("Page.captureScreenshot", { format: "png" });
    return Uint8Array.from(atob(data as string), (c) => c.charCodeAt(0));
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Chromium: ${what} took over ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Options of {@link launchChromium}. */
export interface LaunchOptions {
  /** Window size, "width,height" (default "1280,1000"). */
  windowSize?: string;
  /** More flags. */
  flags?: readonly string[];
}

/** A running headless Chromium. */
export class Chromium {
  readonly #process: Deno.ChildProcess;
  readonly #connection: Connection;
  readonly #profile: string;
  /** Pages by session id, and the worker sessions' pages. */
  readonly #pages = new Map<string, { page: Page; source: string }>();
  /** The last lines Chromium wrote to stderr, for error messages. */
  readonly stderr: string[] = [];

  private constructor(process: Deno.ChildProcess, connection: Connection, profile: string) {
    this.#process = process;
    this.#connection = connection;
    this.#profile = profile;
    connection.onEvent = (message) => this.#event(message);
  }

  #event(message: Message): void {
    if (message.method === "Target.attachedToTarget") {
      // A worker of a page (auto-attached): follow its console too.
      const params = message.params as {
        sessionId: string;
        targetInfo: { type: string; url: string };
      };
      const parent = message.sessionId === undefined
        ? undefined
        : this.#pages.get(message.sessionId);
      if (parent !== undefined) {
        this.#pages.set(params.sessionId, { page: parent.page, source: params.targetInfo.url });
        const session = params.sessionId;
        const send = (method: string, p: Record<string, unknown> = {}) =>
          this.#connection.send(method, p, session).catch(() => ({}));
        // Workers of workers (the CPU device's threads) are followed the same way.
        void send("Target.setAutoAttach", {
          autoAttach: true,
          waitForDebuggerOnStart: true,
          flatten: true,
        }).then(() => send("Runtime.enable")).then(() => send("Log.enable"))
          .then(() => send("Runtime.runIfWaitingForDebugger"));
      }
      return;
    }
    if (message.sessionId === undefined) return;
    const target = this.#pages.get(message.sessionId);
    if (target === undefined) return;
    if (message.method === "Page.loadEventFired") target.page.loaded();
    else target.page.event(message, target.source);
  }

  /**
   * Starts Chromium headless with {@link CHROMIUM_FLAGS} and a fresh profile.
   *
   * @throws {Error} when Chromium is missing (saying how to install it) or does not start
   */
  static async launch(options: LaunchOptions = {}): Promise<Chromium> {
    const path = chromiumPath();
    try {
      await Deno.stat(path);
    } catch {
      throw new Error(
        `Chromium not found at ${path}: install it (apt-get install -y chromium) or set CHROMIUM`,
      );
    }
    const profile = await Deno.makeTempDir({ prefix: "magnet-chromium-" });
    const process = new Deno.Command(path, {
      args: [
        ...CHROMIUM_FLAGS,
        ...(options.flags ?? []),
        `--user-data-dir=${profile}`,
        `--window-size=${options.windowSize ?? "1280,1000"}`,
        "--remote-debugging-port=0",
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const lines: string[] = [];
    try {
      const url = await withTimeout(devtoolsUrl(process, lines), 60_000, "starting");
      const connection = await Connection.open(url);
      const browser = new Chromium(process, connection, profile);
      browser.stderr.push(...lines);
      return browser;
    } catch (error) {
      try {
        process.kill("SIGKILL");
      } catch { /* already gone */ }
      await process.status;
      await Deno.remove(profile, { recursive: true }).catch(() => {});
      throw new Error(`${(error as Error).message}\n${lines.slice(-5).join("\n")}`);
    }
  }

  /** Opens a new tab (on about:blank), following its console and its workers' consoles. */
  async newPage(): Promise<Page> {
    const { targetId } = await this.#connection.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await this.#connection.send("Target.attachToTarget", {
      targetId,
      flatten: true,
    });
    const session = sessionId as string;
    const page = new Page(this.#connection, session);
    this.#pages.set(session, { page, source: "page" });
    await page.send("Page.enable");
    await page.send("Runtime.enable");
    await page.send("Log.enable");
    await page.send("Target.setAutoAttach", {
      autoAttach: true,
      waitForDebuggerOnStart: true,
      flatten: true,
    });
    return page;
  }

  /** Ends the browser and removes its profile. */
  async close(): Promise<void> {
    try {
      await this.#connection.send("Browser.close");
    } catch { /* closing anyway */ }
    this.#connection.close();
    const timer = setTimeout(() => {
      try {
        this.#process.kill("SIGKILL");
      } catch { /* gone */ }
    }, 5000);
    await this.#process.status;
    clearTimeout(timer);
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }
}

/** Reads Chromium's stderr up to its "DevTools listening on ws://..." line. */
async function devtoolsUrl(process: Deno.ChildProcess, lines: string[]): Promise<string> {
  const reader = process.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error("Chromium exited before it opened its DevTools port");
    buffer += value;
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      lines.push(line);
      const match = line.match(/DevTools listening on (ws:\/\/\S+)/);
      if (match) {
        // Keep draining stderr so Chromium never blocks on a full pipe.
        void (async () => {
          try {
            for (;;) {
              const { done } = await reader.read();
              if (done) break;
            }
          } catch { /* closed */ }
        })();
        return match[1];
      }
    }
  }
}
