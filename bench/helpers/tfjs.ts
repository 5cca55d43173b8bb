/**
 * TensorFlow.js 4.22 for the benchmarks, set up once: its cpu, wasm and webgpu backends (the wasm
 * binaries from the benchmarks' own node_modules) in production mode. Under Deno, TensorFlow.js
 * takes itself to be in Node.js and prints an "install tfjs-node" banner on its first operation;
 * production mode drops that banner, and the debug checks it skips are not part of the work being
 * compared.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";

setWasmPaths(new URL("../node_modules/@tensorflow/tfjs-backend-wasm/dist/", import.meta.url).href);
tf.enableProdMode();

export { tf };
