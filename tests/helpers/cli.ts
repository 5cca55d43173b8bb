/** Running the commands as a person does, and what their failures must look like. */
import assert from "node:assert/strict";
import { Random } from "../../src/util/random.ts";

export const ROOT = new URL("../../", import.meta.url).pathname;

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  /** Seconds from the first signal sent to the process's end (when signals were sent). */
  afterSignal?: number;
  /**
   * CPU seconds the process used from the first signal to its end, on Linux (null elsewhere): the
   * work it did to stop, which a loaded machine does not stretch as it does wall time.
   */
  cpuAfterSignal?: number | null;
}

/** CPU seconds a process has used so far (user and system, all threads), or null off Linux. */
function cpuSeconds(pid: number): number | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The fields after the command name (in brackets, which may hold spaces): utime and stime are
    // the 12th and 13th of them, in clock ticks of 1/100 s.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

export interface CliOptions {
  /** Send these signals once stdout matches `after` (the second one 100 ms after the first). */
  signals?: Deno.Signal[];
  after?: RegExp;
  /** Extra environment (INIT_CWD, say). */
  env?: Record<string, string>;
  /** A module run before the command (`deno run --preload`), to inject a failure. */
  preload?: string;
  /** Variables of this process's environment the command must not inherit. */
  unset?: string[];
}

/** This process's environment less `names`. */
function withoutVariables(names: string[]): Record<string, string> {
  const env = Deno.env.toObject();
  for (const name of names) delete env[name];
  return env;
}

export async function cli(
  script: "train" | "embed" | "experiment" | "export" | "index" | "search",
  args: string[],
  options: CliOptions = {},
): Promise<Outcome> {
  const command = new Deno.Command(Deno.execPath(), {
    // As deno.json's tasks run them: the commands that may load a package kept out of the lockfile
    // (sharp for image files, LanceDB) run without it (see deno.json).
    args: [
      "run",
      "-A",
      ...(script === "experiment" ? [] : ["--no-lock"]),
      ...(options.preload ? ["--preload", options.preload] : []),
      `${ROOT}src/cli/${script}.ts`,
      ...args,
    ],
    cwd: ROOT,
    env: {
      ...(options.unset === undefined ? {} : withoutVariables(options.unset)),
      NO_COLOR: "1",
      RUST_BACKTRACE: "0",
      ...options.env,
    },
    clearEnv: options.unset !== undefined,
    stdout: "piped",
    stderr: "piped",
  });
  const child = command.spawn();
  if (options.after === undefined) {
    const out = await child.output();
    return {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
    };
  }
  // Read stdout until the pattern shows, then send the signals as a user or a scheduler would.
  let stdout = "";
  let signalledAt: number | null = null;
  let cpuAtSignal: number | null = null;
  let cpuLast: number | null = null;
  let polling: ReturnType<typeof setInterval> | undefined;
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    stdout += value;
    if (options.after.test(stdout)) {
      signalledAt = performance.now();
      cpuAtSignal = cpuLast = cpuSeconds(child.pid);
      // Until the process ends, its CPU time so far (the last reading before it is gone).
      polling = setInterval(() => (cpuLast = cpuSeconds(child.pid) ?? cpuLast), 10);
      for (const [i, signal] of (options.signals ?? []).entries()) {
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, 100));
        try {
          child.kill(signal);
        } catch { /* already ended */ }
      }
      break;
    }
  }
  const rest = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      stdout += value;
    }
  })();
  const ended = child.status.then((status) => ({ status, at: performance.now() }));
  const stderr = await new Response(child.stderr).text();
  await rest;
  const { status, at } = await ended;
  clearInterval(polling);
  const afterSignal = signalledAt === null ? undefined : (at - signalledAt) / 1000;
  const cpuAfterSignal = cpuAtSignal === null || cpuLast === null ? null : cpuLast - cpuAtSignal;
  return { code: status.code, stdout, stderr, afterSignal, cpuAfterSignal };
}

/** A small labelled table: 3 classes, `perClass` rows each, 6 features with a class signal. */
export function csv(
  perClass: number,
  seed: number,
  options: { header?: string; classes?: string[] } = {},
): string {
  const rng = new Random(seed);
  const classes = options.classes ?? ["ant", "bee", "cat"];
  const lines = [options.header ?? "f0,f1,f2,f3,f4,f5,label"];
  for (let i = 0; i < perClass * classes.length; i++) {
    const c = i % classes.length;
    const values = Array.from({ length: 6 }, (_, j) => (j === c * 2 ? 3 : 0) + rng.normal() * 0.5);
    lines.push([...values.map((v) => v.toFixed(4)), classes[c]].join(","));
  }
  return lines.join("\n") + "\n";
}

export const SMALL = [
  "--backend",
  "cpu",
  "--hidden",
  "16",
  "--embedding-dim",
  "4",
  "--m",
  "3",
  "--d",
  "3",
  "--k",
  "2",
  "--eval-every",
  "0",
];

/** One line on stderr starting "error: ", matching `message`, exit 2, no stack trace. */
export function assertUsageError(r: Outcome, message: RegExp, what = ""): void {
  assert.equal(r.code, 2, `exit code ${what}: ${r.stderr}`);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], message);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
}

export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The files of a folder, sorted. */
export function listing(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

/**
 * Runs a command's `main` in this process, capturing what it prints: for checks that end before
 * any training, without the start-up of a new process.
 */
export async function inProcess(
  main: (args: readonly string[]) => Promise<number>,
  args: string[],
): Promise<Outcome> {
  const out: string[] = [], err: string[] = [];
  const { log, error } = console;
  console.log = (...parts: unknown[]) => out.push(parts.join(" "));
  console.error = (...parts: unknown[]) => err.push(parts.join(" "));
  try {
    const code = await main(args);
    return { code, stdout: out.join("\n"), stderr: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}
