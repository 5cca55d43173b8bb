/** Typed arrays in JSON, as base64 of their little-endian bytes. */
import { MagnetInputError } from "../errors.ts";

/** A typed array as JSON: its element type and its bytes in base64. */
export interface EncodedArray {
  dtype: "float32" | "float64" | "int32" | "uint8";
  base64: string;
}

type Encodable = Float32Array | Float64Array | Int32Array | Uint8Array;

/** `bytes` as base64. */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}

/** The bytes of base64 `text`; throws a DOMException when it is not base64. */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Encodes a typed array for JSON (platforms here are little-endian, as WebAssembly and GPUs). */
export function encodeArray(array: Encodable): EncodedArray {
  const dtype = array instanceof Float32Array
    ? "float32"
    : array instanceof Float64Array
    ? "float64"
    : array instanceof Int32Array
    ? "int32"
    : "uint8";
  return {
    dtype,
    base64: toBase64(new Uint8Array(array.buffer, array.byteOffset, array.byteLength)),
  };
}

const constructors = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  uint8: Uint8Array,
} as const;

/** Decodes an {@link encodeArray} result, checking its element type; `what` names it in errors. */
export function decodeArray<K extends keyof typeof constructors>(
  encoded: EncodedArray,
  dtype: K,
  what: string,
): InstanceType<(typeof constructors)[K]> {
  if (encoded === null || typeof encoded !== "object" || typeof encoded.base64 !== "string") {
    throw new MagnetInputError(`${what} is missing or not an encoded array`);
  }
  if (encoded.dtype !== dtype) {
    throw new MagnetInputError(`${what} holds ${encoded.dtype} values, expected ${dtype}`);
  }
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = fromBase64(encoded.base64);
  } catch {
    throw new MagnetInputError(`${what} is not valid base64`);
  }
  const Ctor = constructors[dtype];
  if (bytes.length % Ctor.BYTES_PER_ELEMENT !== 0) {
    throw new MagnetInputError(`${what} has ${bytes.length} bytes, not whole ${dtype} values`);
  }
  return new Ctor(bytes.buffer, 0, bytes.length / Ctor.BYTES_PER_ELEMENT) as InstanceType<
    (typeof constructors)[K]
  >;
}
