/**
 * Magnet loss forward + backward (loss and d loss / d embeddings, both read back) on magnet's CPU and
 * WebGPU backends beside the same loss written with TensorFlow.js 4.22 autodiff on its cpu, wasm and
 * webgpu backends, for (M, D, dim) = (12, 4, 64), (8, 8, 128), (64, 16, 128). Prints ms per call.
 *
 *   deno bench -A bench/magnet_loss_bench.ts
 */
import { tf } from "./helpers/tfjs.ts";
import { createBackend } from "../src/backend/create.ts";
import type { Backend } from "../src/backend/backend.ts";
import { computeMagnetLoss, type MagnetBatch } from "../src/losses/magnet_batch.ts";
import { Random } from "../src/util/random.ts";
import { timed } from "./helpers/throughput.ts";

const backends: Record<string, Backend> = {
  cpu: await createBackend({ kind: "cpu" }),
  webgpu: await createBackend({ kind: "webgpu" }),
};

/** M clusters of D rows around random centres, classes cycling over 4, rows cluster by cluster. */
function batch(m: number, d: number, dim: number): MagnetBatch {
  const rng = new Random(m * 1000 + d);
  const embeddings = new Float32Array(m * d * dim);
  const clusters = new Int32Array(m * d);
  const classes = new Int32Array(m * d);
  for (let c = 0; c < m; c++) {
    const centre = Array.from({ length: dim }, () => rng.normal());
    for (let k = 0; k < d; k++) {
      const row = c * d + k;
      clusters[row] = c;
      classes[row] = c % 4;
      for (let j = 0; j < dim; j++) embeddings[row * dim + j] = centre[j] + rng.normal() * 0.8;
    }
  }
  return { embeddings, dim, clusters, classes, alpha: 1 };
}

/** The same loss and formulas in TF.js (log space, as ours), differentiated by tf.valueAndGrad. */
function tfjsMagnet(b: MagnetBatch, m: number) {
  const n = b.clusters.length;
  const assign = tf.oneHot(tf.tensor1d(b.clusters, "int32"), m).toFloat(); // [N, M]
  const counts = tf.sum(assign, 0).reshape([m, 1]);
  const clusterClass = Int32Array.from({ length: m }, (_, c) => b.classes[b.clusters.indexOf(c)]);
  const impostor = tf.tensor2d(
    Float32Array.from(
      { length: n * m },
      (_, i) => (b.classes[Math.floor(i / m)] === clusterClass[i % m] ? 0 : 1),
    ),
    [n, m],
  );
  const loss = (r: tf.Tensor) => {
    const means = tf.div(tf.matMul(assign, r, true, false), counts); // [M, dim]
    const own = tf.sum(tf.square(tf.sub(r, tf.matMul(assign, means))), 1); // [N]
    const variance = tf.div(tf.sum(own), n - 1);
    const twoVar = tf.mul(variance, 2);
    // Distances to every mean through one matrix product, as magnet's graph computes them.
    const dist = tf.maximum(
      tf.sub(
        tf.add(tf.sum(tf.square(r), 1, true), tf.sum(tf.square(means), 1).reshape([1, m])),
        tf.mul(tf.matMul(r, means, false, true), 2),
      ),
      0,
    );
    const logits = tf.where(
      tf.greater(impostor, 0),
      tf.neg(tf.div(dist, twoVar)),
      tf.fill([n, m], -1e30),
    );
    const lse = tf.logSumExp(logits, 1);
    return tf.mean(tf.relu(tf.add(tf.add(tf.div(own, twoVar), b.alpha ?? 1), lse))) as tf.Scalar;
  };
  return tf.valueAndGrad(loss);
}

const CONFIGS: [number, number, number][] = [[12, 4, 64], [8, 8, 128], [64, 16, 128]];

for (const [m, d, dim] of CONFIGS) {
  const group = `magnet loss fwd+bwd M=${m} D=${d} dim=${dim}`;
  const b = batch(m, d, dim);
  // Several calls per timed iteration for the small batches; the large one is slow enough alone.
  const large = m * d > 500;
  const calls = large ? 1 : 5;
  const runs = { n: large ? 5 : 20, warmup: large ? 1 : 3 };
  for (const kind of ["cpu", "webgpu"] as const) {
    Deno.bench(`magnet ${kind} ${m}/${d}/${dim}, ${calls} call${calls > 1 ? "s" : ""}`, {
      group,
      baseline: kind === "cpu",
      ...runs,
    }, async () => {
      await timed(group, `magnet ${kind}`, calls, "ms/call", async () => {
        for (let i = 0; i < calls; i++) await computeMagnetLoss(backends[kind], b);
      });
    });
  }
  for (const kind of ["cpu", "wasm", "webgpu"] as const) {
    let fn: ReturnType<typeof tfjsMagnet> | undefined;
    let r: tf.Tensor | undefined;
    Deno.bench(`tfjs ${kind} ${m}/${d}/${dim}, ${calls} call${calls > 1 ? "s" : ""}`, {
      group,
      ...runs,
    }, async () => {
      if (tf.getBackend() !== kind) await tf.setBackend(kind);
      fn ??= tfjsMagnet(b, m);
      r ??= tf.tensor2d(b.embeddings, [m * d, dim]);
      await timed(group, `tfjs ${kind}`, calls, "ms/call", async () => {
        for (let i = 0; i < calls; i++) {
          const { value, grad } = fn!(r!);
          await value.data();
          await grad.data();
          value.dispose();
          grad.dispose();
        }
      });
    });
  }
}
