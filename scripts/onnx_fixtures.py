"""ONNX fixtures of the importer's tests, and full-size networks for its benchmarks.

ResNet-18 and MobileNetV3-small are written here in plain PyTorch (torchvision's definitions,
layer for layer; torchvision itself does not import with the CPU build of torch), with random
weights and random batch-normalisation statistics, and exported by ``torch.onnx.export``:

- ``<net>.legacy.onnx``: the TorchScript exporter, opset 17, batch normalisation kept
  (``do_constant_folding=False``), Flatten and GlobalAveragePool;
- ``<net>.dynamo.onnx``: the default (dynamo) exporter, opset 18, batch normalisation folded into
  the convolutions, ReduceMean and Reshape.

Both with a dynamic batch dimension. Each file has a ``.reference.json`` beside it: a seeded input
batch and onnxruntime's output for it (float32, base64), which the tests compare against without
Python. The fixtures are width-reduced (same operators and structure, fewer channels) to stay
well under 1 MB each.

    /work/venv/bin/python scripts/onnx_fixtures.py                 # tests/fixtures/onnx/
    /work/venv/bin/python scripts/onnx_fixtures.py --full DIR      # full-size ResNet-18 (44.7 MB)
                                                                   # and MobileNetV3-small in DIR

Requirements: torch, onnx, onnxruntime, numpy (``pip install`` from the machine's wheel mirror).
"""

import argparse
import base64
import json
import os
import warnings

import numpy as np
import onnx
import onnxruntime
import torch
from torch import nn

warnings.filterwarnings("ignore")


# --- ResNet-18 -------------------------------------------------------------------------------


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    def __init__(self, width=64, classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        layers, cin = [], width
        for i, cout in enumerate([width, 2 * width, 4 * width, 8 * width]):
            stride = 1 if i == 0 else 2
            layers.append(nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)))
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8 * width, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# --- MobileNetV3-small ------------------------------------------------------------------------


def make_divisible(v, divisor=8):
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class ConvBnAct(nn.Sequential):
    def __init__(self, cin, cout, k, stride, groups, act):
        layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
                  nn.BatchNorm2d(cout)]
        if act is not None:
            layers.append(act())
        super().__init__(*layers)


class SqueezeExcitation(nn.Module):
    def __init__(self, channels, squeeze):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.relu = nn.ReLU()
        self.scale_activation = nn.Hardsigmoid()

    def forward(self, x):
        s = self.scale_activation(self.fc2(self.relu(self.fc1(self.avgpool(x)))))
        return s * x


class InvertedResidual(nn.Module):
    def __init__(self, cin, k, expanded, cout, se, act, stride):
        super().__init__()
        activation = nn.Hardswish if act == "HS" else nn.ReLU
        layers = []
        if expanded != cin:
            layers.append(ConvBnAct(cin, expanded, 1, 1, 1, activation))
        layers.append(ConvBnAct(expanded, expanded, k, stride, expanded, activation))
        if se:
            layers.append(SqueezeExcitation(expanded, make_divisible(expanded // 4)))
        layers.append(ConvBnAct(expanded, cout, 1, 1, 1, None))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.block(x)
        return y + x if self.residual else y


class MobileNetV3Small(nn.Module):
    SETTINGS = [  # in, kernel, expanded, out, SE, activation, stride (torchvision's table)
        (16, 3, 16, 16, True, "RE", 2), (16, 3, 72, 24, False, "RE", 2),
        (24, 3, 88, 24, False, "RE", 1), (24, 5, 96, 40, True, "HS", 2),
        (40, 5, 240, 40, True, "HS", 1), (40, 5, 240, 40, True, "HS", 1),
        (40, 5, 120, 48, True, "HS", 1), (48, 5, 144, 48, True, "HS", 1),
        (48, 5, 288, 96, True, "HS", 2), (96, 5, 576, 96, True, "HS", 1),
        (96, 5, 576, 96, True, "HS", 1),
    ]

    def __init__(self, width=1.0, classes=1000, last=1024):
        super().__init__()
        c = lambda v: make_divisible(v * width)
        layers = [ConvBnAct(3, c(16), 3, 2, 1, nn.Hardswish)]
        for cin, k, exp, cout, se, act, stride in self.SETTINGS:
            layers.append(InvertedResidual(c(cin), k, c(exp), c(cout), se, act, stride))
        last_in = c(96)
        layers.append(ConvBnAct(last_in, 6 * last_in, 1, 1, 1, nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(6 * last_in, last), nn.Hardswish(), nn.Dropout(0.2), nn.Linear(last, classes)
        )

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# --- Export -----------------------------------------------------------------------------------


def randomise(model, seed):
    """Random weights and batch-normalisation statistics, so every term of the network counts."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(0.2 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
    return model.eval()


def export(model, path, shape, exporter):
    x = torch.zeros(shape)
    if exporter == "legacy":
        torch.onnx.export(model, (x,), path, dynamo=False, opset_version=17,
                          do_constant_folding=False, input_names=["images"],
                          output_names=["logits"], dynamic_axes={"images": {0: "batch"}})
    else:
        torch.onnx.export(model, (x,), path, dynamo=True, opset_version=18, external_data=False,
                          dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
    m = onnx.load(path)
    m.ir_version = min(m.ir_version, 10)  # what onnxruntime 1.23 and npm's 1.31 read
    onnx.checker.check_model(m)
    onnx.save(m, path)


def encode(array):
    a = np.ascontiguousarray(array, dtype="<f4")
    return {"shape": list(a.shape), "base64": base64.b64encode(a.tobytes()).decode()}


def reference(path, shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.random(shape, dtype=np.float32)
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    (y,) = session.run(None, {name: x})
    with open(path.replace(".onnx", ".reference.json"), "w") as f:
        json.dump({"onnxruntime": onnxruntime.__version__, "input": encode(x), "output": encode(y)}, f)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests",
                                                      "fixtures", "onnx"))
    parser.add_argument("--full", metavar="DIR", help="write full-size networks to DIR instead")
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.full:
        os.makedirs(args.full, exist_ok=True)
        for name, model in [("resnet18", ResNet18()), ("mobilenet_v3_small", MobileNetV3Small())]:
            path = os.path.join(args.full, f"{name}.onnx")
            export(randomise(model, 1), path, (1, 3, 224, 224), "legacy")
            print(f"wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB)")
        return
    os.makedirs(args.out, exist_ok=True)
    nets = [
        ("resnet18_tiny", lambda: ResNet18(width=8, classes=10), (2, 3, 36, 44)),
        ("mobilenet_v3_small_tiny", lambda: MobileNetV3Small(width=0.35, classes=10, last=64),
         (2, 3, 40, 48)),
    ]
    for seed, (name, make, shape) in enumerate(nets):
        for exporter in ["legacy", "dynamo"]:
            torch.manual_seed(seed)
            model = randomise(make(), seed + 1)
            path = os.path.join(args.out, f"{name}.{exporter}.onnx")
            export(model, path, shape, exporter)
            reference(path, shape, seed + 10)
            print(f"wrote {path} ({os.path.getsize(path) / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
