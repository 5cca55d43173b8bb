/** Reading our own JSON formats field by field, with errors that name the file and the field. */
import { MagnetInputError } from "../errors.ts";
import { decodeArray, type EncodedArray } from "./arrays.ts";

/**
 * Reads the fields of one parsed JSON object of our own formats (checkpoints, saved models), naming
 * the file and the field path in every error, so a damaged file is a clear message and never a
 * TypeError.
 */
export class JsonFields {
  /** `source` names the file, `path` the object's place in it (empty at the top). */
  constructor(readonly source: string, readonly path: string, readonly raw: unknown) {}

  /** Throws the error for field `name`. */
  fail(name: string, expected: string, found: unknown): never {
    const shown = found === undefined ? "nothing" : JSON.stringify(found)?.slice(0, 40);
    throw new MagnetInputError(
      `${this.source} is damaged: ${this.path}${name} should be ${expected}, found ${shown}`,
    );
  }

  /** A field as it is. */
  get(name: string): unknown {
    return (this.raw as Record<string, unknown>)[name];
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

  /** A field that must be a finite number of at least `min`. */
  number(name: string, min = -Infinity): number {
    const value = this.get(name);
    if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
      this.fail(name, `a finite number${min > -Infinity ? ` >= ${min}` : ""}`, value);
    }
    return value;
  }

  /** A field that must be an integer in [min, max]. */
  integer(name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const value = this.get(name);
    if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
      this.fail(name, `an integer in [${min}, ${max}]`, value);
    }
    return value as number;
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

  /** A field that must be a list of objects, each read as fields of its own. */
  objects(name: string): JsonFields[] {
    return this.array(name).map((item, i) => {
      if (item === null || typeof item !== "object" || Array.isArray(item)) {
        this.fail(`${name}[${i}]`, "an object", item);
      }
      return new JsonFields(this.source, `${this.path}${name}[${i}].`, item);
    });
  }

  /** A field that must be a list. */
  array(name: string): unknown[] {
    const value = this.get(name);
    if (!Array.isArray(value)) this.fail(name, "a list", value);
    return value;
  }

  /** A field that must be a typed array of `dtype` (see encodeArray). */
  encoded<K extends "float32" | "float64" | "int32" | "uint8">(name: string, dtype: K) {
    return decodeArray(
      this.get(name) as EncodedArray,
      dtype,
      `${this.source}: ${this.path}${name}`,
    );
  }
}
