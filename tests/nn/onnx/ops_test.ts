/**
 * Every imported ONNX operator, one small model per case (written here with our builder, so no
 * fixture and no Python): our output on the CPU and WebGPU against onnxruntime's (npm's
 * WebAssembly build, in this process) on non-square images, so a height/width or NCHW/NHWC mix-up
 * shows; and the imported graph's gradient, with respect to the input and to every weight,
 * against float64 finite differences, then on each backend against the float64 reference.
 */
import assert from "node:assert/strict";
import { OnnxBuilder } from "../../../src/nn/onnx/builder.ts";
import { floatTensor } from "../../../src/nn/onnx/onnx_proto.ts";
import { readOnnx } from "../../../src/nn/onnx/source.ts";
import { OnnxNetwork } from "../../../src/nn/onnx/network.ts";
import { permute } from "../../../src/nn/onnx/values.ts";
import { SUPPORTED_OPS } from "../../../src/nn/onnx/converters.ts";
import { Graph, type Tensor } from "../../../src/graph/tensor.ts";
import { assertGradcheck, type CheckInput, crossCheck } from "../../../src/check/gradcheck.ts";
import { Random } from "../../../src/util/random.ts";
import { assertClose, gpuTestOptions, openBackends } from "../../helpers/backends.ts";
import { runOnnxruntime } from "../../helpers/onnxruntime.ts";

interface OpCase {
  /** What the case covers. */
  name: string;
  /** The ONNX operators it exercises (checked: every supported op is covered). */
  ops: string[];
  /** The input's shape (NCHW images, or [N, F] rows). */
  shape: number[];
  opset?: number;
  /** Writes the model from input "x"; returns the output's name. */
  build: (b: OnnxBuilder, rng: Random) => string;
  /** The model has nothing to differentiate (shape arithmetic only). */
  noGrad?: boolean;
}

const normal = (rng: Random, n: number) => Float32Array.from({ length: n }, () => rng.normal());
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** A weight initializer of `shape`, random normal scaled by 1 / sqrt(fan-in). */
function weight(
  b: OnnxBuilder,
  rng: Random,
  shape: number[],
  fanIn = size(shape.slice(1)),
): string {
  const scale = 1 / Math.sqrt(Math.max(fanIn, 1));
  return b.floats(b.name("w"), shape, normal(rng, size(shape)).map((v) => v * scale));
}

function conv(
  b: OnnxBuilder,
  rng: Random,
  x: string,
  cin: number,
  cout: number,
  k: [number, number],
  attrs: Record<string, number | number[] | string> = {},
  bias = true,
): string {
  const group = (attrs.group as number | undefined) ?? 1;
  const inputs = [x, weight(b, rng, [cout, cin / group, ...k])];
  if (bias) inputs.push(weight(b, rng, [cout], 1));
  return b.node("Conv", inputs, { kernel_shape: k, ...attrs })[0];
}

const cases: OpCase[] = [
  {
    name: "Conv 3x3, pads 1, bias",
    ops: ["Conv"],
    shape: [2, 3, 7, 6],
    build: (b, rng) => conv(b, rng, "x", 3, 4, [3, 3], { pads: [1, 1, 1, 1] }),
  },
  {
    name: "Conv grouped, dilated, strides 2x1, asymmetric pads",
    ops: ["Conv"],
    shape: [2, 4, 9, 7],
    build: (b, rng) =>
      conv(b, rng, "x", 4, 6, [3, 2], {
        group: 2,
        dilations: [2, 1],
        strides: [2, 1],
        pads: [1, 0, 2, 1],
      }),
  },
  {
    name: "Conv depthwise (multiplier 2), stride 2, no bias",
    ops: ["Conv"],
    shape: [2, 3, 8, 7],
    build: (b, rng) =>
      conv(b, rng, "x", 3, 6, [3, 3], { group: 3, strides: [2, 2], pads: [1, 1, 1, 1] }, false),
  },
  ...["SAME_UPPER", "SAME_LOWER", "VALID"].map((autoPad): OpCase => ({
    name: `Conv auto_pad ${autoPad}, stride 2`,
    ops: ["Conv"],
    shape: [1, 2, 8, 5],
    build: (b, rng) => conv(b, rng, "x", 2, 3, [4, 3], { auto_pad: autoPad, strides: [2, 2] }),
  })),
  {
    name: "Conv 1x1 then BatchNormalization (inference)",
    ops: ["Conv", "BatchNormalization"],
    shape: [2, 3, 5, 6],
    build: (b, rng) => {
      const y = conv(b, rng, "x", 3, 4, [1, 1]);
      const stats = [
        b.floats("scale", [4], normal(rng, 4).map((v) => 1 + 0.3 * v)),
        b.floats("shift", [4], normal(rng, 4)),
        b.floats("mean", [4], normal(rng, 4)),
        b.floats("variance", [4], normal(rng, 4).map((v) => 0.5 + v * v)),
      ];
      return b.node("BatchNormalization", [y, ...stats], { epsilon: { float: 1e-3 } })[0];
    },
  },
  {
    name: "BatchNormalization of rows (BatchNorm1d)",
    ops: ["BatchNormalization"],
    shape: [4, 5],
    build: (b, rng) =>
      b.node("BatchNormalization", [
        "x",
        b.floats("scale", [5], normal(rng, 5)),
        b.floats("shift", [5], normal(rng, 5)),
        b.floats("mean", [5], normal(rng, 5)),
        b.floats("variance", [5], normal(rng, 5).map((v) => 0.5 + v * v)),
      ])[0],
  },
  {
    name: "Relu, Sigmoid, Tanh, Exp, Neg, Sqrt of Sigmoid",
    ops: ["Relu", "Sigmoid", "Tanh", "Exp", "Neg", "Sqrt", "Add"],
    shape: [2, 3, 4, 5],
    build: (b) => {
      const r = b.node("Relu", ["x"])[0];
      const s = b.node("Sqrt", [b.node("Sigmoid", [r])[0]])[0];
      const t = b.node("Neg", [b.node("Tanh", [b.node("Exp", [s])[0]])[0]])[0];
      return b.node("Add", [t, "x"])[0];
    },
  },
  {
    name: "Clip with bound inputs (opset 13), HardSigmoid, HardSwish",
    ops: ["Clip", "HardSigmoid", "HardSwish", "Mul"],
    shape: [2, 3, 5, 4],
    opset: 14,
    build: (b) => {
      const c = b.node("Clip", ["x", b.floats("low", [], [-0.5]), b.floats("high", [], [1])])[0];
      const s = b.node("HardSigmoid", ["x"], { alpha: { float: 0.3 }, beta: { float: 0.6 } })[0];
      const w = b.node("HardSwish", [b.node("Mul", ["x", b.floats("k", [], [4])])[0]])[0];
      return b.node("Add", [b.node("Mul", [c, s])[0], w])[0];
    },
  },
  {
    name: "Clip with attributes (opset 9), only the upper bound given as input (opset 13)",
    ops: ["Clip"],
    shape: [3, 4],
    opset: 9,
    build: (b) => b.node("Clip", ["x"], { min: { float: -0.3 }, max: { float: 0.8 } })[0],
  },
  {
    name: "Add, Sub, Mul, Div broadcasting per-channel constants against images",
    ops: ["Add", "Sub", "Mul", "Div"],
    shape: [2, 3, 4, 5],
    build: (b, rng) => {
      const y = conv(b, rng, "x", 3, 3, [1, 1]);
      const perChannel = b.floats("c", [3, 1, 1], [0.5, -1, 2]);
      const row = b.floats("r", [5], normal(rng, 5));
      const a = b.node("Add", [y, perChannel])[0];
      const s = b.node("Sub", [row, a])[0];
      const m = b.node("Mul", [s, b.node("Sigmoid", [y])[0]])[0];
      return b.node("Div", [m, b.floats("d", [1, 3, 1, 1], [2, 4, -3])])[0];
    },
  },
  {
    name: "MaxPool 3x3 stride 2 pad 1 (ResNet's)",
    ops: ["MaxPool"],
    shape: [2, 2, 9, 8],
    build: (b) =>
      b.node("MaxPool", ["x"], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] })[0],
  },
  {
    name: "MaxPool ceil mode, asymmetric pads, dilation",
    ops: ["MaxPool"],
    shape: [2, 2, 9, 8],
    opset: 12,
    build: (b) =>
      b.node("MaxPool", ["x"], {
        kernel_shape: [2, 3],
        strides: [2, 2],
        pads: [0, 1, 1, 0],
        dilations: [2, 1],
        ceil_mode: 1,
      })[0],
  },
  ...[0, 1].map((include): OpCase => ({
    name: `AveragePool ceil mode, pads, count_include_pad ${include}`,
    ops: ["AveragePool"],
    shape: [2, 2, 7, 8],
    build: (b) =>
      b.node("AveragePool", ["x"], {
        kernel_shape: [3, 2],
        strides: [2, 2],
        pads: [1, 1, 1, 0],
        ceil_mode: 1,
        count_include_pad: include,
      })[0],
  })),
  {
    name: "GlobalAveragePool, GlobalMaxPool, Flatten, Gemm (transB, alpha, beta)",
    ops: ["GlobalAveragePool", "GlobalMaxPool", "Flatten", "Gemm"],
    shape: [2, 3, 5, 4],
    build: (b, rng) => {
      const avg = b.node("GlobalAveragePool", ["x"])[0];
      const top = b.node("GlobalMaxPool", ["x"])[0];
      const f = b.node("Flatten", [b.node("Add", [avg, top])[0]])[0];
      return b.node("Gemm", [f, weight(b, rng, [4, 3]), weight(b, rng, [4], 1)], {
        transB: 1,
        alpha: { float: 0.5 },
        beta: { float: 2 },
      })[0];
    },
  },
  {
    name: "Flatten after a convolution keeps ONNX's NCHW order (axis 1 and 2)",
    ops: ["Flatten"],
    shape: [2, 3, 4, 5],
    build: (b, rng) => {
      const y = conv(b, rng, "x", 3, 2, [3, 3], { pads: [1, 1, 1, 1] });
      const f2 = b.node("Flatten", [y], { axis: 2 })[0];
      const g = b.node("Gemm", [f2, weight(b, rng, [20, 3])])[0]; // [N * 2, 3]
      const rows = b.node("Reshape", [g, b.ints("rows", [-1, 6])])[0];
      return b.node("Concat", [rows, b.node("Flatten", [y])[0]], { axis: 1 })[0];
    },
  },
  {
    name: "ReduceMean over H, W (opset 17 attribute, keepdims) and channels (opset 18 input)",
    ops: ["ReduceMean", "ReduceSum", "ReduceMax"],
    shape: [2, 3, 4, 5],
    opset: 18,
    build: (b, rng) => {
      const y = conv(b, rng, "x", 3, 4, [1, 1]);
      const hw = b.node("ReduceMean", [y, b.ints("hw", [-1, -2])], { keepdims: 1 })[0];
      const scaled = b.node("Mul", [y, hw])[0];
      const c = b.node("ReduceMean", [scaled, b.ints("c", [1])], { keepdims: 0 })[0];
      const s = b.node("ReduceSum", [c, b.ints("w", [2])], { keepdims: 0 })[0];
      return b.node("Add", [s, b.node("ReduceMax", [c, b.ints("h", [2])], { keepdims: 0 })[0]])[0];
    },
  },
  {
    name: "ReduceMean with axes as an attribute (opset 13)",
    ops: ["ReduceMean"],
    shape: [2, 3, 4, 5],
    opset: 13,
    build: (b) => b.node("ReduceMean", ["x"], { axes: [1, 3], keepdims: 1 })[0],
  },
  {
    name: "MatMul of rows and of images by a matrix",
    ops: ["MatMul"],
    shape: [2, 3, 4, 5],
    build: (b, rng) => {
      const y = conv(b, rng, "x", 3, 3, [1, 1]);
      const right = b.node("MatMul", [y, weight(b, rng, [5, 2])])[0]; // [2, 3, 4, 2]
      const rows = b.node("Flatten", [right])[0];
      return b.node("MatMul", [rows, weight(b, rng, [24, 3])])[0];
    },
  },
  {
    name: "Reshape [0, -1] after a convolution, Transpose to channels last",
    ops: ["Reshape", "Transpose"],
    shape: [2, 3, 4, 5],
    build: (b, rng) => {
      const y = conv(b, rng, "x", 3, 4, [3, 3], { pads: [1, 1, 1, 1] });
      const t = b.node("Transpose", [y], { perm: [0, 2, 3, 1] })[0];
      const r = b.node("Reshape", [t, b.ints("shape", [0, 20, -1])])[0];
      return b.node("Reshape", [r, b.ints("flat", [0, -1])])[0];
    },
  },
  {
    name: "Concat on channels (images) and on rows",
    ops: ["Concat", "Identity", "Dropout"],
    shape: [2, 3, 4, 5],
    opset: 13,
    build: (b, rng) => {
      const y = conv(b, rng, "x", 3, 2, [3, 3], { pads: [1, 1, 1, 1] });
      const r = b.node("Relu", [b.node("Identity", [y])[0]])[0];
      const c = b.node("Concat", [y, r, "x"], { axis: 1 })[0];
      const d = b.node("Dropout", [c, b.floats("ratio", [], [0.3])])[0];
      return b.node("Concat", [d, b.node("Neg", [d])[0]], { axis: 3 })[0];
    },
  },
  {
    name: "Pad (zero, height and width) before a convolution",
    ops: ["Pad"],
    shape: [2, 2, 5, 4],
    opset: 13,
    build: (b, rng) => {
      const p = b.node("Pad", ["x", b.ints("pads", [0, 0, 1, 0, 0, 0, 2, 1])])[0];
      return conv(b, rng, p, 2, 3, [3, 3], { strides: [2, 2] });
    },
  },
  {
    name: "x.view(x.size(0), -1): Shape, Gather, Unsqueeze, Concat, Reshape (folded)",
    ops: ["Shape", "Gather", "Unsqueeze", "Concat", "Reshape", "Cast", "Squeeze"],
    shape: [2, 3, 4, 5],
    opset: 13,
    build: (b, rng) => {
      const y = conv(b, rng, "x", 3, 2, [1, 1]);
      const shape = b.node("Shape", [y])[0];
      const batch = b.node("Gather", [shape, b.ints("zero", [0], [])], { axis: 0 })[0];
      const cast = b.node("Cast", [batch], { to: 7 })[0];
      const u = b.node("Unsqueeze", [cast, b.ints("ax", [0])])[0];
      const target = b.node("Concat", [u, b.ints("rest", [-1])], { axis: 0 })[0];
      const flat = b.node("Reshape", [y, target])[0];
      const sq = b.node("Unsqueeze", [flat, b.ints("ax2", [1])])[0];
      return b.node("Squeeze", [sq, b.ints("ax3", [1])])[0];
    },
  },
  {
    name: "Slice, Gather and Expand on tensors, ConstantOfShape",
    ops: ["Slice", "Gather", "Expand", "ConstantOfShape"],
    shape: [2, 3, 6, 5],
    opset: 13,
    build: (b) => {
      const s = b.node("Slice", [
        "x",
        b.ints("starts", [1, -1]),
        b.ints("ends", [3, 0]),
        b.ints("axes", [1, 2]),
        b.ints("steps", [1, -2]),
      ])[0]; // [2, 2, 3, 5]
      const g = b.node("Gather", [s, b.ints("idx", [4, 0])], { axis: 3 })[0]; // [2, 2, 3, 2]
      const ones = b.node("ConstantOfShape", [b.ints("shp", [2, 2, 1, 1])], {
        value: floatTensor("v", [1], [1.5]),
      })[0];
      const e = b.node("Expand", [b.node("Mul", [g, ones])[0], b.ints("to", [2, 2, 3, 2])])[0];
      return b.node("Flatten", [e])[0];
    },
  },
];

/** Our output and gradients for a case's model. */
async function importCase(c: OpCase, rng: Random) {
  const b = new OnnxBuilder(c.opset ?? 17);
  b.input("x", ["N", ...c.shape.slice(1)]);
  const out = c.build(b, rng);
  b.output(out);
  const bytes = b.bytes();
  const source = await readOnnx(bytes, { label: c.name });
  return { bytes, network: new OnnxNetwork(source, { output: out }) };
}

/** The input as our graph takes it: images channels last. */
function ours(shape: number[], data: Float32Array | Float64Array) {
  if (shape.length !== 4) return { shape, data };
  const [n, c, h, w] = shape;
  return { shape: [n, h, w, c], data: permute(data, shape, [0, 2, 3, 1]) };
}

Deno.test("every supported operator has a case here", () => {
  const covered = new Set(cases.flatMap((c) => c.ops));
  assert.deepEqual(SUPPORTED_OPS.filter((op) => !covered.has(op)), []);
});

Deno.test("ONNX operators", gpuTestOptions, async (t) => {
  const backends = await openBackends();
  try {
    for (const [i, c] of cases.entries()) {
      await t.step(c.name, async (t) => {
        const { bytes, network } = await importCase(c, new Random(100 + i));
        const rng = new Random(200 + i);
        const x = normal(rng, size(c.shape));
        const reference = await runOnnxruntime(bytes, x, c.shape);
        const input = ours(c.shape, x);
        for (const backend of backends) {
          const g = new Graph();
          const { output } = network.build(g.input("x", input.shape), false);
          const [y] = await backend.run([output], { x: input.data });
          assert.equal(output.size, reference.data.length, `${c.name}: output size`);
          assertClose(y, reference.data, 1e-4, `${c.name} on ${backend.description}`);
        }
        if (c.noGrad) return;
        // Gradients with respect to the input and to every weight, as graph inputs.
        const variables = [...network.variables.values()];
        const inputs: CheckInput[] = [
          { name: "x", shape: input.shape, data: input.data },
          ...variables.map((v) => ({ name: v.name, shape: v.shape, data: v.initial })),
        ];
        const build = (ins: Readonly<Record<string, Tensor>>) =>
          network.build(ins.x, false, (v) => ins[v.name]).output;
        await t.step("gradient against float64 finite differences", async () => {
          await assertGradcheck(build, inputs, { maxElementsPerInput: 16 });
        });
        for (const backend of backends) {
          await t.step(`${backend.description} against the float64 reference`, async () => {
            const report = await crossCheck(backend, build, inputs, { rtol: 1e-4 });
            assert.ok(report.ok, JSON.stringify(report.comparisons));
          });
        }
      });
    }
  } finally {
    for (const b of backends) b.dispose();
  }
});
