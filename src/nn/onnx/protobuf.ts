/**
 * The protocol buffers wire format, as much of it as ONNX files use: a message is read into a
 * plain object and written back from one by a schema (field number to name and type), so the ONNX
 * messages are declared once as data (onnx_proto.ts) and both directions follow from it.
 *
 * Our own small codec rather than protobufjs: ONNX needs eight scalar types, nested messages and
 * packed arrays, which fit in this file; a schema as a table keeps the ONNX subset readable; the
 * library stays free of a dependency (and of code generation) for it; and large tensors are read
 * as views of the file's bytes, never copied field by field. Unknown fields are skipped when
 * reading, as protobuf requires.
 */
import { MagnetInputError } from "../../errors.ts";

/** Scalar field types. int64 and uint64 become JavaScript numbers (exact up to 2^53). */
export type ScalarType = "int64" | "int32" | "uint64" | "float" | "double" | "string" | "bytes";

/** One field of a message. */
export interface FieldSpec {
  /** Property name in the decoded object. */
  readonly name: string;
  /** A scalar type, or the schema of a nested message (a function, so schemas may recurse). */
  readonly type: ScalarType | (() => MessageSchema);
  /** Repeated fields decode to arrays (empty when absent). */
  readonly repeated?: boolean;
  /** Repeated numbers written packed (read either way). */
  readonly packed?: boolean;
}

/** A message's fields by field number. */
export type MessageSchema = { readonly [fieldNumber: number]: FieldSpec };

/** A decoded message: field names to values (absent optional fields are undefined). */
export type Decoded = Record<string, unknown>;

const WIRE_VARINT = 0, WIRE_64 = 1, WIRE_BYTES = 2, WIRE_32 = 5;
const TWO_32 = 2 ** 32;

/** Reads the wire format from a byte array. */
class Reader {
  pos: number;
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array, start: number, readonly end: number) {
    this.pos = start;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(what: string): never {
    throw new MagnetInputError(`not a valid ONNX (protobuf) file: ${what} at byte ${this.pos}`);
  }

  /** A varint as a number; 64-bit values beyond 2^53 lose their low bits, negatives are exact. */
  varint(): number {
    let lo = 0, hi = 0, shift = 0, byte: number;
    // The low 28 bits, then the rest into a high word (enough for 64-bit two's complement).
    do {
      if (this.pos >= this.end) this.fail("truncated varint");
      byte = this.bytes[this.pos++];
      if (shift < 28) lo |= (byte & 0x7f) << shift;
      else if (shift === 28) {
        lo |= (byte & 0x0f) << 28;
        hi |= (byte & 0x7f) >> 4;
      } else if (shift < 64) hi |= (byte & 0x7f) << (shift - 32);
      shift += 7;
      if (shift > 70) this.fail("varint longer than 10 bytes");
    } while (byte & 0x80);
    const low = lo >>> 0;
    return hi & 0x80000000 ? -((~hi >>> 0) * TWO_32 + (~low >>> 0) + 1) : (hi >>> 0) * TWO_32 + low;
  }

  length(): number {
    const n = this.varint();
    if (n < 0 || this.pos + n > this.end) this.fail(`field length ${n} past the end`);
    return n;
  }

  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_64) this.pos += 8;
    else if (wire === WIRE_BYTES) {
      const n = this.length(); // read before adding: the length's own bytes move pos
      this.pos += n;
    } else if (wire === WIRE_32) this.pos += 4;
    else this.fail(`wire type ${wire}`);
    if (this.pos > this.end) this.fail("field past the end");
  }
}

/** The value of one non-packed scalar field. */
function readScalar(r: Reader, type: ScalarType, wire: number): unknown {
  switch (type) {
    case "int64":
    case "int32":
    case "uint64":
      if (wire !== WIRE_VARINT) r.fail(`an integer field with wire type ${wire}`);
      return r.varint();
    case "float": {
      if (wire !== WIRE_32) r.fail(`a float field with wire type ${wire}`);
      const v = r.view.getFloat32(r.pos, true);
      r.pos += 4;
      return v;
    }
    case "double": {
      if (wire !== WIRE_64) r.fail(`a double field with wire type ${wire}`);
      const v = r.view.getFloat64(r.pos, true);
      r.pos += 8;
      return v;
    }
    case "string":
    case "bytes": {
      if (wire !== WIRE_BYTES) r.fail(`a ${type} field with wire type ${wire}`);
      const n = r.length();
      const bytes = r.bytes.subarray(r.pos, r.pos + n);
      r.pos += n;
      return type === "string" ? new TextDecoder().decode(bytes) : bytes;
    }
  }
}

/** Numbers of a packed field (a length-delimited run of values). */
function readPacked(r: Reader, type: ScalarType, into: number[]): void {
  const n = r.length();
  const end = r.pos + n;
  while (r.pos < end) {
    into.push(
      readScalar(r, type, type === "float" ? WIRE_32 : type === "double" ? WIRE_64 : 0) as number,
    );
  }
  if (r.pos !== end) r.fail("packed field overruns its length");
}

function decodeRange(r: Reader, schema: MessageSchema, end: number): Decoded {
  const out: Decoded = {};
  for (const field of Object.values(schema)) if (field.repeated) out[field.name] = [];
  while (r.pos < end) {
    const key = r.varint();
    const number = Math.floor(key / 8), wire = key & 7;
    const field = schema[number];
    if (field === undefined) {
      r.skip(wire);
      continue;
    }
    let value: unknown;
    if (typeof field.type === "function") {
      if (wire !== WIRE_BYTES) r.fail(`message field "${field.name}" with wire type ${wire}`);
      const n = r.length();
      const stop = r.pos + n;
      value = decodeRange(r, field.type(), stop);
      r.pos = stop;
    } else if (
      field.repeated && wire === WIRE_BYTES && field.type !== "string" && field.type !== "bytes"
    ) {
      readPacked(r, field.type, out[field.name] as number[]);
      continue;
    } else {
      value = readScalar(r, field.type, wire);
    }
    if (field.repeated) (out[field.name] as unknown[]).push(value);
    else out[field.name] = value;
  }
  if (r.pos !== end) r.fail("message overruns its length");
  return out;
}

/** Decodes `bytes` as a message of `schema`. A malformed file is a {@link MagnetInputError}. */
export function decodeMessage(bytes: Uint8Array, schema: MessageSchema): Decoded {
  const r = new Reader(bytes, 0, bytes.length);
  return decodeRange(r, schema, bytes.length);
}

/** A growable byte buffer the encoder writes into. */
class Writer {
  bytes = new Uint8Array(256);
  pos = 0;

  reserve(n: number): void {
    if (this.pos + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.pos + n));
    grown.set(this.bytes.subarray(0, this.pos));
    this.bytes = grown;
  }

  varint(value: number): void {
    this.reserve(10);
    if (value < 0) {
      // Two's complement over 64 bits, ten bytes.
      let big = BigInt.asUintN(64, BigInt(Math.trunc(value)));
      for (let i = 0; i < 10; i++) {
        const byte = Number(big & 0x7fn);
        big >>= 7n;
        this.bytes[this.pos++] = big > 0n ? byte | 0x80 : byte;
        if (big === 0n) break;
      }
      return;
    }
    let v = Math.trunc(value);
    while (v >= 0x80) {
      this.bytes[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.bytes[this.pos++] = v;
  }

  raw(data: Uint8Array): void {
    this.reserve(data.length);
    this.bytes.set(data, this.pos);
    this.pos += data.length;
  }

  float(v: number): void {
    this.reserve(4);
    new DataView(this.bytes.buffer).setFloat32(this.pos, v, true);
    this.pos += 4;
  }

  double(v: number): void {
    this.reserve(8);
    new DataView(this.bytes.buffer).setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  result(): Uint8Array<ArrayBuffer> {
    return this.bytes.slice(0, this.pos);
  }
}

function wireOf(type: ScalarType): number {
  return type === "float"
    ? WIRE_32
    : type === "double"
    ? WIRE_64
    : type === "string" || type === "bytes"
    ? WIRE_BYTES
    : WIRE_VARINT;
}

function writeScalar(w: Writer, type: ScalarType, value: unknown): void {
  switch (type) {
    case "int64":
    case "int32":
    case "uint64":
      w.varint(value as number);
      break;
    case "float":
      w.float(value as number);
      break;
    case "double":
      w.double(value as number);
      break;
    case "string":
    case "bytes": {
      const data = type === "string"
        ? new TextEncoder().encode(value as string)
        : value as Uint8Array;
      w.varint(data.length);
      w.raw(data);
      break;
    }
  }
}

function encodeInto(w: Writer, message: Decoded, schema: MessageSchema): void {
  for (const [key, field] of Object.entries(schema)) {
    const number = Number(key);
    const value = message[field.name];
    if (value === undefined || value === null) continue;
    const values = field.repeated ? Array.from(value as ArrayLike<unknown>) : [value];
    if (field.repeated && values.length === 0) continue;
    if (typeof field.type === "function") {
      const nested = field.type();
      for (const v of values) {
        const inner = new Writer();
        encodeInto(inner, v as Decoded, nested);
        w.varint(number * 8 + WIRE_BYTES);
        w.varint(inner.pos);
        w.raw(inner.bytes.subarray(0, inner.pos));
      }
    } else if (field.packed) {
      const inner = new Writer();
      for (const v of values) writeScalar(inner, field.type, v);
      w.varint(number * 8 + WIRE_BYTES);
      w.varint(inner.pos);
      w.raw(inner.bytes.subarray(0, inner.pos));
    } else {
      for (const v of values) {
        w.varint(number * 8 + wireOf(field.type));
        writeScalar(w, field.type, v);
      }
    }
  }
}

/** Encodes `message` by `schema` (fields in field-number order; absent and empty ones omitted). */
export function encodeMessage(message: Decoded, schema: MessageSchema): Uint8Array<ArrayBuffer> {
  const w = new Writer();
  encodeInto(w, message, schema);
  return w.result();
}
