/**
 * Reading our own JSON formats (checkpoints, saved models, experiment results) field by field,
 * values included, with errors that name the file and the field path: a damaged file is one clear
 * message and never a TypeError, a NaN that spreads, or a check silently switched off.
 *
 * Every reader of ours is written with these methods, one line per field
 * (`seconds: f.number("seconds", 0)`), so a new field is one more line, and an optional field of a
 * newer version is `f.has(name) ? ... : default`.
 */
import { MagnetInputError } from "../errors.ts";
import { decodeArray, type EncodedArray } from "./arrays.ts";

/** What {@link JsonFields.parse} expects at the top of a file. */
export interface JsonFormat {
  /** The file's `format` field: "magnet-checkpoint", "magnet-model", ... */
  readonly format: string;
  /** The versions this reader knows. */
  readonly versions: readonly number[];
  /** What the file is, for messages: "a magnet checkpoint". */
  readonly what: string;
}

/** The dtypes an encoded array may have. */
type Dtype = "float32" | "float64" | "int32" | "uint8";

/**
 * Reads the fields of one parsed JSON object of our own formats, naming the file and the field
 * path in every error.
 */
export class JsonFields {
  /** `source` names the file, `path` the object's place in it (empty at the top). */
  constructor(readonly source: string, readonly path: string, readonly raw: unknown) {}

  /**
   * Parses `text` as a file of `format`: JSON, an object, its `format` and a known `version`. The
   * top-level fields, and the version read.
   */
  static parse(text: string, source: string, format: JsonFormat): JsonFields {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new MagnetInputError(`${source} is not ${format.what} (not JSON)`);
    }
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      throw new MagnetInputError(`${source} is not ${format.what} (not a JSON object)`);
    }
    const top = new JsonFields(source, "", raw);
    if (top.get("format") !== format.format) {
      throw new MagnetInputError(
        `${source} is not ${format.what} (its format is ${
          JSON.stringify(top.get("format")) ?? "missing"
        }, expected "${format.format}")`,
      );
    }
    const version = top.get("version");
    if (!format.versions.includes(version as number)) {
      top.fail("version", format.versions.join(" or "), version);
    }
    return top;
  }

  /** Throws the error for field `name`. */
  fail(name: string, expected: string, found: unknown): never {
    const text = found === undefined
      ? "nothing"
      : typeof found === "number" && !Number.isFinite(found)
      ? String(found)
      : JSON.stringify(found) ?? String(found);
    const shown = text.length > 40 ? `${text.slice(0, 40)}...` : text;
    throw new MagnetInputError(
      `${this.source} is damaged: ${this.path}${name} should be ${expected}, found ${shown}`,
    );
  }

  /** A field as it is. */
  get(name: string): unknown {
    return (this.raw as Record<string, unknown>)[name];
  }

  /** Whether the field is there (for fields a newer version added). */
  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** The names of the object's fields, in order. */
  keys(): string[] {
    return Object.keys(this.raw as object);
  }

  /** A field that must be an object. */
  object(name: string): JsonFields {
    const value = this.get(name);
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      this.fail(name, "an object", value);
    }
    return new JsonFields(this.source, `${this.path}${name}.`, value);
  }

  /** A field that must be an object or null. */
  nullableObject(name: string): JsonFields | null {
    return this.get(name) === null ? null : this.object(name);
  }

  /** A field that must be a finite number in [min, max]. */
  number(name: string, min = -Infinity, max = Infinity): number {
    const value = this.get(name);
    if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
      const range = min > -Infinity && max < Infinity
        ? ` in [${min}, ${max}]`
        : min > -Infinity
        ? ` >= ${min}`
        : max < Infinity
        ? ` <= ${max}`
        : "";
      this.fail(name, `a finite number${range}`, value);
    }
    return value;
  }

  /** A field that must be a number or null (a measurement that may be missing). */
  nullableNumber(name: string, min = -Infinity, max = Infinity): number | null {
    return this.get(name) === null ? null : this.number(name, min, max);
  }

  /** A field that must be an integer in [min, max]. */
  integer(name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const value = this.get(name);
    if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
      this.fail(name, `an integer in [${min}, ${max}]`, value);
    }
    return value as number;
  }

  /** A field that must be true or false. */
  boolean(name: string): boolean {
    const value = this.get(name);
    if (typeof value !== "boolean") this.fail(name, "true or false", value);
    return value;
  }

  /** A field that must be a string (not empty when `nonEmpty`). */
  string(name: string, nonEmpty = false): string {
    const value = this.get(name);
    if (typeof value !== "string" || (nonEmpty && value === "")) {
      this.fail(name, nonEmpty ? "a non-empty string" : "a string", value);
    }
    return value;
  }

  /** A field that must be a string or null. */
  nullableString(name: string): string | null {
    return this.get(name) === null ? null : this.string(name);
  }

  /** A field that must be one of `choices`. */
  oneOf<T extends string>(name: string, choices: readonly T[]): T {
    const value = this.get(name);
    if (!choices.includes(value as T)) {
      this.fail(name, choices.map((c) => JSON.stringify(c)).join(" or "), value);
    }
    return value as T;
  }

  /** A field that must be a string matching `pattern`, described as `expected`. */
  matching(name: string, pattern: RegExp, expected: string): string {
    const value = this.get(name);
    if (typeof value !== "string" || !pattern.test(value)) this.fail(name, expected, value);
    return value;
  }

  /** A field that must be an ISO 8601 date and time (as `Date.toISOString` writes). */
  date(name: string): string {
    const value = this.get(name);
    if (
      typeof value !== "string" ||
      !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value) ||
      Number.isNaN(new Date(value).getTime())
    ) {
      this.fail(name, "an ISO 8601 date and time", value);
    }
    return value;
  }

  /** A field that must be a list. */
  array(name: string): unknown[] {
    const value = this.get(name);
    if (!Array.isArray(value)) this.fail(name, "a list", value);
    return value;
  }

  /** A field that must be a list of objects, each read as fields of its own. */
  objects(name: string, options: { nonEmpty?: boolean } = {}): JsonFields[] {
    const items = this.array(name);
    if (options.nonEmpty && items.length === 0) this.fail(name, "a non-empty list", items);
    return items.map((item, i) => {
      if (item === null || typeof item !== "object" || Array.isArray(item)) {
        this.fail(`${name}[${i}]`, "an object", item);
      }
      return new JsonFields(this.source, `${this.path}${name}[${i}].`, item);
    });
  }

  /** A field that must be a list of integers in [min, max]. */
  integers(name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number[] {
    return this.array(name).map((v, i) => {
      if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) {
        this.fail(`${name}[${i}]`, `an integer in [${min}, ${max}]`, v);
      }
      return v as number;
    });
  }

  /** A field that must be a list of strings. */
  strings(name: string): string[] {
    return this.array(name).map((v, i) => {
      if (typeof v !== "string") this.fail(`${name}[${i}]`, "a string", v);
      return v;
    });
  }

  /**
   * A field that must be a typed array of `dtype` (see encodeArray), of `length` values when
   * given, and finite throughout unless `finite` is false: a NaN or an Infinity in saved state is
   * damage (a checkpoint is only ever written from a sound state).
   */
  encoded<K extends Dtype>(
    name: string,
    dtype: K,
    options: { length?: number; finite?: boolean } = {},
  ): ReturnType<typeof decodeArray<K>> {
    const values = decodeArray(
      this.get(name) as EncodedArray,
      dtype,
      `${this.source} is damaged: ${this.path}${name}`,
    );
    if (options.length !== undefined && values.length !== options.length) {
      this.fail(name, `${options.length} values`, `${values.length} values`);
    }
    if (options.finite ?? true) {
      const bad = (values as ArrayLike<number> & { findIndex: Float32Array["findIndex"] })
        .findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) this.fail(`${name}[${bad}]`, "a finite number", values[bad]);
    }
    return values;
  }
}
