/**
 * The command line as a person meets it: every bad input is one line on stderr with exit code 2 and
 * nothing written; a run writes its folder; Ctrl-C saves a checkpoint and --resume ends exactly where
 * the uninterrupted run ends (CPU); a saved model embeds new rows.
 */
import assert from "node:assert/strict";
import { Random } from "../../src/util/random.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(
  script: "train" | "embed",
  args: string[],
  signalAfter?: RegExp,
): Promise<Outcome> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}src/cli/${script}.ts`, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
    stdout: "piped",
    stderr: "piped",
  });
  const child = command.spawn();
  if (signalAfter === undefined) {
    const out = await child.output();
    return {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
    };
  }
  // Read stdout until the pattern shows, then send SIGINT as Ctrl-C would.
  let stdout = "";
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    stdout += value;
    if (signalAfter.test(stdout)) {
      child.kill("SIGINT");
      break;
    }
  }
  const rest = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      stdout += value;
    }
  })();
  const stderr = await new Response(child.stderr).text();
  await rest;
  const { code } = await child.status;
  return { code, stdout, stderr };
}

/** A small labelled table: 3 classes, `perClass` rows each, 6 features with a class signal. */
function csv(
  perClass: number,
  seed: number,
  options: { header?: string; classes?: string[] } = {},
): string {
  const rng = new Random(seed);
  const classes = options.classes ?? ["ant", "bee", "cat"];
  const lines = [options.header ?? "f0,f1,f2,f3,f4,f5,label"];
  for (let i = 0; i < perClass * classes.length; i++) {
    const c = i % classes.length;
    const values = Array.from({ length: 6 }, (_, j) => (j === c * 2 ? 3 : 0) + rng.normal() * 0.5);
    lines.push([...values.map((v) => v.toFixed(4)), classes[c]].join(","));
  }
  return lines.join("\n") + "\n";
}

const SMALL = [
  "--backend",
  "cpu",
  "--hidden",
  "16",
  "--embedding-dim",
  "4",
  "--m",
  "3",
  "--d",
  "3",
  "--k",
  "2",
  "--eval-every",
  "0",
];

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
      assert.equal(r.code, 2, `exit code for ${args.join(" ")}: ${r.stderr}`);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
      assert.match(lines[0], /^error: /);
      assert.match(lines[0], message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
      assert.throws(() => Deno.statSync(out), "nothing written");
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
    });

    await t.step("bad flags", async () => {
      await expectUsageError(
        ["--data", good, "--m", "40"],
        /M = 40 needs 39 clusters of other classes/,
      );
      await expectUsageError(
        ["--data", good, "--m", "1"],
        /M \(clusters per batch, --m\) must be an integer >= 2, got 1/,
      );
      await expectUsageError(["--data", good, "--d", "0"], /--d\) must be an integer >= 1, got 0/);
      await expectUsageError(["--data", good, "--k", "0"], /--k\) must be an integer >= 1, got 0/);
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
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr.trim(), /^error: cannot write to the output folder .*blocker\/run/);
    });

    await t.step("a loss that stops being finite ends the run with a message", async () => {
      const out = `${dir}/nan`;
      const r = await cli("train", [...SMALL, "--data", good, "--lr", "1e30", "--out", out]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr.trim(),
        /^error: the training loss became NaN at step \d+; that step's update was not applied.*lower learning rate\. No checkpoint had been written yet, so nothing was saved\.$/,
      );
      assert.throws(() => Deno.statSync(out), "no empty run folder is left behind");
    });

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
          "--resume",
          "--quiet",
        ]
      ) {
        assert.match(r.stdout, new RegExp(`\\s${flag}\\b`), flag);
      }
      assert.match(r.stdout, /--iterations VALUE\s+training steps \(default: 6000\)/);
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
      for (const f of ["model.json", "checkpoint.json", "report.html"]) {
        Deno.statSync(`${out}/${f}`);
      }

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
        const cut = await cli("train", [...args, "--out", `${dir}/cut`], /step \d+\/20000/);
        assert.equal(cut.code, 130, cut.stderr);
        assert.match(
          cut.stderr,
          /interrupted at step \d+: checkpoint saved in .*cut; continue with: deno task train --resume/,
        );
        assert.throws(() => Deno.statSync(`${dir}/cut/metrics.json`));
        const resumed = await cli("train", ["--resume", `${dir}/cut`, "--backend", "cpu"]);
        assert.equal(resumed.code, 0, resumed.stderr);
        const a = JSON.parse(Deno.readTextFileSync(`${dir}/whole/metrics.json`));
        const b = JSON.parse(Deno.readTextFileSync(`${dir}/cut/metrics.json`));
        assert.deepEqual(b.test, a.test);
        assert.deepEqual(
          b.history.map((p: { loss: number }) => p.loss),
          a.history.map((p: { loss: number }) => p.loss),
        );
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
