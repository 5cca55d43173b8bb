"""PyTorch's CPU build timed on exactly the work of scripts/versus_pytorch.ts (which runs it).

Pieces (random inputs: speed does not depend on the data):
  mlpStep   ms per step: the default MLP (784-256-128-64) magnet training step, batch 48
            (M = 12, D = 4), Adam
  cnnStep   ms per step: the default Fashion-MNIST CNN (conv 32 and conv 64: 3x3 same, batch
            norm, ReLU, 2x2 max pool; dense 256, 128; embedding 64) magnet training step, batch 48,
            Adam
  embed     ms per 1,000 28x28 images: the CNN in inference mode, chunks of 512
  search    s: 10,000 queries among 60,000 references (dim 64), the k = 6,000 nearest of each,
            sorted (chunked cdist + topk)
The loss is the paper's magnet loss (variance term 1/(2 s2)). Each run times one piece in a fresh
process (a piece timed after another runs slower: allocator and oneDNN state) and prints one JSON
line: {"piece", "value", "unit", "lib", "threads"}.

  python3 scripts/torch_reference.py PIECE [--threads 2]
Install: a venv with `pip install torch` (the CPU build; a local wheel mirror works with
--index-url).
"""
import argparse
import json
import time

import torch
import torch.nn as nn

M, D = 12, 4


def magnet_loss(r, clusters, classes, onehot, alpha=1.0):
    mu = onehot.t() @ r  # cluster means as one product
    d = ((r[:, None, :] - mu[None]) ** 2).sum(-1)
    own = d[torch.arange(len(r)), clusters]
    s2 = own.sum() / (len(r) - 1)
    other = (classes[None, :M] != classes[:, None]).float()
    lse = torch.logsumexp(-d / (2 * s2) + torch.log(other), dim=1)
    return torch.relu(own / (2 * s2) + alpha + lse).mean()


def ms_per_step(net, x, steps):
    clusters = torch.arange(M).repeat_interleave(D)
    classes = clusters % 10
    onehot = torch.nn.functional.one_hot(clusters, M).float() / D
    opt = torch.optim.Adam(net.parameters(), 1e-3)

    def step():
        opt.zero_grad()
        magnet_loss(net(x), clusters, classes, onehot).backward()
        opt.step()

    for _ in range(20):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) * 1000 / steps


def block(i, o):
    return [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2)]


def cnn():
    return nn.Sequential(*block(1, 32), *block(32, 64), nn.Flatten(), nn.Linear(64 * 7 * 7, 256),
                         nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 64))


def mlp():
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                         nn.Linear(128, 64))


def embed_ms_per_1000():
    net = cnn().eval()
    images = torch.rand(2000, 1, 28, 28)
    with torch.no_grad():
        net(images[:256])
        start = time.perf_counter()
        for i in range(0, 2000, 512):
            net(images[i:i + 512])
        return (time.perf_counter() - start) * 1000 / 2


def search_s():
    q, ref = torch.randn(10000, 64), torch.randn(60000, 64)
    with torch.no_grad():
        start = time.perf_counter()
        for i in range(0, 10000, 500):
            torch.topk(torch.cdist(q[i:i + 500], ref), 6000, largest=False)
        return time.perf_counter() - start


PIECES = {
    "mlpStep": (lambda: ms_per_step(mlp(), torch.rand(M * D, 784), 1000), "ms/step"),
    "cnnStep": (lambda: ms_per_step(cnn(), torch.rand(M * D, 1, 28, 28), 200), "ms/step"),
    "embed": (embed_ms_per_1000, "ms/1000 images"),
    "search": (search_s, "s/search"),
}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("piece", choices=sorted(PIECES))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    run, unit = PIECES[args.piece]
    value = run()
    print(json.dumps({"piece": args.piece, "value": round(value, 4), "unit": unit,
                      "lib": "pytorch " + torch.__version__, "threads": torch.get_num_threads()}))
