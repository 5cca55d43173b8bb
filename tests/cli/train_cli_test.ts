/**
 * The command line as a person meets it: every bad input is one line on stderr with exit code 2 and
 * nothing written; a run writes its folder; Ctrl-C saves a checkpoint and --resume ends exactly where
 * the uninterrupted run ends (CPU); a saved model embeds new rows.
 */
import assert from "node:assert/strict";
import { decodeArray, type EncodedArray } from "../../src/io/arrays.ts";

import { assertUsageError, cli, csv, exists, listing, ROOT, SMALL } from "../helpers/cli.ts";
import { createBackend } from "../../src/backend/create.ts";

/** Whether this machine's WebGPU adapter is a software one. */
async function softwareAdapter(): Promise<boolean> {
  const backend = await createBackend({ kind: "webgpu" });
  try {
    return backend.softwareAdapter;
  } finally {
    backend.dispose();
  }
}

Deno.test("train command", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "magnet-cli-" });
  const file = (name: string, text: string) => {
    const path = `${dir}/${name}`;
    Deno.writeTextFileSync(path, text);
    return path;
  };
  const good = file("good.csv", csv(30, 1));
  try {
    const expectUsageError = async (args: string[], message: RegExp) => {
      const out = `${dir}/should-not-exist-${Math.random().toString(36).slice(2)}`;
      const r = await cli("train", [...SMALL, "--out", out, ...args]);
      assertUsageError(r, message, args.join(" "));
      assert.ok(!exists(out), "nothing written");
    };

    await t.step("bad data files", async () => {
      await expectUsageError(["--data", `${dir}/missing.csv`], /file not found: .*missing\.csv/);
      await expectUsageError(["--data", file("empty.csv", "")], /empty\.csv: the file is empty/);
      await expectUsageError(
        ["--data", file("ragged.csv", "a,b,label\n1,2,x\n3,x\n")],
        /ragged\.csv, row 3: expected 3 fields.*found 2/,
      );
      await expectUsageError(
        ["--data", file("text.csv", "a,b,label\n1,2,x\n3,abc,y\n1,2,x\n3,4,y\n")],
        /text\.csv, row 3, column 2 "b": expected a number, found "abc"/,
      );
      await expectUsageError(
        ["--data", file("nan.csv", "a,b,label\n1,NaN,x\n3,4,y\n1,2,x\n3,4,y\n")],
        /nan\.csv, row 2, column 2 "b".*NaN/,
      );
      await expectUsageError(
        ["--data", file("inf.csv", "a,b,label\n1,2,x\n3,Infinity,y\n1,2,x\n3,4,y\n")],
        /inf\.csv, row 3, column 2 "b".*Infinity/,
      );
      await expectUsageError(
        ["--data", file("nolabel.csv", "a,b,c\n1,2,3\n")],
        /nolabel\.csv, row 1: expected a label column named "label", found columns "a", "b", "c"/,
      );
      await expectUsageError(
        ["--data", file("single.csv", "a,label\n1,x\n2,x\n3,y\n")],
        /single\.csv.*class "y".*single example/,
      );
      await expectUsageError(
        ["--data", file("oneclass.csv", "a,label\n1,x\n2,x\n3,x\n")],
        /oneclass\.csv.*at least two classes/,
      );
      await expectUsageError(
        ["--data", good, "--test", file("otherclass.csv", csv(2, 5, { classes: ["ant", "dog"] }))],
        /otherclass\.csv: row 3, column "label": class "dog" does not occur in the training data/,
      );
      // A class of two rows keeps one after the split: the message names that row of the file.
      const pairText = csv(10, 3) + "9,9,9,9,9,9,duo\n8,8,8,8,8,8,duo\n";
      const r = await cli("train", [...SMALL, "--data", file("pair.csv", pairText)]);
      assertUsageError(r, /pair\.csv \(training part\), row 3[23]: class "duo" has a single/);
      await expectUsageError(
        ["--data", file("constant.csv", "a,b,label\n1,2,x\n1,2,x\n1,2,y\n1,2,y\n1,2,x\n1,2,y\n")],
        /every feature column is constant/,
      );
    });

    await t.step("bad flags, each named with its real cause", async () => {
      await expectUsageError(
        ["--data", good, "--m", "40"],
        /M = 40 needs 39 clusters of other classes/,
      );
      await expectUsageError(
        ["--data", good, "--m", "1"],
        /M \(clusters per batch, --m\) must be an integer >= 2, got 1/,
      );
      await expectUsageError(["--data", good, "--d", "1"], /--d\) must be an integer >= 2, got 1/);
      await expectUsageError(["--data", good, "--k", "0"], /--k\) must be an integer >= 1, got 0/);
      await expectUsageError(
        ["--data", good, "--k", "30"],
        // 30 rows of "ant": 6 held out for testing, 5 of the rest for validation.
        /K = 30 clusters per class \(--k\) needs more than 30 training rows.*class "ant" has 19/,
      );
      await expectUsageError(["--data", good, "--alpha", "1e300"], /alpha.*1e\+300 is too large/);
      await expectUsageError(
        ["--data", good, "--lr", "1e-300"],
        /learning rate \(--lr\) = 1e-300 cannot be represented in float32/,
      );
      await expectUsageError(
        ["--data", good, "--seed", "4294967297"],
        /seed \(--seed\) must be an integer in \[0, 4294967295\], got 4294967297/,
      );
      await expectUsageError(
        ["--data", good, "--split-seed=-1"],
        /--split-seed must be an integer in \[0, 4294967295\], got -1/,
      );
      await expectUsageError(
        ["--data", good, "--seed", "123456789012345678901"],
        /--seed = 123456789012345678901 is too large to be represented exactly/,
      );
      await expectUsageError(
        ["--data", good, "--embedding-dim", "2000000000"],
        /embedding dim \(--embedding-dim\) must be an integer in \[1, 268435456\]/,
      );
      await expectUsageError(
        ["--data", good, "--hidden", "200000", "--embedding-dim", "20000"],
        /the embedding layer \(200000 -> 20000 wide, --embedding-dim\): variable "mlp\.1\.weight" \[200000,20000\] would hold 4\.00e\+9 values/,
      );
      await expectUsageError(["--frobnicate"], /unknown flag --frobnicate/);
      await expectUsageError(
        ["--iterations", "many"],
        /--iterations must be an integer, got "many"/,
      );
      await expectUsageError(["--hidden", "16,x"], /--hidden must be positive integers/);
      await expectUsageError(
        ["--backend", "tpu"],
        /--backend must be one of auto, webgpu, cpu, got "tpu"/,
      );
      await expectUsageError(
        ["--lr=-1", "--data", good],
        /learning rate \(--lr\) must be a positive number, got -1/,
      );
      await expectUsageError(
        ["--lr", "-1"],
        /flag --lr needs a value; for one starting with "-", write --lr=-1/,
      );
      await expectUsageError(["--test-fraction", "1.5"], /--test-fraction must be between 0 and 1/);
      await expectUsageError(["--iterations"], /flag --iterations needs a value/);
      await expectUsageError(["--out="], /--out must not be empty/);
      await expectUsageError(
        ["--data", good, "--test", file("narrow.csv", "f0,f1,label\n1,2,ant\n")],
        /narrow\.csv.*missing.*f2/,
      );
    });

    await t.step("an unwritable --out is refused before training", async () => {
      const blocker = file("blocker", "a file, not a folder");
      const r = await cli("train", [
        ...SMALL,
        "--data",
        good,
        "--iterations",
        "5",
        "--out",
        `${blocker}/run`,
      ]);
      assertUsageError(r, /cannot write to the output folder .*blocker\/run/);
    });

    await t.step("a diverging run stops with its last good state on every backend", async () => {
      // 1e30 makes the loss NaN; 1e10 makes the embeddings explode while the loss stays finite
      // (the run used to end blaming the data: "the magnet rule needs a positive finite variance").
      for (
        const [lr, what, backend] of [
          [
            "1e30",
            "the training loss became (NaN|Infinity|-Infinity)|the update of step \\d+",
            "cpu",
          ],
          ["1e10", "the embeddings grew to \\d\\.\\de\\+\\d+ at step 2", "cpu"],
          ["1e10", "the embeddings grew to \\d\\.\\de\\+\\d+ at step 2", "webgpu"],
        ]
      ) {
        const out = `${dir}/diverged-${lr}-${backend}`;
        const r = await cli("train", [
          ...SMALL,
          "--backend",
          backend,
          "--data",
          good,
          "--lr",
          lr,
          "--checkpoint-every",
          "1",
          "--iterations",
          "400",
          "--out",
          out,
        ]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(
          r.stderr.trim(),
          new RegExp(
            `^error: training diverged: (${what}).*not applied.*Lower the learning rate \\(--lr, ` +
              `now 1e\\+${
                lr.slice(2)
              }; try 0\\.001\\)\\. The last good state \\(step \\d+\\) is saved ` +
              "in .*checkpoint\\.json\\.$",
          ),
        );
        assert.doesNotMatch(r.stderr, /report|positive finite variance/);
        // The last good state holds finite values only.
        const checkpoint = JSON.parse(Deno.readTextFileSync(`${out}/checkpoint.json`));
        assert.ok(checkpoint.iteration >= 1);
        for (const [name, encoded] of Object.entries(checkpoint.variables)) {
          const values = decodeArray(encoded as EncodedArray, "float32", name);
          assert.ok(values.every(Number.isFinite), `${backend}: ${name} is finite`);
        }
        assert.ok(!exists(`${out}/metrics.json`));
        // WebGPU on a software adapter (llvmpipe here) says so, once.
        const notes = r.stdout.match(/is a software adapter: WebGPU runs on the CPU here/g) ?? [];
        assert.equal(notes.length, backend === "webgpu" && await softwareAdapter() ? 1 : 0);
      }
    });

    await t.step(
      "outside a desktop session, opening WebGPU adds nothing to stderr",
      async () => {
        // Mesa's Vulkan device-selection layer (installed with lavapipe) writes "XDG_RUNTIME_DIR
        // is invalid or not set" twice without a session; the commands turn it off. Where the
        // layer is not installed this holds anyway.
        const out = `${dir}/quiet-layer`;
        const r = await cli(
          "train",
          [...SMALL, "--out", out, "--backend", "webgpu", "--iterations", "3", "--quiet"],
          { unset: ["XDG_RUNTIME_DIR", "NODEVICE_SELECT", "MESA_VK_DEVICE_SELECT"] },
        );
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stderr, "");
      },
    );

    await t.step("--help lists every flag with its default", async () => {
      const r = await cli("train", ["--help"]);
      assert.equal(r.code, 0);
      for (
        const flag of [
          "--backend",
          "--loss",
          "--iterations",
          "--m",
          "--d",
          "--k",
          "--alpha",
          "--lr",
          "--hidden",
          "--embedding-dim",
          "--refresh-every",
          "--eval-every",
          "--seed",
          "--out",
          "--overwrite",
          "--resume",
          "--quiet",
        ]
      ) {
        assert.match(r.stdout, new RegExp(`\\s${flag}\\b`), flag);
      }
      assert.match(
        r.stdout,
        /--iterations VALUE\s+training steps \(default: 50 epochs, within 1000-6000: 6000 for MNIST and Fashion-MNIST, 1000 for a 150-row table\)/,
      );
      for (const flag of ["--val", "--val-fraction", "--keep", "--early-stop", "--epochs"]) {
        assert.match(r.stdout, new RegExp(`\\s${flag}\\b`), flag);
      }
    });

    await t.step("a CSV run writes its folder; the model embeds new rows", async () => {
      const out = `${dir}/run`;
      const r = await cli("train", [...SMALL, "--data", good, "--iterations", "60", "--out", out]);
      assert.equal(r.code, 0, r.stderr);
      const metrics = JSON.parse(Deno.readTextFileSync(`${out}/metrics.json`));
      assert.equal(metrics.backend, "cpu");
      assert.equal(metrics.loss, "magnet");
      assert.equal(metrics.iterations, 60);
      for (
        const key of ["magnetError", "knnError", "precisionAt1", "rPrecision", "mapAtR", "nmi"]
      ) {
        assert.ok(metrics.test[key] >= 0 && metrics.test[key] <= 1, key);
      }
      assert.ok(metrics.test.magnetError < 0.2, `magnet error ${metrics.test.magnetError}`);
      assert.ok(Array.isArray(metrics.history) && metrics.history.length > 1);
      assert.match(r.stdout, /magnet-rule error/);
      assert.deepEqual(listing(out), [
        "checkpoint.json",
        "metrics.json",
        "model.json",
        "report.html",
      ]);

      const rows = file("rows.csv", csv(2, 9, { header: "f5,f4,f3,f2,f1,f0,label" }));
      const e = await cli("embed", [
        "--model",
        out,
        "--data",
        rows,
        "--backend",
        "cpu",
        "--out",
        `${dir}/emb.csv`,
      ]);
      assert.equal(e.code, 0, e.stderr);
      const lines = Deno.readTextFileSync(`${dir}/emb.csv`).trim().split("\n");
      assert.equal(lines[0], "label,predicted,e0,e1,e2,e3");
      assert.equal(lines.length, 7);
      const bad = await cli("embed", [
        "--model",
        out,
        "--data",
        file("wrongcols.csv", "x,y\n1,2\n"),
      ]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /wrongcols\.csv.*missing.*f0/);
      // The output file is never the input, and an existing one is kept unless --overwrite.
      const before = Deno.readTextFileSync(rows);
      assertUsageError(
        await cli("embed", ["--model", out, "--data", rows, "--out", rows, "--overwrite"]),
        /is the input file/,
      );
      assertUsageError(
        await cli("embed", ["--model", out, "--data", rows, "--out", `${dir}/emb.csv`]),
        /emb\.csv exists: choose another file or pass --overwrite/,
      );
      assert.equal(Deno.readTextFileSync(rows), before);
      // A damaged model file is named, field by field.
      const model = JSON.parse(Deno.readTextFileSync(`${out}/model.json`));
      for (
        const [change, message] of [
          [{ model: undefined }, /broken\.json is damaged: model should be an object/],
          [
            { model: { kind: "mlp", sizes: [6, 16, 5] } },
            /broken\.json: "mlp\.1\.weight" should hold 80 values, found 64/,
          ],
          [
            { classNames: ["ant", "bee"] },
            /centreClasses should be class indices below the 2 class/,
          ],
          [{ classifier: { kind: "tree" } }, /classifier\.kind should be "magnet" or "knn"/],
        ] as const
      ) {
        const broken = file("broken.json", JSON.stringify({ ...model, ...change }));
        assertUsageError(
          await cli("embed", ["--model", broken, "--data", rows, "--out", `${dir}/x.csv`]),
          message,
        );
      }
    });

    await t.step("a new run refuses a used folder unless --overwrite", async () => {
      const out = `${dir}/run`; // written by the step above
      const before = Deno.readTextFileSync(`${out}/metrics.json`);
      const r = await cli("train", [...SMALL, "--data", good, "--iterations", "20", "--out", out]);
      assertUsageError(r, /output folder .*run is not empty \(checkpoint\.json, metrics\.json/);
      assert.equal(Deno.readTextFileSync(`${out}/metrics.json`), before);
      const other = `${dir}/other`;
      Deno.mkdirSync(other);
      file("other/notes.txt", "mine");
      const o = await cli("train", [
        ...SMALL,
        "--data",
        good,
        "--iterations",
        "20",
        "--out",
        other,
        "--overwrite",
      ]);
      assert.equal(o.code, 0, o.stderr);
      assert.deepEqual(listing(other), [
        "checkpoint.json",
        "metrics.json",
        "model.json",
        "notes.txt",
        "report.html",
      ]);
    });

    await t.step("two runs on one folder: the second is refused while the first runs", async () => {
      const out = `${dir}/busy`;
      // Progress every 2,000 steps (a twentieth), a checkpoint every 500.
      const args = [...SMALL, "--data", good, "--iterations", "40000", "--out", out];
      const first = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${ROOT}src/cli/train.ts`, ...args],
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const reader = first.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      while (!/step \d+\//.test(seen)) seen += (await reader.read()).value ?? "";
      const second = await cli("train", [...args, "--overwrite"]);
      assertUsageError(second, /output folder .*busy is in use by another run \(pid \d+/);
      const resumed = await cli("train", ["--resume", out]);
      assertUsageError(resumed, /in use by another run|no checkpoint\.json there/);
      // The reader goes away (as `| head` would): the run must go on past its next progress line.
      await reader.cancel();
      const savedStep = () => {
        try {
          return JSON.parse(Deno.readTextFileSync(`${out}/checkpoint.json`)).iteration as number;
        } catch {
          return 0;
        }
      };
      const deadline = Date.now() + 120_000;
      while (savedStep() < 4500 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok(savedStep() >= 4500, "the run went on after its stdout closed");
      first.kill("SIGTERM");
      assert.equal((await first.status).code, 143);
      assert.ok(savedStep() >= 4500);
    });

    await t.step(
      "Ctrl-C saves a checkpoint; --resume ends exactly as the uninterrupted run",
      async () => {
        const args = [
          ...SMALL,
          "--data",
          good,
          "--iterations",
          "20000",
          "--checkpoint-every",
          "0",
          "--refresh-every",
          "2000",
        ];
        const whole = await cli("train", [...args, "--out", `${dir}/whole`]);
        assert.equal(whole.code, 0, whole.stderr);
        const cut = await cli("train", [...args, "--out", `${dir}/cut`], {
          after: /step \d+\/20000/,
          signals: ["SIGINT", "SIGINT"], // the second arrives during the save and must wait for it
        });
        assert.equal(cut.code, 130, cut.stderr);
        assert.match(
          cut.stderr,
          /interrupted by SIGINT at step \d+: checkpoint saved in .*cut; continue with: deno task train --resume/,
        );
        assert.deepEqual(listing(`${dir}/cut`), ["checkpoint.json"]);
        // No --backend: the checkpoint says the run was on the CPU, and it continues there.
        const resumed = await cli("train", ["--resume", `${dir}/cut`]);
        assert.equal(resumed.code, 0, resumed.stderr);
        assert.match(resumed.stdout, /resuming .*cut at step \d+ with --backend cpu/);
        const a = JSON.parse(Deno.readTextFileSync(`${dir}/whole/metrics.json`));
        const b = JSON.parse(Deno.readTextFileSync(`${dir}/cut/metrics.json`));
        assert.equal(b.backend, "cpu");
        assert.deepEqual(b.test, a.test);
        assert.deepEqual(
          b.history.map((p: { loss: number }) => p.loss),
          a.history.map((p: { loss: number }) => p.loss),
        );
      },
    );

    await t.step("SIGTERM saves a checkpoint too; resume can write elsewhere", async () => {
      const args = [...SMALL, "--data", good, "--iterations", "20000", "--checkpoint-every", "0"];
      const cut = await cli("train", [...args, "--out", `${dir}/term`], {
        after: /step \d+\/20000/,
        signals: ["SIGTERM"],
      });
      assert.equal(cut.code, 143, cut.stderr);
      assert.match(cut.stderr, /interrupted by SIGTERM at step \d+: checkpoint saved/);
      const saved = Deno.readTextFileSync(`${dir}/term/checkpoint.json`);
      const forked = await cli("train", [
        "--resume",
        `${dir}/term`,
        "--out",
        `${dir}/forked`,
        "--iterations",
        String(JSON.parse(saved).iteration + 10),
      ]);
      assert.equal(forked.code, 0, forked.stderr);
      assert.ok(exists(`${dir}/forked/metrics.json`));
      assert.equal(Deno.readTextFileSync(`${dir}/term/checkpoint.json`), saved, "A is untouched");
    });

    await t.step("resume refuses what it cannot honour, with one line each", async () => {
      const run = `${dir}/term`;
      const state = JSON.parse(Deno.readTextFileSync(`${run}/checkpoint.json`));
      assertUsageError(
        await cli("train", ["--resume", run, "--alpha", "0.5"]),
        /--alpha cannot be given with it \(allowed: --backend, --threads, --iterations, --checkpoint/,
      );
      assertUsageError(
        await cli("train", ["--resume", run, "--split-seed", "3", "--test-fraction", "0.3"]),
        /--split-seed, --test-fraction cannot be given with it/,
      );
      assertUsageError(
        await cli("train", ["--resume", run, "--iterations", "1"]),
        /--iterations 1 is below the \d+ steps the run in .*term has done/,
      );
      const damaged = (name: string, change: Record<string, unknown>) => {
        Deno.mkdirSync(`${dir}/${name}`);
        file(`${name}/checkpoint.json`, JSON.stringify({ ...state, ...change }));
        return `${dir}/${name}`;
      };
      for (
        const [i, [change, message]] of ([
          [{ index: null }, /damaged: a magnet run past step 0 without its index/],
          [{ history: null }, /damaged: history should be a list, found null/],
          [{ iteration: -3 }, /damaged: iteration should be an integer in \[0, /],
          [{ rng: [1, 2] }, /damaged: rng should be four 32-bit integers/],
          [{ variables: { "mlp.0.weight": 7 } }, /variables\.mlp\.0\.weight is missing or not/],
          [
            { extra: { ...state.extra, source: { kind: "csv", train: 5 } } },
            /damaged: extra\.source\.train should be a non-empty string, found 5/,
          ],
          [
            { extra: { ...state.extra, source: { kind: "tape" } } },
            /damaged: extra\.source\.kind should be mnist or fashion-mnist or csv or images, found "tape"/,
          ],
          [{ extra: {} }, /damaged: extra\.source should be an object, found nothing/],
        ] as const).entries()
      ) {
        const bad = damaged(`damaged-${i}`, change);
        assertUsageError(await cli("train", ["--resume", bad]), message);
      }
      // The data changed since the checkpoint.
      const mutable = file("mutable.csv", csv(30, 1));
      const base = `${dir}/mutable-run`;
      const r = await cli("train", [
        ...SMALL,
        "--data",
        mutable,
        "--iterations",
        "10",
        "--out",
        base,
      ]);
      assert.equal(r.code, 0, r.stderr);
      file("mutable.csv", csv(30, 2));
      assertUsageError(
        await cli("train", ["--resume", base, "--iterations", "20"]),
        /the data changed since the checkpoint/,
      );
    });

    await t.step("relative paths are the caller's, and resume works from anywhere", async () => {
      Deno.mkdirSync(`${dir}/caller`);
      file("caller/mine.csv", csv(30, 4));
      const r = await cli("train", [
        ...SMALL,
        "--data",
        "mine.csv",
        "--iterations",
        "10",
        "--out",
        "here",
      ], { env: { INIT_CWD: `${dir}/caller` } });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(exists(`${dir}/caller/here/metrics.json`));
      const resumed = await cli("train", ["--resume", "../caller/here", "--iterations", "20"], {
        env: { INIT_CWD: `${dir}/term` },
      });
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.equal(
        JSON.parse(Deno.readTextFileSync(`${dir}/caller/here/metrics.json`)).iterations,
        20,
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
