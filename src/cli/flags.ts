/**
 * Command-line flags, for every command: a table gives each flag its type, default, help and when
 * it applies (see {@link FlagSpec}), so `--help`, parsing, the error messages and the refusal of
 * flags that do not apply cannot disagree.
 */
import { parseArgs } from "node:util";
import { MagnetInputError } from "../errors.ts";

/** A user mistake on the command line: printed as one line, exit code 2. */
export class UsageError extends MagnetInputError {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

type Kind = "string" | "int" | "number" | "list" | "flag" | "choice";

/**
 * A flag: its type, help, default, and when it applies. A flag given where it does not apply is
 * refused, never silently ignored: adding a flag's rule is one field of its entry.
 */
export interface FlagSpec {
  kind: Kind;
  help: string;
  default?: string;
  choices?: readonly string[];
  /**
   * Flags this one needs: each must be given (`"given"`), or have one of the listed values (given,
   * or by default). `{ model: ["cnn"] }`: the flag applies only to a CNN. A key may also name a
   * fact the command supplies (see {@link FlagFacts}): `{ source: ["images"] }`.
   */
  needs?: Readonly<Record<string, readonly string[] | "given">>;
  /** Flags this one cannot be given with. */
  conflicts?: readonly string[];
  /** What the flag is for, in a few words, said when it is refused ("is where Fashion-MNIST is"). */
  why?: string;
  /** Whether it may go with --resume (which keeps every other setting of the saved run). */
  resume?: boolean;
}

/**
 * `--backend` and `--threads`, the same on every command that computes; `resume`: whether they may
 * go with --resume (a resumed run may move to another backend).
 */
export function backendFlags(resume = false): Record<"backend" | "threads", FlagSpec> {
  return {
    "backend": {
      kind: "choice",
      default: "auto",
      choices: ["auto", "webgpu", "cpu"],
      help: "compute backend (auto: a hardware GPU when WebGPU has one, else the CPU)",
      ...(resume ? { resume } : {}),
    },
    "threads": {
      kind: "int",
      default: "all cores",
      help: "CPU backend: threads that share large kernels",
      needs: { backend: ["cpu", "auto"] },
      why: "sets the CPU backend's threads",
      ...(resume ? { resume } : {}),
    },
  };
}

/**
 * The help text of `deno task <name>` (also run as `deno run -A jsr:@magnet/magnet/<name>`) whose
 * flags are `flags`.
 */
export function helpText(
  name: string,
  summary: string,
  flags: Readonly<Record<string, FlagSpec>>,
): string {
  const lines = [
    `Usage: deno task ${name} [flags]`,
    `   or: deno run -A jsr:@magnet/magnet/${name} [flags]`,
    "",
    summary,
    "",
    "Flags:",
  ];
  for (const [name, spec] of Object.entries(flags)) {
    const value = spec.kind === "flag"
      ? ""
      : spec.kind === "choice"
      ? ` ${spec.choices!.join("|")}`
      : " VALUE";
    const left = `  --${name}${value}`;
    const dflt = spec.default !== undefined ? ` (default: ${spec.default})` : "";
    lines.push(`${left.padEnd(36)} ${spec.help}${dflt}`);
  }
  return lines.join("\n");
}

/**
 * What a command knows once its flags are read, beyond their values (what kind of data `--data`
 * names, say), which a flag's `needs` may name like a flag: each fact's value, and the words that
 * describe each value in a refusal ("--data a folder of images").
 */
export type FlagFacts = Readonly<
  Record<string, { readonly value: string; readonly words: Readonly<Record<string, string>> }>
>;

/** The flags' values as parsed: a string, true for a flag given, undefined for one not given. */
export type FlagValues = Readonly<Record<string, string | boolean | undefined>>;

/**
 * Parses `args` against `flags`: unknown or malformed flags, and flags that do not apply (see
 * {@link checkFlagRules}), are a {@link UsageError}.
 */
export function parseFlags(
  args: readonly string[],
  flags: Readonly<Record<string, FlagSpec>>,
  facts?: (values: FlagValues) => FlagFacts,
): Record<string, string | boolean | undefined> {
  const options: Record<string, { type: "string" | "boolean" }> = {};
  for (const [name, spec] of Object.entries(flags)) {
    options[name] = { type: spec.kind === "flag" ? "boolean" : "string" };
  }
  let values: unknown;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options,
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    const message = (error as Error).message;
    const unknown = /Unknown option '([^']+)'/.exec(message);
    if (unknown) throw new UsageError(`unknown flag ${unknown[1]} (see --help)`);
    const missing = /Option '([^']+?)(?: <value>)?' argument missing/.exec(message);
    if (missing) throw new UsageError(`flag ${missing[1].split(",").pop()!.trim()} needs a value`);
    const ambiguous = /Option '([^']+)' argument is ambiguous/.exec(message);
    if (ambiguous) {
      const flag = ambiguous[1].split(",").pop()!.trim();
      const given = args[args.indexOf(flag) + 1] ?? "-1";
      throw new UsageError(
        `flag ${flag} needs a value; for one starting with "-", write ${flag}=${given}`,
      );
    }
    const positional = /Unexpected argument '([^']+)'/.exec(message);
    if (positional) {
      throw new UsageError(
        `unexpected argument "${positional[1]}": every value follows a --flag (see --help)`,
      );
    }
    throw new UsageError(message.split("\n")[0]);
  }
  const parsed = values as Record<string, string | boolean | undefined>;
  if (parsed.help !== true) checkFlagRules(parsed, flags, facts?.(parsed) ?? {});
  return parsed;
}

/**
 * Refuses flags given where they do not apply (see {@link FlagSpec}): with `--resume`, every flag
 * that may not go with it; then each given flag's needs and conflicts. `values` are the parsed
 * flags; an absent flag has its table default.
 */
export function checkFlagRules(
  values: FlagValues,
  flags: Readonly<Record<string, FlagSpec>>,
  facts: FlagFacts = {},
): void {
  // In the order they were given, as messages list them.
  const given = Object.keys(values).filter((name) => name in flags && values[name] !== undefined);
  const said = (
    name: string,
  ) => (flags[name].why ? `--${name} ${flags[name].why}: it` : `--${name}`);
  if (given.includes("resume")) {
    const refused = given.filter((name) => name !== "resume" && !flags[name].resume);
    if (refused.length > 0) {
      const allowed = Object.keys(flags).filter((name) => flags[name].resume);
      throw new UsageError(
        `--resume ${flags.resume.why ?? "continues a saved run"}, so ${
          refused.map((f) => `--${f}`).join(", ")
        } cannot be given with it (allowed: ${allowed.map((f) => `--${f}`).join(", ")})`,
      );
    }
  }
  for (const name of given) {
    const spec = flags[name];
    for (const other of spec.conflicts ?? []) {
      if (given.includes(other)) {
        throw new UsageError(`${said(name)} cannot be given with --${other}`);
      }
    }
    for (const [other, wanted] of Object.entries(spec.needs ?? {})) {
      if (wanted === "given") {
        if (!given.includes(other)) throw new UsageError(`${said(name)} needs --${other}`);
        continue;
      }
      const fact = facts[other];
      if (fact !== undefined) {
        if (!wanted.includes(fact.value)) {
          const say = (value: string) => fact.words[value] ?? `${other} ${value}`;
          throw new UsageError(
            `${said(name)} needs ${wanted.map(say).join(" or ")} (not ${say(fact.value)})`,
          );
        }
        continue;
      }
      const value = (values[other] as string | undefined) ?? flags[other].default;
      if (value !== undefined && !wanted.includes(value)) {
        throw new UsageError(
          `${said(name)} needs --${other} ${wanted.join(" or ")} (${
            given.includes(other) ? "not" : "the default is"
          } ${value})`,
        );
      }
    }
  }
}

/** A flag's value as an integer, with a message naming the flag. */
export function intFlag(name: string, text: string): number {
  if (!/^[+-]?\d+$/.test(text.trim())) {
    throw new UsageError(`--${name} must be an integer, got "${text}"`);
  }
  const value = Number(text);
  if (!Number.isSafeInteger(value)) {
    throw new UsageError(`--${name} = ${text.trim()} is too large to be represented exactly`);
  }
  return value;
}

/** A flag's value as a finite number, with a message naming the flag. */
export function numberFlag(name: string, text: string): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value)) {
    throw new UsageError(`--${name} must be a number, got "${text}"`);
  }
  return value;
}
