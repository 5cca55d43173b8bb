/** SGD with momentum and Adam against plain-loop references, on every backend. */
import { adam, type Optimizer, sgd } from "../../src/optim/optimizer.ts";
import { gradients } from "../../src/graph/autodiff.ts";
import { sumAll } from "../../src/graph/functions.ts";
import { mul, square, sub } from "../../src/graph/ops.ts";
import { Graph, Variable } from "../../src/graph/tensor.ts";
import { assertClose, gpuTestOptions, openBackends } from "../helpers/backends.ts";

const TARGET = [1, -2, 0.5, 3];
const START = [0, 0, 0, 0];
const SCALE = [1, 10, 0.1, 2]; // loss = sum(scale * (p - target)^2): gradient 2 scale (p - target)

function grad(p: number[]): number[] {
  return p.map((v, i) => 2 * SCALE[i] * (v - TARGET[i]));
}

function referenceSgd(steps: number, lr: number, momentum: number): number[] {
  const p = [...START], v = [0, 0, 0, 0];
  for (let s = 0; s < steps; s++) {
    const g = grad(p);
    for (let i = 0; i < 4; i++) {
      v[i] = momentum * v[i] + g[i];
      p[i] -= lr * v[i];
    }
  }
  return p;
}

function referenceAdam(steps: number, lr: number, b1: number, b2: number, eps: number): number[] {
  const p = [...START], m = [0, 0, 0, 0], v = [0, 0, 0, 0];
  for (let t = 1; t <= steps; t++) {
    const g = grad(p);
    for (let i = 0; i < 4; i++) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const denom = Math.sqrt(v[i]) / Math.sqrt(1 - b2 ** t) + eps;
      p[i] -= (lr / (1 - b1 ** t)) * (m[i] / denom);
    }
  }
  return p;
}

Deno.test("optimizers", gpuTestOptions, async (t) => {
  const backends = await openBackends();
  try {
    const cases: [string, () => Optimizer, number[]][] = [
      ["sgd momentum 0.9", () => sgd({ lr: 0.01, momentum: 0.9 }), referenceSgd(25, 0.01, 0.9)],
      ["sgd no momentum", () => sgd({ lr: 0.02, momentum: 0 }), referenceSgd(25, 0.02, 0)],
      ["adam", () => adam({ lr: 0.1 }), referenceAdam(25, 0.1, 0.9, 0.999, 1e-8)],
      [
        "adam (other betas)",
        () => adam({ lr: 0.05, beta1: 0.5, beta2: 0.9, epsilon: 1e-3 }),
        referenceAdam(25, 0.05, 0.5, 0.9, 1e-3),
      ],
    ];
    for (const backend of backends) {
      for (const [name, make, expected] of cases) {
        await t.step(`${name} on ${backend.kind}: 25 steps match the reference`, async () => {
          const p = new Variable("p", [2, 2], START);
          const g = new Graph();
          const pt = g.variable(p);
          const loss = sumAll(
            mul(g.constant(SCALE, [2, 2]), square(sub(pt, g.constant(TARGET, [2, 2])))),
          );
          const [dp] = gradients(loss, [pt]);
          const optimizer = make();
          const exe = await backend.compile({ updates: optimizer.updates([p], [dp]) });
          for (let s = 0; s < 25; s++) await exe.run();
          assertClose(await backend.readVariable(p), expected, 1e-4, name);
        });
      }
    }
  } finally {
    for (const b of backends) b.dispose();
  }
});
