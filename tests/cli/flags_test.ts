/**
 * Flags that do not apply are refused, never silently ignored: every command's table says when
 * each flag applies (what it needs, what it cannot go with, whether it may go with --resume), and
 * one rule enforces it. Checked in this process: parsing ends before anything is loaded.
 */
import assert from "node:assert/strict";
import { checkFlagRules, type FlagSpec, TRAIN_FLAGS, trainFacts } from "../../src/cli/args.ts";
import { main as train } from "../../src/cli/train.ts";
import { EMBED_FLAGS, main as embed } from "../../src/cli/embed.ts";
import { EXPERIMENT_FLAGS, main as experiment } from "../../src/cli/experiment.ts";
import { INDEX_FLAGS, main as indexCommand } from "../../src/cli/index.ts";
import { main as search, SEARCH_FLAGS } from "../../src/cli/search.ts";
import { assertUsageError, inProcess } from "../helpers/cli.ts";

Deno.test("flags that do not apply are refused", async (t) => {
  // A folder, so that --data names images (its contents never matter: parsing refuses first).
  const folder = Deno.makeTempDirSync({ prefix: "magnet-flags-" });
  await t.step("train: each flag that does not apply, named with what it needs", async () => {
    const cases: [string[], RegExp][] = [
      [
        ["--conv", "8"],
        /--conv sets a CNN's convolutions: it needs --model cnn \(the default is mlp\)/,
      ],
      [["--model", "mlp", "--norm", "none"], /--norm .*: it needs --model cnn \(not mlp\)/],
      [
        ["--data", "a.csv", "--test", "b.csv", "--test-fraction", "0.3"],
        /--test-fraction .*cannot be given with --test/,
      ],
      [
        ["--data", "a.csv", "--test", "b.csv", "--split-seed", "4"],
        /--split-seed .*cannot be given with --test/,
      ],
      [
        ["--dataset", "fashion-mnist", "--split-seed", "4"],
        /--split-seed .*needs the bundled MNIST or --data a CSV file or --data a folder of images \(not --dataset fashion-mnist\)/,
      ],
      [["--test", "b.csv"], /--test .*: it needs --data/],
      [["--label-column", "y"], /--label-column names a CSV column: it needs --data/],
      [
        ["--data-dir", "/x"],
        /--data-dir is where Fashion-MNIST is: it needs --dataset fashion-mnist/,
      ],
      [["--data", "a.csv", "--dataset", "mnist"], /--dataset .*cannot be given with --data/],
      [
        ["--loss", "triplet", "--alpha", "2"],
        /--alpha is the magnet loss's margin: it needs --loss magnet \(not triplet\)/,
      ],
      [["--loss", "softmax", "--k", "4"], /--k .*needs --loss magnet \(not softmax\)/],
      [["--loss", "triplet", "--refresh-every", "10"], /--refresh-every .*needs --loss magnet/],
      [
        ["--backend", "webgpu", "--threads", "2"],
        /--threads sets the CPU backend's threads: it needs --backend cpu or auto \(not webgpu\)/,
      ],
      [["--resume", "/x", "--conv", "8"], /--resume .*, so --conv cannot be given with it/],
      [["--resume", "/x", "--seed", "2", "--m", "4"], /so --seed, --m cannot be given with it/],
      [["--resume", "/x", "--lr", "1e-4"], /so --lr cannot be given with it/],
      // Image flags need a folder of images as --data (a fact the command supplies).
      [
        ["--data", "a.csv", "--resize", "pad"],
        /--resize sets how images are resized: it needs --data a folder of images \(not --data a CSV file\)/,
      ],
      [["--cache", "/c"], /--cache .*needs --data a folder of images \(not the bundled MNIST\)/],
      [
        ["--dataset", "fashion-mnist", "--skip-bad-images"],
        /--skip-bad-images .*needs --data a folder of images \(not --dataset fashion-mnist\)/,
      ],
      [["--data", "a.csv", "--augment", "flip"], /--augment transforms images: it needs/],
      [
        ["--data", folder, "--label-column", "y"],
        /--label-column .*\(not --data a folder of images\)/,
      ],
      [["--resume", "/x", "--image-size", "8"], /so --image-size cannot be given with it/],
      // Validation, the run's length, the model kept, ids and ignored columns.
      [
        ["--data", "a.csv", "--val", "v.csv", "--val-fraction", "0.1"],
        /--val is a validation CSV file: it cannot be given with --val-fraction/,
      ],
      [
        ["--data", folder, "--val", "v.csv"],
        /--val .*needs --data a CSV file \(not --data a folder of images\)/,
      ],
      [
        ["--epochs", "3", "--iterations", "90"],
        /--epochs sets the run's length: it cannot be given with --iterations/,
      ],
      [
        ["--early-stop", "3"],
        /--early-stop stops on the validation error \(the test rows only get the final report\): it needs validation rows \(--val, or --val-fraction above 0\) \(not none held out\)/,
      ],
      [
        ["--data", "a.csv", "--val-fraction", "0", "--keep", "best"],
        /--keep .*\(not none held out\)/,
      ],
      [
        ["--dataset", "fashion-mnist", "--id-column", "id"],
        /--id-column names a CSV column: it needs --data a CSV file/,
      ],
      [
        ["--data", folder, "--ignore-columns", "a,b"],
        /--ignore-columns names CSV columns: it needs --data a CSV file/,
      ],
      [["--resume", "/x", "--epochs", "3"], /so --epochs cannot be given with it/],
      // A backbone's flags need it; it replaces the built-in networks.
      [
        ["--freeze-backbone"],
        /--freeze-backbone sets up the --backbone network: it needs --backbone/,
      ],
      [["--backbone-size", "32"], /--backbone-size .*needs --backbone/],
      [["--backbone-mean", "0.5"], /--backbone-mean .*needs --backbone/],
      [["--backbone-bgr"], /--backbone-bgr .*needs --backbone/],
      [
        ["--backbone", "n.onnx", "--freeze-backbone", "--backbone-lr-scale", "0.1"],
        /--freeze-backbone .*cannot be given with --backbone-lr-scale/,
      ],
      [
        ["--backbone", "n.onnx", "--hidden", "64"],
        /--backbone brings its own network with a linear head of --embedding-dim: it cannot be given with --hidden/,
      ],
    ];
    for (const [args, message] of cases) {
      assertUsageError(await inProcess(train, args), message, args.join(" "));
    }
  });

  await t.step("embed, experiment, index and search follow their own tables", async () => {
    assertUsageError(
      await inProcess(search, [
        "--db",
        "d",
        "--model",
        "m",
        "--query",
        "q.csv",
        "--exact",
        "--nprobes",
        "5",
      ]),
      /--nprobes tunes the approximate search \(--exact compares every row\): it cannot be given with --exact/,
    );
    assertUsageError(
      await inProcess(indexCommand, [
        "--model",
        "m",
        "--data",
        "d.csv",
        "--db",
        "x",
        "--backend",
        "webgpu",
        "--threads",
        "2",
      ]),
      /--threads .*needs --backend cpu or auto \(not webgpu\)/,
    );
    assertUsageError(
      await inProcess(embed, [
        "--model",
        "m",
        "--data",
        "d.csv",
        "--backend",
        "webgpu",
        "--threads",
        "2",
      ]),
      /--threads .*needs --backend cpu or auto \(not webgpu\)/,
    );
    assertUsageError(
      await inProcess(experiment, ["speed", "--backend", "webgpu", "--threads", "2"]),
      /--threads .*needs --backend cpu or auto/,
    );
    assertUsageError(
      await inProcess(experiment, ["speed", "--dataset", "mnist", "--data-dir", "/x"]),
      /--data-dir is where Fashion-MNIST is: it needs --dataset fashion-mnist \(not mnist\)/,
    );
    assertUsageError(
      await inProcess(experiment, ["--resume", "/x", "--overwrite"]),
      /so --overwrite cannot be given with it \(allowed: --backend, --threads, --quiet\)/,
    );
  });

  await t.step(
    "embed, index and search: image flags need image files, CSV flags a CSV",
    async () => {
      const cases: [(args: readonly string[]) => Promise<number>, string[], RegExp][] = [
        [
          embed,
          ["--model", "m", "--data", "d.csv", "--cache", "/c"],
          /--cache is where decoded images are kept: it needs --data a folder of images or an image file \(not --data a CSV or IDX file\)/,
        ],
        [
          embed,
          ["--model", "m", "--data", "q.png", "--label-column", "y"],
          /--label-column names a CSV column \(image files have none\): it needs --data a CSV or IDX file \(not --data a folder of images or an image file\)/,
        ],
        [
          indexCommand,
          ["--model", "m", "--data", folder, "--db", "x", "--label-column", "y"],
          /--label-column .*\(not --data a folder of images or an image file\)/,
        ],
        [
          indexCommand,
          ["--model", "m", "--data", "d.csv", "--db", "x", "--skip-bad-images"],
          /--skip-bad-images .*needs --data a folder of images/,
        ],
        [
          search,
          ["--db", "d", "--model", "m", "--query-csv", "a.png", "--skip-bad-images"],
          /--skip-bad-images .*\(not --query-csv a CSV file\)/,
        ],
        [
          search,
          ["--db", "d", "--model", "m", "--query", "q.csv", "--cache", "/c"],
          /--cache .*needs --query a folder of images or an image file \(not --query a CSV or IDX file\)/,
        ],
        [
          indexCommand,
          ["--model", "m", "--data", "d.csv", "--db", "x", "--sub-vectors", "4"],
          /--sub-vectors sets a PQ index's sub-vectors: it needs --index ivf-pq or --index ivf-hnsw-pq \(not --index auto, which builds ivf-hnsw-sq\)/,
        ],
        [
          indexCommand,
          ["--model", "m", "--data", "d.csv", "--db", "x", "--index", "none", "--partitions", "4"],
          /--partitions .*\(not --index none\)/,
        ],
        [
          indexCommand,
          ["--model", "m", "--data", "d.csv", "--db", "x", "--index", "ivf-pq", "--hnsw-m", "4"],
          /--hnsw-m .*needs --index ivf-hnsw-sq or --index ivf-hnsw-pq \(not --index ivf-pq\)/,
        ],
        [
          indexCommand,
          [
            "--model",
            "m",
            "--data",
            "d.csv",
            "--db",
            "x",
            "--index",
            "ivf-flat",
            "--index-threshold",
            "9",
          ],
          /--index-threshold says when auto builds the index: it needs --index auto \(not ivf-flat\)/,
        ],
      ];
      for (const [command, args, message] of cases) {
        assertUsageError(await inProcess(command, args), message, args.join(" "));
      }
    },
  );

  await t.step("what applies passes: the rule refuses nothing it should take", () => {
    const accepted = [
      ["--model", "cnn", "--conv", "8", "--norm", "none"],
      ["--data", "a.csv", "--test-fraction", "0.3", "--split-seed", "2", "--label-column", "y"],
      ["--split-seed", "3"], // the bundled MNIST's split
      ["--dataset", "fashion-mnist", "--data-dir", "/x"],
      ["--threads", "2"], // auto may run on the CPU
      ["--resume", "/x", "--iterations", "9", "--backend", "cpu", "--map", "umap", "--quiet"],
      ["--help", "--conv", "8"], // help is shown whatever else is given
      [
        "--data",
        folder,
        "--image-size",
        "8",
        "--resize",
        "pad",
        "--channels",
        "1",
        "--cache",
        "/c",
      ],
      ["--data", folder, "--augment", "flip", "--skip-bad-images", "--split-seed", "2"],
      ["--augment", "crop-flip"], // the bundled MNIST is images
      ["--data", "a.csv", "--early-stop", "3", "--keep", "last"], // a CSV's default validation
      ["--val-fraction", "0.1", "--early-stop", "2", "--epochs", "4"],
      ["--data", "a.csv", "--val", "v.csv", "--id-column", "id", "--ignore-columns", "x,y"],
      ["--backbone", "n.onnx", "--backbone-output", "pool", "--freeze-backbone", "--backbone-bgr"],
      ["--backbone", "n.onnx", "--backbone-lr-scale", "0.1", "--backbone-size", "32"],
    ];
    for (const args of accepted) {
      const values: Record<string, string | boolean> = {};
      for (let i = 0; i < args.length; i++) {
        const name = args[i].slice(2);
        const spec = TRAIN_FLAGS[name];
        if (spec.kind === "flag") values[name] = true;
        else values[name] = args[++i];
      }
      if (values.help !== true) checkFlagRules(values, TRAIN_FLAGS, trainFacts(values));
    }
  });

  await t.step("every rule names flags of its own table", () => {
    const tables: Record<string, Readonly<Record<string, FlagSpec>>> = {
      train: TRAIN_FLAGS,
      embed: EMBED_FLAGS,
      experiment: EXPERIMENT_FLAGS,
      index: INDEX_FLAGS,
      search: SEARCH_FLAGS,
    };
    // The facts each command supplies beside its flags' values.
    const facts: Record<string, string[]> = {
      train: ["source", "validation"],
      embed: ["input"],
      experiment: [],
      index: ["input", "index-kind"],
      search: ["input"],
    };
    for (const [command, flags] of Object.entries(tables)) {
      for (const [name, spec] of Object.entries(flags)) {
        for (const other of [...Object.keys(spec.needs ?? {}), ...(spec.conflicts ?? [])]) {
          assert.ok(
            other in flags || facts[command].includes(other),
            `${command} --${name} names an unknown flag --${other}`,
          );
        }
      }
    }
  });
  Deno.removeSync(folder);
});
