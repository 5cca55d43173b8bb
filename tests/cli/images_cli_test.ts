/**
 * The command line with image data: Fashion-MNIST from a folder of IDX files (written here, small),
 * a CNN trained, saved, resumed and used by `embed`; and every mistake about data sets and models
 * is one line with exit code 2.
 */
import assert from "node:assert/strict";
import { assertUsageError, cli, csv, exists } from "../helpers/cli.ts";
import { syntheticImages, writeFashionMnist } from "../helpers/idx.ts";

const CNN = [
  "--backend",
  "cpu",
  "--model",
  "cnn",
  "--conv",
  "4,6",
  "--hidden",
  "8",
  "--embedding-dim",
  "4",
  "--m",
  "4",
  "--d",
  "3",
  "--k",
  "2",
  "--eval-every",
  "0",
];

Deno.test("train command with images", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "magnet-images-" });
  const data = `${dir}/fashion`;
  Deno.mkdirSync(data);
  await writeFashionMnist(data, { train: 80, test: 20, side: 8 });
  const fashion = ["--dataset", "fashion-mnist", "--data-dir", data];
  try {
    await t.step("a CNN on Fashion-MNIST: trained, saved, and used by embed", async () => {
      const out = `${dir}/run`;
      const r = await cli("train", [...CNN, ...fashion, "--iterations", "30", "--out", out]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stdout,
        /training magnet on Fashion-MNIST \(80 train \/ 20 test rows, 10 classes\)/,
      );
      const metrics = JSON.parse(Deno.readTextFileSync(`${out}/metrics.json`));
      // Only what applies: the official split has no fraction or seed to record.
      assert.deepEqual(metrics.data.source, { kind: "fashion-mnist", dir: data });
      assert.equal(metrics.settings.model, "cnn");
      assert.deepEqual(metrics.settings.conv, [4, 6]);
      const model = JSON.parse(Deno.readTextFileSync(`${out}/model.json`));
      assert.deepEqual(model.model, {
        kind: "cnn",
        input: [8, 8, 1],
        conv: [4, 6],
        dense: [8],
        embeddingDim: 4,
        norm: "batch",
      });
      assert.ok("cnn.conv1.runningVariance" in model.variables);
      // Pixels as a CSV of 64 columns, scaled as the training images were.
      const { pixels, labels } = syntheticImages(5, 8, 10, 7);
      const header = [...Array.from({ length: 64 }, (_, i) => `p${i}`), "label"].join(",");
      const rows = Array.from(
        labels,
        (y, i) =>
          [...Array.from(pixels.subarray(i * 64, (i + 1) * 64), (p) => p / 255), y].join(","),
      );
      Deno.writeTextFileSync(`${dir}/pixels.csv`, [header, ...rows].join("\n") + "\n");
      const e = await cli("embed", [
        "--model",
        out,
        "--data",
        `${dir}/pixels.csv`,
        "--backend",
        "cpu",
      ]);
      assert.equal(e.code, 0, e.stderr);
      const lines = Deno.readTextFileSync(`${dir}/pixels.embeddings.csv`).trim().split("\n");
      assert.equal(lines.length, 6);
      assert.equal(lines[0], "label,predicted,e0,e1,e2,e3");
    });

    await t.step("--resume reloads Fashion-MNIST and continues the CNN", async () => {
      const out = `${dir}/run`;
      const r = await cli("train", ["--resume", out, "--iterations", "40"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /resuming magnet on Fashion-MNIST .* from step 30/);
      assert.equal(JSON.parse(Deno.readTextFileSync(`${out}/checkpoint.json`)).iteration, 40);
      // The data moved away: the run cannot continue, and says why.
      Deno.renameSync(data, `${data}-moved`);
      try {
        assertUsageError(
          await cli("train", ["--resume", out, "--iterations", "50"]),
          /Fashion-MNIST is not in .*fashion \(missing train-images-idx3-ubyte\.gz, .*apt-get install dataset-fashion-mnist/,
        );
      } finally {
        Deno.renameSync(`${data}-moved`, data);
      }
    });

    await t.step(
      "mistakes about data sets and models: one line, exit 2, nothing written",
      async () => {
        const out = `${dir}/never`;
        const refused = async (args: string[], message: RegExp) => {
          assertUsageError(await cli("train", [...args, "--out", out]), message, args.join(" "));
          assert.ok(!exists(out));
        };
        const table = `${dir}/table.csv`;
        Deno.writeTextFileSync(table, csv(30, 1));
        await refused(
          ["--dataset", "fashion-mnist", "--data-dir", `${dir}/empty`],
          /^error: Fashion-MNIST is not in .*empty \(missing .*\): install it with `apt-get install dataset-fashion-mnist`, or put the four files in a folder and give it with --data-dir$/,
        );
        await refused(
          ["--dataset", "cifar"],
          /--dataset must be one of mnist, fashion-mnist, got "cifar"/,
        );
        await refused(
          ["--data", table, "--dataset", "mnist"],
          /--dataset names a built-in data set: it cannot be given with --data/,
        );
        await refused(["--data-dir", data], /--data-dir .* needs --dataset fashion-mnist/);
        await refused(
          [...fashion, "--test-fraction", "0.5"],
          /--test-fraction .*Fashion-MNIST keeps its official split.*\(not --dataset fashion-mnist\)/,
        );
        await refused([...fashion, "--test", table], /--test .*: it needs --data/);
        await refused([...fashion, "--label-column", "y"], /--label-column names a CSV column/);
        await refused(
          ["--data", table, "--model", "cnn"],
          /--model cnn needs image rows.*use --model mlp/,
        );
        await refused(["--model", "resnet"], /--model must be one of mlp, cnn, got "resnet"/);
        await refused(
          ["--model", "cnn", "--conv", "8,x"],
          /--conv must be positive integers separated by commas, got "8,x"/,
        );
        await refused(["--model", "cnn", "--conv", ""], /--conv needs at least one width/);
        await refused(
          ["--model", "cnn", "--conv", "8,8,8,8,8"],
          /5 pooling stages halve 28x28 images below one pixel/,
        );
        await refused(
          ["--model", "cnn", "--norm", "layer"],
          /--norm must be one of batch, none, got "layer"/,
        );
        await refused(["--map", "tsne"], /--map must be one of pca, umap, got "tsne"/);
        await refused(
          ["--resume", `${dir}/run`, "--model", "mlp"],
          /--model cannot be given with it/,
        );
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
