/**
 * Pretrained networks in and trained networks out, as a person runs them: a backbone (the
 * width-reduced ResNet-18 fixture) fine-tuned on small Fashion-MNIST files, checkpointed, resumed
 * exactly and embedded after the .onnx file is gone, then exported; MLP and CNN runs exported and
 * run by onnxruntime (npm, in this process) to the embeddings `embed` writes, and imported back;
 * every mistake about backbones is one line with exit code 2.
 */
import assert from "node:assert/strict";
import { assertUsageError, cli, csv, exists, ROOT } from "../helpers/cli.ts";
import { syntheticImages, writeFashionMnist } from "../helpers/idx.ts";
import { writeColourShapes, writeImage } from "../helpers/images.ts";
import { runOnnxruntime } from "../helpers/onnxruntime.ts";
import { importOnnx } from "../../src/nn/onnx/backbone.ts";
import { embed } from "../../src/nn/embed.ts";
import { createBackend } from "../../src/backend/create.ts";
import { assertClose } from "../helpers/backends.ts";
import { OnnxBuilder } from "../../src/nn/onnx/builder.ts";
import { decodeModel, encodeModel } from "../../src/nn/onnx/onnx_proto.ts";

const SMALL = ["--backend", "cpu", "--m", "4", "--d", "3", "--k", "2", "--eval-every", "0"];

/** The embeddings (and their width) of an `embed` output CSV. */
function embeddings(path: string): { rows: number; values: Float32Array } {
  const lines = Deno.readTextFileSync(path).trim().split("\n");
  const header = lines[0].split(",");
  const first = header.indexOf("e0");
  const values = lines.slice(1).flatMap((l) => l.split(",").slice(first).map(Number));
  return { rows: lines.length - 1, values: Float32Array.from(values) };
}

/** 5 images of `side` pixels as a CSV of pixel columns (and the same pixels as an array). */
function pixelCsv(path: string, side: number): Float32Array {
  const { pixels, labels } = syntheticImages(5, side, 10, 7);
  const n = side * side;
  const values = Float32Array.from(pixels, (p) => p / 255);
  const header = [...Array.from({ length: n }, (_, i) => `p${i}`), "label"].join(",");
  const rows = Array.from(labels, (y, i) => [...values.subarray(i * n, (i + 1) * n), y].join(","));
  Deno.writeTextFileSync(path, [header, ...rows].join("\n") + "\n");
  return values;
}

/**
 * onnxruntime's embeddings from an exported file for `input` (of `dims`), and those of the file
 * imported back for the same values as our rows (`rows`: channels last; the same for one channel).
 */
async function exported(file: string, input: Float32Array, dims: number[], rows = input) {
  const bytes = await Deno.readFile(file);
  const theirs = await runOnnxruntime(bytes, input, dims);
  const backend = await createBackend({ kind: "cpu" });
  try {
    const model = await importOnnx(bytes, { label: file });
    return { theirs: theirs.data, again: await embed(backend, model, rows) };
  } finally {
    backend.dispose();
  }
}

Deno.test("backbones and exports from the command line", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "magnet-onnx-" });
  const data = `${dir}/fashion`;
  Deno.mkdirSync(data);
  await writeFashionMnist(data, { train: 80, test: 20, side: 8 });
  const fashion = ["--dataset", "fashion-mnist", "--data-dir", data];
  const network = `${dir}/net.onnx`;
  Deno.copyFileSync(`${ROOT}tests/fixtures/onnx/resnet18_tiny.legacy.onnx`, network);
  const backbone = [...SMALL, ...fashion, "--backbone", network, "--backbone-size", "16"];
  try {
    await t.step(
      "fine-tuned, resumed exactly and embedded without the file, exported",
      async () => {
        const whole = await cli("train", [
          ...backbone,
          "--iterations",
          "24",
          "--out",
          `${dir}/whole`,
        ]);
        assert.equal(whole.code, 0, whole.stderr);
        const cut = await cli("train", [...backbone, "--iterations", "12", "--out", `${dir}/cut`]);
        assert.equal(cut.code, 0, cut.stderr);
        const model = JSON.parse(Deno.readTextFileSync(`${dir}/whole/model.json`));
        assert.equal(model.model.kind, "backbone");
        assert.deepEqual(model.model.input.network, [16, 16, 3]);
        assert.ok("backbone.conv1.weight" in model.variables && "head.weight" in model.variables);
        // The network's file is gone: the checkpoint and the model carry what they need.
        Deno.removeSync(network);
        const resumed = await cli("train", ["--resume", `${dir}/cut`, "--iterations", "24"]);
        assert.equal(resumed.code, 0, resumed.stderr);
        const a = JSON.parse(Deno.readTextFileSync(`${dir}/whole/metrics.json`));
        const b = JSON.parse(Deno.readTextFileSync(`${dir}/cut/metrics.json`));
        assert.equal(b.iterations, 24);
        assert.deepEqual(b.test, a.test, "resumed run ends as the uninterrupted one");
        const pixels = pixelCsv(`${dir}/pixels.csv`, 8);
        const e = await cli("embed", ["--model", `${dir}/whole`, "--data", `${dir}/pixels.csv`]);
        assert.equal(e.code, 0, e.stderr);
        const ours = embeddings(`${dir}/pixels.embeddings.csv`);
        const x = await cli("export", ["--model", `${dir}/whole`, "--out", `${dir}/whole.onnx`]);
        assert.equal(x.code, 0, x.stderr);
        assert.match(x.stdout, /images \[N, 1, 8, 8\] in \[0, 1\] to embeddings \[N, 64\]/);
        const r = await exported(`${dir}/whole.onnx`, pixels, [5, 1, 8, 8]);
        assertClose(r.theirs, ours.values, 1e-5, "onnxruntime");
        assertClose(r.again, ours.values, 1e-5, "imported back");
      },
    );

    await t.step(
      "image folders: the backbone gets pixels in [0, 1] and standardises them",
      async () => {
        const shapes = `${dir}/shapes`;
        await writeColourShapes(shapes, 8, 1);
        const run = `${dir}/folders`;
        const r = await cli("train", [
          ...SMALL,
          "--data",
          shapes,
          "--cache",
          `${dir}/cache`,
          "--backbone",
          `${ROOT}tests/fixtures/onnx/resnet18_tiny.legacy.onnx`,
          "--backbone-size",
          "16",
          "--m",
          "3",
          "--iterations",
          "6",
          "--out",
          run,
        ]);
        assert.equal(r.code, 0, r.stderr);
        const saved = JSON.parse(Deno.readTextFileSync(`${run}/model.json`));
        // The data's own normalisation is left out: the network has ImageNet's, inside the model.
        assert.deepEqual([saved.images.mean, saved.images.std], [[0, 0, 0], [1, 1, 1]]);
        assert.deepEqual(saved.model.input.mean, [0.485, 0.456, 0.406]);
        // One image embedded by the command, and by onnxruntime from the exported file.
        const pixels = Uint8Array.from({ length: 12 * 12 * 3 }, (_, i) => (i * 37) % 256);
        await writeImage(`${dir}/one.png`, pixels, 12, 12, 3);
        const e = await cli("embed", [
          "--model",
          run,
          "--data",
          `${dir}/one.png`,
          "--out",
          `${dir}/one.csv`,
        ]);
        assert.equal(e.code, 0, e.stderr);
        const ours = embeddings(`${dir}/one.csv`);
        assert.equal((await cli("export", ["--model", run])).code, 0);
        const nchw = new Float32Array(3 * 144);
        for (let p = 0; p < 144; p++) {
          for (let c = 0; c < 3; c++) nchw[c * 144 + p] = pixels[p * 3 + c] / 255;
        }
        const onnx = await exported(`${run}/model.onnx`, nchw, [1, 3, 12, 12]);
        assertClose(onnx.theirs, ours.values, 1e-5, "onnxruntime on the exported backbone");
      },
    );

    await t.step("MLP (standardised CSV) and CNN runs exported to onnxruntime", async () => {
      const table = `${dir}/table.csv`;
      Deno.writeTextFileSync(table, csv(20, 1));
      const mlp = await cli("train", [
        ...SMALL,
        "--data",
        table,
        "--hidden",
        "8",
        "--embedding-dim",
        "4",
        "--iterations",
        "20",
        "--out",
        `${dir}/mlp`,
      ]);
      assert.equal(mlp.code, 0, mlp.stderr);
      const rows = `${dir}/rows.csv`;
      Deno.writeTextFileSync(rows, csv(2, 5));
      assert.equal((await cli("embed", ["--model", `${dir}/mlp`, "--data", rows])).code, 0);
      const ours = embeddings(`${dir}/rows.embeddings.csv`);
      const x = await cli("export", ["--model", `${dir}/mlp`]);
      assert.equal(x.code, 0, x.stderr);
      assert.match(x.stdout, /mlp\/model\.onnx .*rows \[N, 6\] to embeddings \[N, 4\]/);
      const raw = Float32Array.from(
        csv(2, 5).trim().split("\n").slice(1).flatMap((l) => l.split(",").slice(0, 6).map(Number)),
      );
      const r = await exported(`${dir}/mlp/model.onnx`, raw, [6, 6]);
      assertClose(r.theirs, ours.values, 1e-5, "MLP in onnxruntime");
      assertClose(r.again, ours.values, 1e-5, "MLP imported back");

      const cnn = await cli("train", [
        ...SMALL,
        ...fashion,
        "--model",
        "cnn",
        "--conv",
        "4,6",
        "--hidden",
        "8",
        "--embedding-dim",
        "4",
        "--iterations",
        "20",
        "--out",
        `${dir}/cnn`,
      ]);
      assert.equal(cnn.code, 0, cnn.stderr);
      const pixels = pixelCsv(`${dir}/cnn-pixels.csv`, 8);
      const e = await cli("embed", ["--model", `${dir}/cnn`, "--data", `${dir}/cnn-pixels.csv`]);
      assert.equal(e.code, 0, e.stderr);
      const cnnOurs = embeddings(`${dir}/cnn-pixels.embeddings.csv`);
      assert.equal((await cli("export", ["--model", `${dir}/cnn`])).code, 0);
      const c = await exported(`${dir}/cnn/model.onnx`, pixels, [5, 1, 8, 8]);
      assertClose(c.theirs, cnnOurs.values, 1e-5, "CNN in onnxruntime");
      assertClose(c.again, cnnOurs.values, 1e-5, "CNN imported back");
      assertUsageError(
        await cli("export", ["--model", `${dir}/cnn`]),
        /--out .*cnn\/model\.onnx exists: choose another file or pass --overwrite/,
      );
    });

    await t.step("weights kept beside the model (external data) are read from there", async () => {
      // As PyTorch's default exporter writes them: the model file, and its weights in a .data file.
      const model = decodeModel(
        Deno.readFileSync(`${ROOT}tests/fixtures/onnx/resnet18_tiny.legacy.onnx`),
      );
      const parts: Uint8Array[] = [];
      let offset = 0;
      for (const t of model.graph!.initializer) {
        if (t.rawData === undefined) continue;
        parts.push(t.rawData.slice());
        t.externalData = [
          { key: "location", value: "outside.onnx.data" },
          { key: "offset", value: String(offset) },
          { key: "length", value: String(t.rawData.length) },
        ];
        t.dataLocation = 1;
        offset += t.rawData.length;
        t.rawData = undefined;
      }
      Deno.writeFileSync(`${dir}/outside.onnx`, encodeModel(model));
      const data = new Uint8Array(offset);
      parts.reduce((at, p) => (data.set(p, at), at + p.length), 0);
      Deno.writeFileSync(`${dir}/outside.onnx.data`, data);
      const r = await cli("train", [
        ...SMALL,
        ...fashion,
        "--backbone",
        `${dir}/outside.onnx`,
        "--backbone-size",
        "16",
        "--iterations",
        "3",
        "--out",
        `${dir}/outside`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const kept = JSON.parse(Deno.readTextFileSync(`${dir}/outside/model.json`)).model.onnx;
      assert.equal(kept.file, `${dir}/outside.onnx`);
      Deno.removeSync(`${dir}/outside.onnx.data`);
    });

    await t.step(
      "every mistake about a backbone is one line, exit 2, nothing written",
      async () => {
        Deno.copyFileSync(`${ROOT}tests/fixtures/onnx/resnet18_tiny.legacy.onnx`, network);
        const out = `${dir}/never`;
        const expect = async (args: string[], message: RegExp) => {
          assertUsageError(await cli("train", [...SMALL, "--out", out, ...args]), message);
          assert.ok(!exists(out), "nothing written");
        };
        await expect(
          [...fashion, "--backbone", `${dir}/missing.onnx`],
          /--backbone .*missing\.onnx: no such file/,
        );
        Deno.writeTextFileSync(`${dir}/text.onnx`, "not a network at all");
        await expect([...fashion, "--backbone", `${dir}/text.onnx`], /text\.onnx|not a valid ONNX/);
        await expect(
          [...fashion, "--backbone", network, "--model", "cnn"],
          /--backbone brings its own network .*: it cannot be given with --model/,
        );
        await expect(
          [...fashion, "--freeze-backbone"],
          /--freeze-backbone sets up the --backbone network: it needs --backbone/,
        );
        await expect(
          [...fashion, "--backbone", network, "--backbone-mean", "0.5,0.5"],
          /the mean needs 3 finite values \(one per channel\), got \[0.5,0.5\]/,
        );
        await expect(
          [...fashion, "--backbone", network, "--backbone-output", "nowhere"],
          /has no value named "nowhere"/,
        );
        const softmax = new OnnxBuilder(17);
        softmax.input("images", ["N", 1, 8, 8]);
        softmax.output(softmax.node("Softmax", [softmax.node("Flatten", ["images"])[0]])[0]);
        Deno.writeFileSync(`${dir}/softmax.onnx`, softmax.bytes());
        await expect(
          [
            ...fashion,
            "--backbone",
            `${dir}/softmax.onnx`,
            "--backbone-mean",
            "0",
            "--backbone-std",
            "1",
          ],
          /softmax\.onnx: node "node_Softmax_\d+" is a Softmax, which is not supported; supported operators: Add, AveragePool, BatchNormalization/,
        );
        await expect(
          [...fashion, "--backbone", `${dir}/outside.onnx`, "--backbone-size", "16"],
          /outside\.onnx keeps weights in outside\.onnx\.data, which cannot be read beside it/,
        );
        Deno.writeTextFileSync(`${dir}/t.csv`, csv(10, 2));
        await expect(
          ["--data", `${dir}/t.csv`, "--backbone", network],
          /net\.onnx takes images; this data is a table of 6 features/,
        );
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
