/**
 * Optimizers as graph builders: given parameters and their gradients (nodes of a training graph),
 * they return the variable updates that a backend applies at the end of each run. So parameters and
 * optimizer state never leave the device, and one run is one whole training step.
 */
import { ShapeError } from "../errors.ts";
import { add, div, exp, mul, sqrt, square, sub } from "../graph/ops.ts";
import { type Tensor, Variable } from "../graph/tensor.ts";
import type { Update } from "../backend/backend.ts";

/** An optimizer: builds update nodes and owns its state variables. */
export interface Optimizer {
  /** Which rule this is. */
  readonly kind: "sgd" | "adam";
  /**
   * The updates of one step for `params` given `grads` (in the same order, same graph); `scales`
   * multiply each parameter's learning rate (default 1 each).
   */
  updates(
    params: readonly Variable[],
    grads: readonly Tensor[],
    scales?: readonly number[],
  ): Update[];
  /** The state variables created so far (momenta, step count), for checkpoints. */
  readonly state: readonly Variable[];
}

/** Options of {@link sgd}. */
export interface SgdOptions {
  /** Learning rate. */
  readonly lr: number;
  /** Momentum (heavy ball, as PyTorch's SGD). Default 0.9; 0 disables it. */
  readonly momentum?: number;
}

/** Options of {@link adam}. */
export interface AdamOptions {
  /** Learning rate. Default 1e-3. */
  readonly lr?: number;
  /** Default 0.9. */
  readonly beta1?: number;
  /** Default 0.999. */
  readonly beta2?: number;
  /** Default 1e-8. */
  readonly epsilon?: number;
}

function checkPairs(params: readonly Variable[], grads: readonly Tensor[]): void {
  if (params.length !== grads.length) {
    throw new ShapeError("optimizer", `${params.length} parameters but ${grads.length} gradients`);
  }
  params.forEach((p, i) => {
    if (grads[i].size !== p.size) {
      throw new ShapeError(
        "optimizer",
        `gradient ${grads[i]} does not match parameter "${p.name}"`,
      );
    }
  });
}

/** One state variable per parameter, created on first use and reused after. */
class StateOf {
  #byParam = new Map<Variable, Variable>();
  constructor(readonly suffix: string, readonly all: Variable[]) {}
  get(p: Variable): Variable {
    let v = this.#byParam.get(p);
    if (v === undefined) {
      v = new Variable(`${p.name}.${this.suffix}`, p.shape);
      this.#byParam.set(p, v);
      this.all.push(v);
    }
    return v;
  }
}

/** Stochastic gradient descent with momentum: v = momentum v + g; p = p - lr v. */
export function sgd(options: SgdOptions): Optimizer {
  const { lr } = options;
  const momentum = options.momentum ?? 0.9;
  const state: Variable[] = [];
  const velocity = new StateOf("velocity", state);
  return {
    kind: "sgd",
    state,
    updates(params, grads, scales) {
      checkPairs(params, grads);
      return params.flatMap((p, i): Update[] => {
        const g = grads[i].graph;
        const grad = grads[i];
        const rate = lr * (scales?.[i] ?? 1);
        if (momentum === 0) return [[p, sub(g.variable(p), mul(grad, rate))]];
        const v = velocity.get(p);
        const next = add(mul(g.variable(v), momentum), grad);
        return [[v, next], [p, sub(g.variable(p), mul(next, rate))]];
      });
    },
  };
}

/**
 * Adam (Kingma and Ba), with PyTorch's placement of epsilon:
 * p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + epsilon).
 */
export function adam(options: AdamOptions = {}): Optimizer {
  const lr = options.lr ?? 1e-3;
  const beta1 = options.beta1 ?? 0.9;
  const beta2 = options.beta2 ?? 0.999;
  const epsilon = options.epsilon ?? 1e-8;
  const state: Variable[] = [];
  const first = new StateOf("adam.m", state);
  const second = new StateOf("adam.v", state);
  const step = new Variable("adam.step", [1]);
  state.push(step);
  return {
    kind: "adam",
    state,
    updates(params, grads, scales) {
      checkPairs(params, grads);
      if (params.length === 0) return [];
      const g = grads[0].graph;
      const t = add(g.variable(step), 1);
      // beta^t as exp(t ln beta): the graph has no pow, and t is a tensor.
      const correction1 = sub(1, exp(mul(t, Math.log(beta1))));
      const correction2 = sub(1, exp(mul(t, Math.log(beta2))));
      const stepSize = div(lr, correction1);
      const rootCorrection2 = sqrt(correction2);
      const updates: Update[] = [[step, t]];
      params.forEach((p, i) => {
        const grad = grads[i];
        const m = first.get(p), v = second.get(p);
        const mNext = add(mul(g.variable(m), beta1), mul(grad, 1 - beta1));
        const vNext = add(mul(g.variable(v), beta2), mul(square(grad), 1 - beta2));
        const denominator = add(div(sqrt(vNext), rootCorrection2), epsilon);
        const scale = scales?.[i] ?? 1;
        const size = scale === 1 ? stepSize : mul(stepSize, scale);
        const pNext = sub(g.variable(p), mul(size, div(mNext, denominator)));
        updates.push([m, mNext], [v, vNext], [p, pNext]);
      });
      return updates;
    },
  };
}
