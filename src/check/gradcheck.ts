/**
 * The one gradient checker: central finite differences of any graph in float64 on the CPU backend,
 * against the graph's analytic gradient; and a cross-backend check that runs the same graph and its
 * gradient on another backend (WebGPU) and compares with the float64 CPU result.
 */
import { MagnetInputError } from "../errors.ts";
import { gradients } from "../graph/autodiff.ts";
import { sumAll } from "../graph/functions.ts";
import { mul, reshape } from "../graph/ops.ts";
import { type DType, Graph, type Shape, sizeOf, type Tensor } from "../graph/tensor.ts";
import type { Backend, HostArray } from "../backend/backend.ts";
import { Executor } from "../backend/executor.ts";
import { JsDevice } from "../backend/js/device.ts";
import { Random } from "../util/random.ts";

/** One input of a checked graph: its name, shape, value and whether to differentiate it. */
export interface CheckInput {
  /** Input name (the key in the builder's record). */
  readonly name: string;
  /** Input shape. */
  readonly shape: Shape;
  /** Values, row-major: the point where the gradient is checked. */
  readonly data: ArrayLike<number>;
  /** Default "float". int32 inputs (indices) are fed but never differentiated. */
  readonly dtype?: DType;
  /** Default true for float inputs. */
  readonly differentiable?: boolean;
}

/** Builds the checked output from the graph's inputs (by name). */
export type GraphBuilder = (inputs: Readonly<Record<string, Tensor>>) => Tensor;

/** Options of {@link gradcheck}. */
export interface GradcheckOptions {
  /** Finite-difference step. Default 1e-6. */
  epsilon?: number;
  /** Relative tolerance. Default 1e-6. */
  rtol?: number;
  /**
   * Absolute tolerance. Default 1e-8. The rounding error of the differences themselves
   * (8 x machine epsilon x |f| / epsilon) is always allowed on top.
   */
  atol?: number;
  /** Elements checked per input at most (a seeded sample beyond that). Default 512. */
  maxElementsPerInput?: number;
  /** Seed of the output projection and the sample. Default 1. */
  seed?: number;
}

/** The largest disagreement found. */
export interface Mismatch {
  /** Which input. */
  readonly input: string;
  /** Element index within that input. */
  readonly index: number;
  /** The gradient the graph computes. */
  readonly analytic: number;
  /** The central finite difference. */
  readonly numeric: number;
}

/** Result of {@link gradcheck}. */
export interface GradcheckReport {
  /** True when every checked element is within tolerance. */
  readonly ok: boolean;
  /** Largest |analytic - numeric|. */
  readonly maxAbsError: number;
  /** Largest |analytic - numeric| / (atol + rtol * max(|analytic|, |numeric|)); ok when <= 1. */
  readonly worstRatio: number;
  /** Where the worst ratio occurred. */
  readonly worst: Mismatch | null;
  /** Number of elements compared. */
  readonly checked: number;
}

interface Built {
  graph: Graph;
  inputs: Record<string, Tensor>;
  output: Tensor;
  objective: Tensor;
  grads: Tensor[];
  differentiable: CheckInput[];
}

/**
 * A scalar objective from `build`: the output itself when scalar, else its dot product with fixed
 * random weights, so every output element's gradient is exercised.
 */
function buildObjective(build: GraphBuilder, specs: readonly CheckInput[], seed: number): Built {
  const graph = new Graph();
  const inputs: Record<string, Tensor> = {};
  for (const s of specs) inputs[s.name] = graph.input(s.name, s.shape, s.dtype ?? "float");
  const output = build(inputs);
  let objective: Tensor;
  if (output.size === 1) {
    objective = reshape(output, []);
  } else {
    const rng = new Random(seed);
    const weights = Float64Array.from({ length: output.size }, () => rng.normal());
    objective = sumAll(mul(output, graph.constant(weights, output.shape)));
  }
  const differentiable = specs.filter((s) =>
    (s.dtype ?? "float") === "float" && s.differentiable !== false
  );
  const grads = gradients(objective, differentiable.map((s) => inputs[s.name]));
  return { graph, inputs, output, objective, grads, differentiable };
}

function feedsOf(specs: readonly CheckInput[]): Record<string, Float64Array | Int32Array> {
  const feeds: Record<string, Float64Array | Int32Array> = {};
  for (const s of specs) {
    if (s.data.length !== sizeOf(s.shape)) {
      throw new MagnetInputError(
        `check input "${s.name}" has ${s.data.length} values for shape [${s.shape}]`,
      );
    }
    feeds[s.name] = s.dtype === "int32" ? Int32Array.from(s.data) : Float64Array.from(s.data);
  }
  return feeds;
}

/**
 * Checks the analytic gradient of the graph `build` makes against central finite differences, in
 * float64 on the CPU backend, at the point given by `inputs`.
 *
 * @example
 * ```ts
 * const report = await gradcheck(({ x }) => exp(x), [{ name: "x", shape: [3], data: [0.1, 0.2, 0.3] }]);
 * console.log(report.ok);
 * ```
 */
export async function gradcheck(
  build: GraphBuilder,
  inputs: readonly CheckInput[],
  options: GradcheckOptions = {},
): Promise<GradcheckReport> {
  const eps = options.epsilon ?? 1e-6;
  const rtol = options.rtol ?? 1e-6;
  const atol = options.atol ?? 1e-8;
  const maxElements = options.maxElementsPerInput ?? 512;
  const seed = options.seed ?? 1;
  const built = buildObjective(build, inputs, seed);
  const backend = new Executor(new JsDevice("float64"), { fuse: false });
  try {
    const analyticExe = await backend.compile({ outputs: built.grads });
    const forward = await backend.compile({ outputs: [built.objective] });
    const feeds = feedsOf(inputs);
    const analytic = await analyticExe.run(feeds);
    // Rounding in f(x + eps) - f(x - eps) is about |f| times machine epsilon, divided by eps.
    const [f0] = await forward.run(feeds);
    const roundingFloor = (8 * Number.EPSILON * Math.max(Math.abs(f0[0]), 1)) / eps;
    const rng = new Random(seed + 1);
    let worstRatio = 0, maxAbsError = 0, checked = 0;
    let worst: Mismatch | null = null;
    for (let j = 0; j < built.differentiable.length; j++) {
      const spec = built.differentiable[j];
      const x = feeds[spec.name] as Float64Array;
      const indices = Array.from({ length: x.length }, (_, i) => i);
      if (indices.length > maxElements) rng.shuffle(indices).length = maxElements;
      for (const i of indices) {
        const original = x[i];
        x[i] = original + eps;
        const [plus] = await forward.run(feeds);
        x[i] = original - eps;
        const [minus] = await forward.run(feeds);
        x[i] = original;
        const numeric = (plus[0] - minus[0]) / (2 * eps);
        const a = analytic[j][i];
        const error = Math.abs(a - numeric);
        const ratio = error /
          (atol + roundingFloor + rtol * Math.max(Math.abs(a), Math.abs(numeric)));
        checked++;
        maxAbsError = Math.max(maxAbsError, error);
        if (!(ratio <= worstRatio)) {
          worstRatio = ratio;
          worst = { input: spec.name, index: i, analytic: a, numeric };
        }
      }
    }
    return { ok: worstRatio <= 1, maxAbsError, worstRatio, worst, checked };
  } finally {
    backend.dispose();
  }
}

/** Like {@link gradcheck}, but throws an error describing the worst mismatch when it fails. */
export async function assertGradcheck(
  build: GraphBuilder,
  inputs: readonly CheckInput[],
  options: GradcheckOptions = {},
): Promise<GradcheckReport> {
  const report = await gradcheck(build, inputs, options);
  if (!report.ok) {
    const w = report.worst!;
    throw new Error(
      `gradient check failed: input "${w.input}" element ${w.index}: analytic ${w.analytic}, ` +
        `numeric ${w.numeric} (ratio to tolerance ${report.worstRatio.toPrecision(3)})`,
    );
  }
  return report;
}

/** Options of {@link crossCheck}. */
export interface CrossCheckOptions {
  /** Tolerance relative to each value and to the tensor's largest magnitude. Default 1e-4. */
  rtol?: number;
  /** Seed of the output projection. Default 1. */
  seed?: number;
}

/** Result of {@link crossCheck}: per compared tensor (the output, then each gradient). */
export interface CrossCheckReport {
  /** True when every comparison is within tolerance. */
  readonly ok: boolean;
  /** One entry per compared tensor. */
  readonly comparisons: readonly {
    /** "output" or "d/d<input>". */
    readonly name: string;
    /** Largest |value - reference| / (rtol * (|reference| + max |reference|)); ok when <= 1. */
    readonly worstRatio: number;
    /** Largest |value - reference|. */
    readonly maxAbsError: number;
  }[];
}

/**
 * Runs the graph `build` makes and its gradient on `backend` and on the float64 CPU backend, and
 * compares the output and every gradient.
 */
export async function crossCheck(
  backend: Backend,
  build: GraphBuilder,
  inputs: readonly CheckInput[],
  options: CrossCheckOptions = {},
): Promise<CrossCheckReport> {
  const rtol = options.rtol ?? 1e-4;
  const built = buildObjective(build, inputs, options.seed ?? 1);
  const outputs = [built.output, ...built.grads];
  const names = ["output", ...built.differentiable.map((s) => `d/d${s.name}`)];
  const reference = new Executor(new JsDevice("float64"), { fuse: false });
  let expected: HostArray[];
  try {
    expected = await reference.run(outputs, feedsOf(inputs));
  } finally {
    reference.dispose();
  }
  const exe = await backend.compile({ outputs });
  const actual = await exe.run(feedsOf(inputs));
  const comparisons = names.map((name, j) => {
    const ref = expected[j], got = actual[j];
    let scale = 0;
    for (let i = 0; i < ref.length; i++) scale = Math.max(scale, Math.abs(ref[i]));
    let worstRatio = 0, maxAbsError = 0;
    for (let i = 0; i < ref.length; i++) {
      const error = Math.abs(got[i] - ref[i]);
      const ratio = error / (rtol * (Math.abs(ref[i]) + scale) + Number.MIN_VALUE);
      maxAbsError = Math.max(maxAbsError, error);
      if (!(ratio <= worstRatio)) worstRatio = ratio;
    }
    return { name, worstRatio, maxAbsError };
  });
  return { ok: comparisons.every((c) => c.worstRatio <= 1), comparisons };
}
