/**
 * onnxruntime (npm's WebAssembly build, one thread) as the reference every imported or exported
 * network is held to: a model's output for an input, in the test process, without Python.
 */
import * as ort from "onnxruntime-web";

ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";

/**
 * A session for `model`. onnxruntime-web's WebAssembly start replaces `globalThis.Worker` with
 * Node's worker_threads class, which cannot start the CPU device's workers: it is put back.
 */
export async function onnxruntimeSession(model: Uint8Array): Promise<ort.InferenceSession> {
  const worker = globalThis.Worker;
  try {
    return await ort.InferenceSession.create(model, { executionProviders: ["wasm"] });
  } finally {
    globalThis.Worker = worker;
  }
}

/** The first output of `model` for `input` (float32, of `shape`), and that output's shape. */
export async function runOnnxruntime(
  model: Uint8Array,
  input: Float32Array,
  shape: readonly number[],
): Promise<{ data: Float32Array; shape: number[] }> {
  const session = await onnxruntimeSession(model);
  try {
    const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", input, [...shape]) };
    const out = (await session.run(feeds))[session.outputNames[0]];
    return { data: out.data as Float32Array, shape: [...out.dims] };
  } finally {
    await session.release();
  }
}
