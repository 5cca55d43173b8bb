/**
 * Flags that do not apply are refused, never silently ignored: every command's table says when
 * each flag applies (what it needs, what it cannot go with, whether it may go with --resume), and
 * one rule enforces it. Checked in this process: parsing ends before anything is loaded.
 */
import assert from "node:assert/strict";
import { checkFlagRules, type FlagSpec, TRAIN_FLAGS } from "../../src/cli/args.ts";
import { main as train } from "../../src/cli/train.ts";
import { EMBED_FLAGS, main as embed } from "../../src/cli/embed.ts";
import { EXPERIMENT_FLAGS, main as experiment } from "../../src/cli/experiment.ts";
import { INDEX_FLAGS, main as indexCommand } from "../../src/cli/index.ts";
import { main as search, SEARCH_FLAGS } from "../../src/cli/search.ts";
import { assertUsageError, inProcess } from "../helpers/cli.ts";

Deno.test("flags that do not apply are refused", async (t) => {
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
        /--split-seed .*needs --dataset mnist \(not fashion-mnist\)/,
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

  await t.step("what applies passes: the rule refuses nothing it should take", () => {
    const accepted = [
      ["--model", "cnn", "--conv", "8", "--norm", "none"],
      ["--data", "a.csv", "--test-fraction", "0.3", "--split-seed", "2", "--label-column", "y"],
      ["--split-seed", "3"], // the bundled MNIST's split
      ["--dataset", "fashion-mnist", "--data-dir", "/x"],
      ["--threads", "2"], // auto may run on the CPU
      ["--resume", "/x", "--iterations", "9", "--backend", "cpu", "--map", "umap", "--quiet"],
      ["--help", "--conv", "8"], // help is shown whatever else is given
    ];
    for (const args of accepted) {
      const values: Record<string, string | boolean> = {};
      for (let i = 0; i < args.length; i++) {
        const name = args[i].slice(2);
        const spec = TRAIN_FLAGS[name];
        if (spec.kind === "flag") values[name] = true;
        else values[name] = args[++i];
      }
      if (values.help !== true) checkFlagRules(values, TRAIN_FLAGS);
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
    for (const [command, flags] of Object.entries(tables)) {
      for (const [name, spec] of Object.entries(flags)) {
        for (const other of [...Object.keys(spec.needs ?? {}), ...(spec.conflicts ?? [])]) {
          assert.ok(other in flags, `${command} --${name} names an unknown flag --${other}`);
        }
      }
    }
  });
});
