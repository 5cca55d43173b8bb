/**
 * The protobuf codec and the ONNX messages: bytes written by hand from the wire format's rules
 * read back as expected (varints of every length, negative int64 as ten bytes, packed and
 * unpacked numbers, nested messages, unknown fields skipped), what we write reads back the same,
 * and damaged bytes are one clear error.
 */
import assert from "node:assert/strict";
import { decodeMessage, encodeMessage, type MessageSchema } from "../../../src/nn/onnx/protobuf.ts";
import {
  DataType,
  decodeModel,
  encodeModel,
  floatTensor,
  int64Tensor,
  type ModelProto,
  tensorValues,
} from "../../../src/nn/onnx/onnx_proto.ts";
import { MagnetInputError } from "../../../src/errors.ts";

const inner: MessageSchema = { 1: { name: "label", type: "string" } };
const schema: MessageSchema = {
  1: { name: "count", type: "int64" },
  2: { name: "ratio", type: "float" },
  3: { name: "values", type: "int64", repeated: true, packed: true },
  4: { name: "loose", type: "int64", repeated: true, packed: false },
  5: { name: "child", type: () => inner },
  6: { name: "data", type: "bytes" },
  7: { name: "precise", type: "double" },
};

Deno.test("varints, floats, packed and nested fields read as the wire format defines them", () => {
  const bytes = Uint8Array.of(
    0x08,
    0xac,
    0x02, // field 1 varint 300
    0x15,
    0x00,
    0x00,
    0xc0,
    0x3f, // field 2 float 1.5
    0x1a,
    0x04,
    0x01,
    0x96,
    0x01,
    0x7f, // field 3 packed [1, 150, 127]
    0x20,
    0x05,
    0x20,
    0x06, // field 4 unpacked 5, 6
    0x2a,
    0x03,
    0x0a,
    0x01,
    0x61, // field 5 { label: "a" }
    0x48,
    0x07, // field 9 (unknown) varint: skipped
    0x52,
    0x02,
    0x00,
    0x00, // field 10 (unknown) bytes: skipped
    0x32,
    0x02,
    0xde,
    0xad, // field 6 bytes
  );
  const m = decodeMessage(bytes, schema);
  assert.equal(m.count, 300);
  assert.equal(m.ratio, 1.5);
  assert.deepEqual(m.values, [1, 150, 127]);
  assert.deepEqual(m.loose, [5, 6]);
  assert.deepEqual(m.child, { label: "a" });
  assert.deepEqual([...(m.data as Uint8Array)], [0xde, 0xad]);
});

Deno.test("int64: negative numbers as ten bytes, large ones exact up to 2^53", () => {
  for (
    const v of [
      0,
      1,
      127,
      128,
      2 ** 31,
      2 ** 32 + 5,
      2 ** 53 - 1,
      -1,
      -2,
      -(2 ** 40),
      -(2 ** 53) + 1,
    ]
  ) {
    const bytes = encodeMessage({ count: v }, schema);
    if (v < 0) assert.equal(bytes.length, 11, `${v} takes a key and ten bytes`);
    assert.equal(decodeMessage(bytes, schema).count, v);
  }
  // INT64_MAX, as PyTorch writes for "to the end" in Slice: a huge positive number.
  const max = Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f);
  assert.ok((decodeMessage(max, schema).count as number) > 9e18);
});

Deno.test("what we write reads back the same, packed or not", () => {
  const message = {
    count: 7,
    ratio: 0.25,
    values: [3, -4, 2 ** 40],
    loose: [9, 10],
    child: { label: "éé" },
    data: Uint8Array.of(1, 2, 3),
    precise: Math.PI,
  };
  const back = decodeMessage(encodeMessage(message, schema), schema);
  assert.deepEqual({ ...back, data: [...(back.data as Uint8Array)] }, {
    ...message,
    data: [1, 2, 3],
  });
});

Deno.test("damaged bytes are one clear error, never a crash", () => {
  for (
    const bytes of [
      Uint8Array.of(0x08), // truncated varint
      Uint8Array.of(0x2a, 0x09, 0x0a), // a message longer than the file
      Uint8Array.of(0x0b), // wire type 3 (groups)
      Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
    ]
  ) {
    assert.throws(() => decodeMessage(bytes, schema), MagnetInputError);
  }
  assert.throws(
    () => decodeModel(Uint8Array.of(0x08, 0x07)),
    (e: Error) => e instanceof MagnetInputError && /not an ONNX model/.test(e.message),
  );
});

function tinyModel(opset: number): ModelProto {
  return {
    irVersion: 8,
    opsetImport: [{ domain: "", version: opset }],
    producerName: "test",
    metadataProps: [],
    functions: [],
    graph: {
      name: "g",
      node: [{ input: ["x", "w"], output: ["y"], opType: "MatMul", attribute: [] }],
      initializer: [floatTensor("w", [2, 1], [0.5, -2]), int64Tensor("shape", [2], [-1, 4])],
      sparseInitializer: [],
      input: [],
      output: [],
      valueInfo: [],
    },
  };
}

Deno.test("model files: tensors of each element type, opset range, external data", () => {
  const m = decodeModel(encodeModel(tinyModel(17)));
  const [w, shape] = m.graph!.initializer;
  assert.deepEqual(tensorValues(w, "w"), { kind: "float", data: Float32Array.of(0.5, -2) });
  assert.deepEqual(tensorValues(shape, "shape"), { kind: "int", data: Float64Array.of(-1, 4) });
  const half = { ...w, dataType: DataType.FLOAT16, rawData: Uint8Array.of(0x00, 0x38, 0x00, 0xc0) };
  assert.deepEqual([...tensorValues(half, "half").data], [0.5, -2]);
  const short = { ...w, rawData: Uint8Array.of(0, 0, 0) };
  assert.throws(() => tensorValues(short, "w"), /w: 2 values expected, found 3 bytes/);
  assert.throws(() => decodeModel(encodeModel(tinyModel(5))), /opset 5; opsets 7 to 22/);
  const outside = tinyModel(17);
  outside.graph!.initializer[0] = {
    ...outside.graph!.initializer[0],
    rawData: undefined,
    dataLocation: 1,
    externalData: [{ key: "location", value: "w.bin" }, { key: "offset", value: "4" }],
  };
  const bytes = encodeModel(outside);
  assert.throws(
    () => decodeModel(bytes, "net.onnx"),
    /net.onnx keeps the weights of "w" as external/,
  );
  const file = new Uint8Array(12);
  new Float32Array(file.buffer).set([9, 0.5, -2]);
  const read = decodeModel(bytes, "net.onnx", (location) => {
    assert.equal(location, "w.bin");
    return file;
  });
  assert.deepEqual([...tensorValues(read.graph!.initializer[0], "w").data], [0.5, -2]);
});
