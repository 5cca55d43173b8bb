/**
 * ResNet-18 (torchvision's layout: 7x7 stem, max pool, four stages of two basic blocks, global
 * average pool, a 1000-way linear layer) as an ONNX file written with our own builder, with seeded
 * random weights and batch-normalisation statistics: the full-size network of the benchmarks,
 * without Python or a download. Speed does not depend on the weights.
 */
import { OnnxBuilder } from "../../src/nn/onnx/builder.ts";
import { Random } from "../../src/util/random.ts";

/** The bytes of a ResNet-18 ONNX file (opset 17, input "images" [N, 3, H, W], any size). */
export function resnet18Onnx(seed = 1): Uint8Array<ArrayBuffer> {
  const b = new OnnxBuilder(17);
  const rng = new Random(seed);
  const normal = (n: number, scale: number) =>
    Float32Array.from({ length: n }, () => rng.normal() * scale);
  const conv = (x: string, cin: number, cout: number, k: number, stride: number, name: string) => {
    const w = b.floats(
      `${name}.weight`,
      [cout, cin, k, k],
      normal(cout * cin * k * k, Math.sqrt(2 / (cin * k * k))),
    );
    const pad = (k - 1) >> 1;
    return b.node("Conv", [x, w], {
      kernel_shape: [k, k],
      strides: [stride, stride],
      pads: [pad, pad, pad, pad],
    })[0];
  };
  const bn = (x: string, c: number, name: string) =>
    b.node("BatchNormalization", [
      x,
      b.floats(`${name}.weight`, [c], normal(c, 0.1).map((v) => 1 + v)),
      b.floats(`${name}.bias`, [c], normal(c, 0.1)),
      b.floats(`${name}.running_mean`, [c], normal(c, 0.1)),
      b.floats(`${name}.running_var`, [c], normal(c, 0.1).map((v) => 1 + Math.abs(v))),
    ])[0];
  const block = (x: string, cin: number, cout: number, stride: number, name: string) => {
    let y =
      b.node("Relu", [bn(conv(x, cin, cout, 3, stride, `${name}.conv1`), cout, `${name}.bn1`)])[0];
    y = bn(conv(y, cout, cout, 3, 1, `${name}.conv2`), cout, `${name}.bn2`);
    const skip = stride === 1 && cin === cout
      ? x
      : bn(conv(x, cin, cout, 1, stride, `${name}.downsample.0`), cout, `${name}.downsample.1`);
    return b.node("Relu", [b.node("Add", [y, skip])[0]])[0];
  };
  let x = b.input("images", ["N", 3, "H", "W"]);
  x = b.node("Relu", [bn(conv(x, 3, 64, 7, 2, "conv1"), 64, "bn1")])[0];
  x = b.node("MaxPool", [x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] })[0];
  let cin = 64;
  [64, 128, 256, 512].forEach((cout, i) => {
    x = block(x, cin, cout, i === 0 ? 1 : 2, `layer${i + 1}.0`);
    x = block(x, cout, cout, 1, `layer${i + 1}.1`);
    cin = cout;
  });
  const features = b.node("Flatten", [b.node("GlobalAveragePool", [x])[0]], {}, ["features"])[0];
  const fc = b.node("Gemm", [
    features,
    b.floats("fc.weight", [1000, 512], normal(512000, 1 / Math.sqrt(512))),
    b.floats("fc.bias", [1000], normal(1000, 0.01)),
  ], { transB: 1 })[0];
  b.node("Identity", [fc], {}, ["logits"]);
  b.output("logits", ["N", 1000]);
  return b.bytes("magnet bench");
}
