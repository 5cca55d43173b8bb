"""A CNN trained with softmax in PyTorch on Fashion-MNIST and exported to ONNX: the pretrained
backbone of the README's real-data check.

The architecture is this project's default CNN (3x3 convolution 32, batch normalisation, ReLU,
2x2 max pool; the same with 64; dense 256 and 128 with ReLU) with a 10-way linear classifier on
top, trained with cross-entropy on the official 60,000 training images (pixels in [0, 1], as
magnet reads them) with Adam (batch 128, two epochs), then exported by torch.onnx.export (batch normalisation kept) with
two outputs: ``logits`` and ``features`` (the 128-wide layer under the classifier).

    /work/venv/bin/python scripts/fashion_mnist_torch_cnn.py --out runs/fm-torch-cnn.onnx
    deno task train --dataset fashion-mnist --backbone runs/fm-torch-cnn.onnx \\
      --backbone-output features --backbone-mean 0 --backbone-std 1 --freeze-backbone \\
      --iterations 1000 --out runs/fm-backbone

Reads the IDX files from /usr/share/datasets/fashion-mnist (``--data-dir`` to change).
"""

import argparse
import gzip
import os
import time
import warnings

import numpy as np
import torch
from torch import nn

warnings.filterwarnings("ignore")


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(directory, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{stem} not in {directory}")


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, 256), nn.ReLU(),
            nn.Linear(256, 128), nn.ReLU(),
        )
        self.classifier = nn.Linear(128, 10)

    def forward(self, x):
        features = self.features(x)
        return self.classifier(features), features


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--out", default="runs/fm-torch-cnn.onnx")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    images = read_idx(find(args.data_dir, "train-images-idx3-ubyte"))
    labels = read_idx(find(args.data_dir, "train-labels-idx1-ubyte"))
    x = torch.tensor(images, dtype=torch.float32).unsqueeze(1) / 255
    y = torch.tensor(labels, dtype=torch.long)
    model = Cnn()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.time()
    torch.set_num_threads(os.cpu_count() or 1)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(y))
        total = 0.0
        for i in range(0, len(y), 128):
            batch = order[i:i + 128]
            logits, _ = model(x[batch])
            loss = nn.functional.cross_entropy(logits, y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        print(f"epoch {epoch + 1}: loss {total / len(y):.4f} ({time.time() - start:.0f} s)", flush=True)
    model.eval()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    torch.onnx.export(model, (torch.zeros(1, 1, 28, 28),), args.out, dynamo=False, opset_version=17,
                      do_constant_folding=False, input_names=["images"],
                      output_names=["logits", "features"], dynamic_axes={"images": {0: "batch"}})
    test_x = torch.tensor(read_idx(find(args.data_dir, "t10k-images-idx3-ubyte")),
                          dtype=torch.float32).unsqueeze(1) / 255
    test_y = torch.tensor(read_idx(find(args.data_dir, "t10k-labels-idx1-ubyte")), dtype=torch.long)
    with torch.no_grad():
        error = (model(test_x)[0].argmax(1) != test_y).float().mean().item()
    print(f"softmax test error {100 * error:.2f} %")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
