/**
 * One training step of the MLP 784-256-128-64 (ReLU between layers, none after the last) at batch
 * 48 in float32 with Adam (lr 1e-3, betas 0.9 / 0.999, eps 1e-8) and the loss mean(embeddings²),
 * on magnet's CPU backend beside TensorFlow.js 4.22 (wasm and cpu backends, tf.train.adam) and
 * jax-js 0.1.25 (wasm backend, a jit-compiled step: value and gradient, then Adam written with
 * jax-js ops). Every engine does the whole step (forward, backward, parameter and optimizer-state
 * update) and reads the loss back each step, as a training loop does. All start from magnet's
 * seeded initial weights and see the same fixed batch. Prints ms per step when it ends.
 *
 *   deno bench -A bench/mlp_step_bench.ts
 */
import { tf } from "./helpers/tfjs.ts";
import { blockUntilReady, jit, nn, numpy as np, tree, valueAndGrad } from "@jax-js/jax";
import {
  adam,
  createBackend,
  type Executable,
  gradients,
  Graph,
  mean,
  Random,
  square,
} from "../mod.ts";
import { createMlp } from "../src/nn/mlp.ts";
import { timed } from "./helpers/throughput.ts";
import { initJaxWasm } from "./helpers/jax.ts";

await initJaxWasm();

const SIZES = [784, 256, 128, 64];
const BATCH = 48;
const LR = 1e-3, BETA1 = 0.9, BETA2 = 0.999, EPS = 1e-8;
const GROUP = "MLP 784-256-128-64, batch 48, Adam";
const UNIT = "ms/step";
/** Steps per timed iteration. */
const STEPS = 5;

const rng = new Random(7);
const x = Float32Array.from({ length: BATCH * SIZES[0] }, () => rng.normal());
/** Every engine's starting point: magnet's seeded He-initialised weights, zero biases. */
const initial = createMlp({ sizes: SIZES, seed: 1 }).parameters.map((p) => ({
  shape: [...p.shape],
  data: Float32Array.from(p.initial),
}));

/** Registers one engine: `setup` once (outside the timing), then `step` STEPS times per iteration. */
function benchEngine(
  name: string,
  runs: { n: number; warmup: number; baseline?: boolean },
  setup: () => Promise<() => Promise<number>>,
): void {
  let step: (() => Promise<number>) | undefined;
  Deno.bench(`${name}, ${STEPS} steps`, { group: GROUP, ...runs }, async () => {
    step ??= await setup();
    await timed(GROUP, name, STEPS, UNIT, async () => {
      for (let i = 0; i < STEPS; i++) {
        const loss = await step!();
        if (!Number.isFinite(loss)) throw new Error(`${name}: loss ${loss}`);
      }
    });
  });
}

// magnet: one compiled graph runs forward, backward and the Adam updates; run() returns the loss.
benchEngine("magnet cpu", { n: 20, warmup: 3, baseline: true }, async () => {
  const backend = await createBackend({ kind: "cpu" });
  const model = createMlp({ sizes: SIZES, seed: 1 });
  const g = new Graph();
  const embeddings = model.forward(g.input("x", [BATCH, SIZES[0]]));
  const loss = mean(square(embeddings));
  const params = model.parameters;
  const grads = gradients(loss, params.map((p) => g.variable(p)));
  const updates = adam({ lr: LR, beta1: BETA1, beta2: BETA2, epsilon: EPS }).updates(params, grads);
  const exe: Executable = await backend.compile({ outputs: [loss], updates });
  return async () => (await exe.run({ x }))[0][0];
});

// TF.js: optimizer.minimize differentiates the loss, applies Adam to the variables, returns the loss.
function tfjsEngine(kind: "wasm" | "cpu"): () => Promise<() => Promise<number>> {
  return async () => {
    await tf.setBackend(kind);
    const params = initial.map((p) => tf.variable(tf.tensor(p.data, p.shape)));
    const input = tf.tensor2d(x, [BATCH, SIZES[0]]);
    const optimizer = tf.train.adam(LR, BETA1, BETA2, EPS);
    const lossFn = () =>
      tf.tidy(() => {
        let h: tf.Tensor = input;
        for (let i = 0; i < 3; i++) {
          h = tf.add(tf.matMul(h, params[2 * i]), params[2 * i + 1]);
          if (i < 2) h = tf.relu(h);
        }
        return tf.mean(tf.square(h)) as tf.Scalar;
      });
    return async () => {
      // The other engines share the process: make sure this one runs on its own backend.
      if (tf.getBackend() !== kind) await tf.setBackend(kind);
      const loss = optimizer.minimize(lossFn, true, params)!;
      const [value] = await loss.data();
      loss.dispose();
      return value;
    };
  };
}

// jax-js: the whole step is one jit-compiled function of (state, x) returning the loss and the new
// state. jax-js arrays are reference-counted and every op consumes its operands: `.ref` keeps one.
type AdamState = { params: np.Array[]; m: np.Array[]; v: np.Array[]; t: np.Array };

function jaxLoss(params: np.Array[], input: np.Array): np.Array {
  let h = input;
  for (let i = 0; i < 3; i++) {
    h = np.matmul(h, params[2 * i]).add(params[2 * i + 1]);
    if (i < 2) h = nn.relu(h);
  }
  return np.mean(np.square(h));
}

const jaxStep = jit((state: AdamState, input: np.Array) => {
  const [loss, grads] = valueAndGrad(jaxLoss)(tree.ref(state.params), input);
  // Adam as magnet's adam and tf.train.adam apply it (PyTorch's placement of epsilon):
  // p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps), t counted on the device.
  const t = state.t.add(1);
  const stepSize = np.divide(LR, np.subtract(1, np.exp(t.ref.mul(Math.log(BETA1)))));
  const rootCorrection2 = np.sqrt(np.subtract(1, np.exp(t.ref.mul(Math.log(BETA2)))));
  const m: np.Array[] = [], v: np.Array[] = [], params: np.Array[] = [];
  state.params.forEach((p, i) => {
    const g = grads[i];
    const mNext = state.m[i].mul(BETA1).add(g.ref.mul(1 - BETA1));
    const vNext = state.v[i].mul(BETA2).add(np.square(g).mul(1 - BETA2));
    const denominator = np.sqrt(vNext.ref).div(rootCorrection2.ref).add(EPS);
    params.push(p.sub(stepSize.ref.mul(mNext.ref).div(denominator)));
    m.push(mNext);
    v.push(vNext);
  });
  stepSize.dispose();
  rootCorrection2.dispose();
  return { loss, state: { params, m, v, t } };
});

benchEngine("jax-js wasm (jit)", { n: 20, warmup: 3 }, () => {
  let state: AdamState = {
    params: initial.map((p) => np.array(p.data).reshape(p.shape)),
    m: initial.map((p) => np.zeros(p.shape)),
    v: initial.map((p) => np.zeros(p.shape)),
    t: np.zeros([]),
  };
  const input = np.array(x).reshape([BATCH, SIZES[0]]);
  return Promise.resolve(async () => {
    const out = jaxStep(state, input.ref);
    state = out.state;
    // jax-js is lazy: wait for the updated parameters and state too, not only for the loss.
    await blockUntilReady(state);
    const [value] = await out.loss.data();
    return value;
  });
});

benchEngine("tfjs wasm", { n: 20, warmup: 3 }, tfjsEngine("wasm"));
benchEngine("tfjs cpu", { n: 4, warmup: 1 }, tfjsEngine("cpu"));
