/**
 * This project beside PyTorch's CPU build on the same work, in one run: the default MLP's magnet
 * training step, the default Fashion-MNIST CNN's training step, the CNN's embedding (inference, per
 * 1,000 images) and the evaluation's search (10,000 queries among 60,000 references, k = 6,000).
 * PyTorch's half is scripts/torch_reference.py, one fresh process per piece; the two halves take
 * turns piece by piece, round after round, so both see the same load, and the ratio of each round
 * is taken before the medians. Random inputs of the real shapes (speed does not depend on them).
 *
 *   deno task versus-pytorch [--rounds 3] [--pieces mlpStep,cnnStep,embed,search]
 *                            [--torch-python PATH] [--threads N]
 *
 * PyTorch is optional: the Python named by --torch-python, else MAGNET_TORCH_PYTHON, else python3
 * on the PATH, is used when it can import torch; otherwise the script says so and times this
 * project alone. Ours: the magnet step as the trainer runs it (sampling, feeds, the compiled step,
 * reading the losses back), where PyTorch's step is the network, the loss and Adam only.
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { createBackend } from "../src/backend/create.ts";
import type { Backend } from "../src/backend/backend.ts";
import type { Dataset } from "../src/data/dataset.ts";
import { forEachNeighbours } from "../src/eval/neighbours.ts";
import { embed } from "../src/nn/embed.ts";
import { Trainer } from "../src/train/trainer.ts";
import { Random } from "../src/util/random.ts";

/** The pieces, in the order each round runs them, with their unit and the target ratio. */
const PIECES = {
  mlpStep: { what: "MLP 784-256-128-64 magnet step, batch 48", unit: "ms", target: 0.8 },
  cnnStep: { what: "Fashion-MNIST CNN magnet step, batch 48", unit: "ms", target: 0.9 },
  embed: { what: "CNN embedding, per 1,000 images", unit: "ms", target: 0.6 },
  search: { what: "search 10,000 x 60,000, k = 6,000", unit: "s", target: 1.0 },
} as const;
type Piece = keyof typeof PIECES;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    pieces: { type: "string", default: Object.keys(PIECES).join(",") },
    "torch-python": { type: "string" },
    threads: { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(
    "deno task versus-pytorch [--rounds 3] [--pieces mlpStep,cnnStep,embed,search] " +
      "[--torch-python PATH] [--threads N]",
  );
  Deno.exit(0);
}
const rounds = Number(values.rounds);
const pieces = values.pieces.split(",").map((p) => p.trim()) as Piece[];
for (const p of pieces) {
  if (!(p in PIECES)) {
    console.error(`unknown piece "${p}": expected some of ${Object.keys(PIECES).join(", ")}`);
    Deno.exit(2);
  }
}
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error(`--rounds must be a positive integer, got ${values.rounds}`);
  Deno.exit(2);
}
const threads = values.threads === undefined
  ? navigator.hardwareConcurrency
  : Number(values.threads);

const reference = fileURLToPath(new URL("./torch_reference.py", import.meta.url));

/** Output of a command, or null when it cannot run or fails. */
async function output(command: string, args: string[]): Promise<string | null> {
  try {
    const { success, stdout } = await new Deno.Command(command, {
      args,
      stdout: "piped",
      stderr: "null",
    }).output();
    return success ? new TextDecoder().decode(stdout).trim() : null;
  } catch {
    return null;
  }
}

/** A Python that imports torch, and torch's version; null when none is found. */
async function findTorch(): Promise<{ python: string; version: string } | null> {
  const candidates = [values["torch-python"], Deno.env.get("MAGNET_TORCH_PYTHON"), "python3"];
  for (const python of candidates) {
    if (python === undefined || python === "") continue;
    const version = await output(python, ["-c", "import torch; print(torch.__version__)"]);
    if (version !== null) return { python, version };
    if (python !== "python3") {
      console.error(`${python} cannot import torch: PyTorch's half is skipped`);
      return null;
    }
  }
  return null;
}

async function torchPiece(python: string, piece: Piece): Promise<number> {
  const text = await output(python, [reference, piece, "--threads", String(threads)]);
  if (text === null) throw new Error(`scripts/torch_reference.py ${piece} failed`);
  return JSON.parse(text.split("\n").at(-1)!).value;
}

function images(count: number, seed: number): Dataset {
  const random = new Random(seed);
  return {
    features: Float32Array.from({ length: count * 784 }, () => random.next()),
    dim: 784,
    labels: Int32Array.from({ length: count }, (_, i) => i % 10),
    classNames: Array.from({ length: 10 }, (_, c) => `c${c}`),
    imageShape: [28, 28, 1],
  };
}

const train = images(6000, 1);

/** Milliseconds per step of `steps` trainer steps (one step and the first refresh untimed). */
async function msPerStep(backend: Backend, model: "mlp" | "cnn", steps: number): Promise<number> {
  const settings = { model, evalEvery: 0, refreshEvery: 100_000 };
  const first = await Trainer.create({ backend, train }, { ...settings, iterations: 1 });
  await first.run();
  const more = await Trainer.resume({ backend, train }, {
    ...(await first.state()),
    config: { ...first.config, iterations: 1 + steps },
  });
  const start = performance.now();
  await more.run();
  const ms = (performance.now() - start) / steps;
  await first.dispose();
  await more.dispose();
  return ms;
}

async function embedMsPer1000(backend: Backend): Promise<number> {
  const trainer = await Trainer.create({ backend, train }, { model: "cnn", iterations: 1 });
  const rows = train.features.subarray(0, 3000 * 784);
  await embed(backend, trainer.model, rows.subarray(0, 300 * 784));
  const start = performance.now();
  await embed(backend, trainer.model, rows);
  const ms = (performance.now() - start) / 3;
  await trainer.dispose();
  return ms;
}

const random = new Random(3);
const searchRefs = pieces.includes("search")
  ? Float32Array.from({ length: 60_000 * 64 }, () => random.normal())
  : new Float32Array(0);
const searchQueries = pieces.includes("search")
  ? Float32Array.from({ length: 10_000 * 64 }, () => random.normal())
  : new Float32Array(0);

/**
 * The search as the evaluation runs it: each query's k nearest, sorted, handed over as its chunk is
 * done and not kept (PyTorch's side drops each chunk's topk too).
 */
async function searchSeconds(backend: Backend): Promise<number> {
  let handedOver = 0;
  const start = performance.now();
  await forEachNeighbours(backend, searchQueries, searchRefs, 64, 6000, () => handedOver++);
  const seconds = (performance.now() - start) / 1000;
  if (handedOver !== 10_000) throw new Error(`the search handed over ${handedOver} queries`);
  return seconds;
}

async function ourPiece(backend: Backend, piece: Piece): Promise<number> {
  switch (piece) {
    case "mlpStep":
      return await msPerStep(backend, "mlp", 500);
    case "cnnStep":
      return await msPerStep(backend, "cnn", 100);
    case "embed":
      return await embedMsPer1000(backend);
    case "search":
      return await searchSeconds(backend);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function format(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

const torch = await findTorch();
const backend = await createBackend({ kind: "cpu", threads });
const load = () => Deno.loadavg().map((l) => l.toFixed(2)).join(" ");
console.log(`magnet: ${backend.description}`);
console.log(
  torch === null
    ? "PyTorch: not found (no --torch-python, MAGNET_TORCH_PYTHON or python3 that imports " +
      "torch); timing magnet alone"
    : `PyTorch: ${torch.version} (${torch.python}), ${threads} threads`,
);
console.log(`load average before: ${load()}`);

const ours = new Map<Piece, number[]>(), theirs = new Map<Piece, number[]>();
const ratios = new Map<Piece, number[]>();
for (let round = 1; round <= rounds; round++) {
  for (const piece of pieces) {
    const t = torch === null ? null : await torchPiece(torch.python, piece);
    const o = await ourPiece(backend, piece);
    ours.set(piece, [...(ours.get(piece) ?? []), o]);
    if (t !== null) {
      theirs.set(piece, [...(theirs.get(piece) ?? []), t]);
      ratios.set(piece, [...(ratios.get(piece) ?? []), o / t]);
    }
    const unit = PIECES[piece].unit;
    const side = t === null ? "" : `, pytorch ${format(t)} ${unit}, ratio ${(o / t).toFixed(2)}`;
    console.log(`round ${round} ${piece}: magnet ${format(o)} ${unit}${side}`);
  }
}
console.log(`load average after: ${load()}\n`);
console.log(`Medians of ${rounds} round${rounds === 1 ? "" : "s"}:\n`);
console.log("| work | magnet cpu | PyTorch CPU | magnet / PyTorch | target |");
console.log("| --- | --- | --- | --- | --- |");
for (const piece of pieces) {
  const { what, unit, target } = PIECES[piece];
  const o = `${format(median(ours.get(piece)!))} ${unit}`;
  const t = theirs.has(piece) ? `${format(median(theirs.get(piece)!))} ${unit}` : "-";
  const r = ratios.has(piece) ? median(ratios.get(piece)!).toFixed(2) : "-";
  console.log(`| ${what} | ${o} | ${t} | ${r} | <= ${target.toFixed(1)} |`);
}
backend.dispose();
