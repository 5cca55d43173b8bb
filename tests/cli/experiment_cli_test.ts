/**
 * `deno task experiment`: every experiment runs end to end in its quick form on a small
 * Fashion-MNIST written here, and its results.json and experiment.html hold what they promise
 * (the schema and sanity of the numbers, not their values); a stopped experiment keeps its finished
 * runs and --resume completes it; mistakes are one line with exit code 2.
 */
import assert from "node:assert/strict";
import { assertUsageError, cli, exists } from "../helpers/cli.ts";
import { writeFashionMnist } from "../helpers/idx.ts";

interface Results {
  format: string;
  version: number;
  experiment: string;
  complete: boolean;
  command: string;
  seconds: number;
  data: { name: string; train: number; test: number };
  options: { seeds: number[]; quick: boolean; iterations: number; model: string };
  runs: {
    key: string;
    seed: number;
    iterations: number;
    seconds: number;
    trainSecondsPer1000: number;
    curve: { iteration: number; seconds: number; error: number; knnError: number }[];
    metrics: Record<string, number | null>;
  }[];
  tables: { title: string; columns: string[]; rows: string[][] }[];
  figures: { title: string; series: { label: string; xs: number[]; ys: number[] }[] }[];
}

const EXPECTED_RUNS = { speed: 4, hierarchy: 6, ablation: 16 } as const;

function checkResults(r: Results, name: keyof typeof EXPECTED_RUNS, seeds: number[]): void {
  assert.equal(r.format, "magnet-experiment");
  assert.equal(r.version, 1);
  assert.equal(r.experiment, name);
  assert.equal(r.complete, true);
  assert.match(r.command, new RegExp(`^deno task experiment ${name} `));
  assert.deepEqual(r.data, { name: "Fashion-MNIST", train: 200, test: 60 });
  assert.deepEqual(r.options.seeds, seeds);
  assert.equal(r.runs.length, EXPECTED_RUNS[name] * seeds.length);
  const keys = new Set(r.runs.map((run) => run.key));
  assert.equal(keys.size, EXPECTED_RUNS[name], "one key per setting");
  for (const run of r.runs) {
    assert.ok(seeds.includes(run.seed));
    assert.equal(run.iterations, r.options.iterations);
    assert.ok(run.seconds > 0 && run.trainSecondsPer1000 > 0, `${run.key}: times`);
    assert.ok(run.curve.length >= 1, `${run.key}: the end is evaluated`);
    assert.equal(run.curve.at(-1)!.iteration, run.iterations);
    run.curve.forEach((p, i) => {
      assert.ok(p.error >= 0 && p.error <= 1 && p.knnError >= 0 && p.knnError <= 1);
      if (i > 0) {
        assert.ok(p.iteration > run.curve[i - 1].iteration, "steps increase");
        assert.ok(p.seconds >= run.curve[i - 1].seconds, "training time increases");
      }
    });
    for (const [metric, value] of Object.entries(run.metrics)) {
      if (value === null) continue;
      assert.ok(Number.isFinite(value) && value >= 0 && value <= 1, `${metric} = ${value}`);
    }
  }
  assert.ok(r.tables.length >= 1);
  for (const t of r.tables) {
    assert.ok(t.rows.length >= 2, t.title);
    for (const row of t.rows) {
      assert.equal(row.length, t.columns.length, `${t.title}: a cell per column`);
      for (const cell of row) assert.doesNotMatch(cell, /NaN|undefined|Infinity/, t.title);
    }
  }
}

Deno.test("experiment command", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "magnet-experiment-" });
  const data = `${dir}/fashion`;
  Deno.mkdirSync(data);
  await writeFashionMnist(data, { train: 200, test: 60, side: 8 });
  const common = ["--quick", "--data-dir", data, "--backend", "cpu", "--iterations", "24"];
  try {
    for (const name of ["speed", "hierarchy", "ablation"] as const) {
      await t.step(`${name}: runs in quick form and writes its results`, async () => {
        const out = `${dir}/${name}`;
        const seeds = name === "speed" ? [1, 2] : [1];
        const r = await cli("experiment", [
          name,
          ...common,
          "--seeds",
          seeds.join(","),
          "--out",
          out,
        ]);
        assert.equal(r.code, 0, r.stderr);
        const results = JSON.parse(Deno.readTextFileSync(`${out}/results.json`)) as Results;
        checkResults(results, name, seeds);
        const page = Deno.readTextFileSync(`${out}/experiment.html`);
        assert.match(page, /^<!DOCTYPE html>/);
        for (const table of results.tables) assert.ok(page.includes(table.title));
        assert.doesNotMatch(page, /NaN|undefined|<script/);
        assert.ok(r.stdout.includes(`| ${results.tables[0].columns.join(" | ")} |`));
        if (name === "speed") {
          assert.equal(results.figures.length, 2);
          assert.equal(results.figures[0].series.length, 4);
          assert.equal((page.match(/<svg /g) ?? []).length, 2);
        }
        if (name === "hierarchy") {
          for (const run of results.runs) {
            for (const m of ["fineKnnError", "fineNmi", "finePurity"]) {
              assert.equal(typeof run.metrics[m], "number", `${run.key}: ${m}`);
            }
          }
        }
      });
    }

    await t.step(
      "a stopped experiment keeps its finished runs; --resume completes it",
      async () => {
        const out = `${dir}/stopped`;
        const cut = await cli("experiment", ["ablation", ...common, "--out", out], {
          after: /\[3\/16\]/,
          signals: ["SIGINT"],
        });
        assert.equal(cut.code, 130, cut.stderr);
        assert.match(
          cut.stderr,
          /interrupted by SIGINT: \d+ of 16 runs are saved in .*stopped; continue with: deno task experiment --resume/,
        );
        const partial = JSON.parse(Deno.readTextFileSync(`${out}/results.json`)) as Results;
        assert.equal(partial.complete, false);
        assert.ok(partial.runs.length >= 2 && partial.runs.length < 16, `${partial.runs.length}`);
        assert.match(Deno.readTextFileSync(`${out}/experiment.html`), /Incomplete/);
        const resumed = await cli("experiment", ["--resume", out, "--backend", "cpu"]);
        assert.equal(resumed.code, 0, resumed.stderr);
        assert.match(
          resumed.stdout,
          new RegExp(`resuming the ablation experiment .*, ${partial.runs.length} done`),
        );
        const done = JSON.parse(Deno.readTextFileSync(`${out}/results.json`)) as Results;
        checkResults(done, "ablation", [1]);
        // The finished runs were kept as they were, not run again.
        assert.deepEqual(done.runs.slice(0, partial.runs.length), partial.runs);
      },
    );

    await t.step("mistakes: one line, exit 2, nothing written", async () => {
      const out = `${dir}/never`;
      const refused = async (args: string[], message: RegExp) => {
        assertUsageError(await cli("experiment", args), message, args.join(" "));
        assert.ok(!exists(out));
      };
      await refused([], /name an experiment: speed, hierarchy, ablation/);
      await refused(
        ["speedy", "--out", out],
        /unknown experiment "speedy": choose speed, hierarchy, ablation/,
      );
      await refused(["--quick", "--out", out], /name an experiment first/);
      await refused(
        ["speed", "--seeds", "1,x", "--out", out],
        /--seeds must be an integer, got "x"/,
      );
      await refused(["speed", "--seeds", "2,2", "--out", out], /--seeds repeats a seed/);
      await refused(["speed", "--model", "vit", "--out", out], /--model must be one of mlp, cnn/);
      await refused(["speed", "--bogus", "--out", out], /unknown flag --bogus/);
      await refused(
        ["speed", "--data-dir", `${dir}/nothing`, "--out", out],
        /Fashion-MNIST is not in .*nothing.*apt-get install dataset-fashion-mnist/,
      );
      await refused(
        ["speed", "--dataset", "mnist", "--data-dir", data, "--out", out],
        /--data-dir .* needs --dataset fashion-mnist/,
      );
      await refused(
        ["speed", ...common, "--out", `${dir}/speed`],
        /output folder .*speed is not empty/,
      );
      await refused(
        ["--resume", `${dir}/speed`, "--seeds", "4"],
        /--seeds cannot be given with it/,
      );
      await refused(
        ["hierarchy", "--resume", `${dir}/speed`],
        /holds the speed experiment, not hierarchy/,
      );
      await refused(["--resume", `${dir}/fashion`], /no results\.json there/);
    });

    await t.step("--help lists the experiments and the flags", async () => {
      const r = await cli("experiment", ["--help"]);
      assert.equal(r.code, 0);
      for (const word of ["speed", "hierarchy", "ablation", "--seeds", "--quick", "--resume"]) {
        assert.ok(r.stdout.includes(word), word);
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
