/**
 * The command line with a person's own table: ids and ignored columns through train and embed,
 * the model chosen on validation rows, defaults sized to a 150-row table, conflicting flags
 * refused, and Ctrl-C during an evaluation stopping at once.
 */
import assert from "node:assert/strict";
import { Random } from "../../src/util/random.ts";
import { assertUsageError, cli, SMALL } from "../helpers/cli.ts";

/**
 * A 150-row table shaped like Fisher's iris: 4 measurements, 3 species of 50, one set apart and
 * two that overlap a little; with an id and a free-text column.
 */
function irisLike(seed: number): string {
  const rng = new Random(seed);
  const means = [[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.6, 2.0]];
  const species = ["setosa", "versicolor", "virginica"];
  const lines = ["plant,sepal_length,sepal_width,petal_length,petal_width,species,notes"];
  for (let i = 0; i < 150; i++) {
    const c = i % 3;
    const values = means[c].map((m) => (m + 0.3 * rng.normal()).toFixed(2));
    lines.push([`p${i + 1}`, ...values, species[c], `"seen, ${i % 7} times"`].join(","));
  }
  return lines.join("\n") + "\n";
}

Deno.test("the command line with a person's own table", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "magnet-own-" });
  const file = (name: string, text: string) => {
    Deno.writeTextFileSync(`${dir}/${name}`, text);
    return `${dir}/${name}`;
  };
  const json = (path: string) => JSON.parse(Deno.readTextFileSync(path));
  const iris = file("iris.csv", irisLike(1));
  const columns = [
    "--label-column",
    "species",
    "--id-column",
    "plant",
    "--ignore-columns",
    "notes",
  ];
  try {
    await t.step(
      "defaults sized to 150 rows: 40 refreshes, the best validation model",
      async () => {
        const out = `${dir}/iris-run`;
        const r = await cli("train", [
          "--data",
          iris,
          ...columns,
          "--backend",
          "cpu",
          "--out",
          out,
        ]);
        assert.equal(r.code, 0, r.stderr);
        const metrics = json(`${out}/metrics.json`);
        assert.equal(metrics.data.trainRows, 96);
        assert.equal(metrics.data.validationRows, 24);
        assert.equal(metrics.data.testRows, 30);
        assert.equal(metrics.settings.iterations, 1000);
        assert.equal(metrics.settings.refreshEvery, 25);
        assert.equal(metrics.settings.evalEvery, 50);
        assert.equal(metrics.settings.keep, "best");
        assert.equal(metrics.timings.refreshCount, 40);
        // The kept model is the best validation evaluation (the earliest of equals), named with
        // its step and metric in metrics.json, model.json, the summary and the report.
        const evaluations = metrics.history.filter((p: { validation?: unknown }) => p.validation);
        assert.equal(evaluations.length, 20);
        const errors = evaluations.map((p: { validation: { magnetError: number } }) =>
          p.validation.magnetError
        );
        const best = evaluations[errors.indexOf(Math.min(...errors))];
        assert.deepEqual(metrics.kept, {
          rule: "best",
          iteration: best.iteration,
          metric: "magnetError",
          value: best.validation.magnetError,
        });
        assert.deepEqual(json(`${out}/model.json`).kept, metrics.kept);
        assert.deepEqual(metrics.validation, best.validation);
        assert.match(r.stdout, /96 train \/ 24 validation \/ 30 test rows/);
        assert.match(
          r.stdout,
          /1,000 steps \(500 epochs of 2\), index refresh every 25 steps, evaluation every 50 steps on the validation rows, keeping the best validation model/,
        );
        assert.match(
          r.stdout,
          new RegExp(
            `model kept +\\| the best on the validation rows, from step ${best.iteration}`,
          ),
        );
        assert.match(r.stdout, /\| NMI +\| [01]\.\d{3} +\|/);
        // Short times in a unit that shows them, never "0.00 s".
        assert.match(r.stdout, /\| one step +\| [\d.]+ (ms|µs) \(sample/);
        assert.match(r.stdout, /\| index builds +\| 40 × [\d.]+ (ms|µs|s) +\|/);
        assert.doesNotMatch(r.stdout, / 0\.00 s/);
        const report = Deno.readTextFileSync(`${out}/report.html`);
        assert.match(report, /model kept<\/th><td[^>]*>the best on the validation rows, from step/);
        assert.match(report, /<h2>2\. Validation metrics<\/h2>/);
        // Only the settings magnet and the MLP read: no convolutions, no triplet margin.
        assert.match(report, /alpha<\/th>/);
        assert.doesNotMatch(report, /tripletMargin|>conv<|>norm</);

        // --help with the same data shows the defaults as they resolve for it.
        const help = await cli("train", ["--data", iris, ...columns, "--help"]);
        assert.equal(help.code, 0, help.stderr);
        assert.match(
          help.stdout,
          /For these data \(iris\.csv: 96 train \/ 24 validation \/ 30 test rows\), the defaults resolve to: 1,000 steps/,
        );
      },
    );

    await t.step(
      "ids and labels through embed, and rows far outside the training range",
      async () => {
        const out = `${dir}/iris-run`; // trained by the step above
        // New rows with the training file's columns in another order, labels as class numbers.
        const rows = file(
          "new.csv",
          "notes,petal_width,species,plant,sepal_length,sepal_width,petal_length\n" +
            "x,0.2,0,first,5.0,3.4,1.5\n" +
            'y,2.0,2,"second, quoted",6.6,3.0,5.6\n',
        );
        const e = await cli("embed", [
          "--model",
          out,
          "--data",
          rows,
          "--backend",
          "cpu",
          "--out",
          `${dir}/new.emb.csv`,
          "--label-column",
          "species",
        ]);
        assert.equal(e.code, 0, e.stderr);
        assert.equal(e.stderr, "");
        const lines = Deno.readTextFileSync(`${dir}/new.emb.csv`).trim().split("\n");
        assert.match(lines[0], /^plant,species,predicted,e0,e1,/);
        assert.match(lines[1], /^first,setosa,setosa,/);
        assert.match(lines[2], /^"second, quoted",virginica,virginica,/);
        // Measurements in millimetres against a model trained on centimetres: warned about.
        const far = file(
          "mm.csv",
          "plant,sepal_length,sepal_width,petal_length,petal_width\nm1,50,34,15,2\nm2,5.0,3.4,1.5,0.2\n",
        );
        const w = await cli("embed", [
          "--model",
          out,
          "--data",
          far,
          "--backend",
          "cpu",
          "--out",
          `${dir}/mm.emb.csv`,
        ]);
        assert.equal(w.code, 0, w.stderr);
        assert.match(
          w.stderr,
          /^warning: .*mm\.csv: 1 of 2 rows have features far outside the range the model was trained on \(column "sepal_\w+": [\d.]+ to [\d.]+ here, [\d.]+ to [\d.]+ in training\)/,
        );
      },
    );

    await t.step("the id column names the rows of a search index and its results", async () => {
      const out = `${dir}/iris-run`; // trained by the first step, with --id-column plant
      const db = `${dir}/db`;
      const index = await cli("index", ["--model", out, "--data", iris, "--db", db, "--quiet"]);
      assert.equal(index.code, 0, index.stderr);
      const queries = file(
        "queries.csv",
        "plant,sepal_length,sepal_width,petal_length,petal_width,notes\nq1,5.0,3.4,1.5,0.2,x\n",
      );
      const s = await cli("search", [
        "--db",
        db,
        "--model",
        out,
        "--query-csv",
        queries,
        "--k",
        "3",
        "--exact",
        "--json",
      ]);
      assert.equal(s.code, 0, s.stderr);
      const [found] = s.stdout.trim().split("\n").map((line) => JSON.parse(line));
      assert.equal(found.query, "q1");
      assert.equal(found.hits.length, 3);
      for (const hit of found.hits) assert.match(hit.id, /^p\d+$/);
    });

    await t.step("flags that conflict or need something are refused in one line", async () => {
      const out = `${dir}/never`;
      const refuse = async (args: string[], message: RegExp) =>
        assertUsageError(
          await cli("train", [...SMALL, "--out", out, ...args]),
          message,
          args.join(" "),
        );
      await refuse(
        ["--data", iris, "--val", iris, "--val-fraction", "0.1"],
        /--val is a validation CSV file: it cannot be given with --val-fraction/,
      );
      await refuse(
        ["--data", iris, "--epochs", "3", "--iterations", "10"],
        /--epochs sets the run's length: it cannot be given with --iterations/,
      );
      await refuse(["--id-column", "plant"], /--id-column names a CSV column: it needs --data/);
      await refuse(
        ["--val", iris],
        /--val is a validation CSV file: it needs --data a CSV file \(not the bundled MNIST\)/,
      );
      await refuse(
        ["--data", iris, ...columns, "--val-fraction", "0", "--keep", "best"],
        /--keep chooses the model by its validation error \(the test rows only get the final report\): it needs validation rows/,
      );
      await refuse(["--keep", "best"], /needs validation rows/); // MNIST has none by default
      await refuse(
        ["--data", iris, ...columns, "--val-fraction", "1"],
        /--val-fraction must be at least 0 and below 1, got 1/,
      );
      await refuse(
        ["--data", iris, "--label-column", "species"],
        /column 1 "plant": expected a number, found "p1"/,
      );
      await refuse(
        ["--data", iris, ...columns.slice(0, 4), "--ignore-columns", "note"],
        /--ignore-columns names "note", which is not a column/,
      );
      await refuse(["--data", iris], /expected a label column named "label".*with --label-column/);
      assert.ok(
        !Deno.statSync(dir).isFile && ![...Deno.readDirSync(dir)].some((e) => e.name === "never"),
      );
    });

    await t.step("Ctrl-C during an evaluation stops within 2 seconds and says so", async () => {
      // 60,000 rows of two classes: the evaluation's search (9,600 queries among 38,400 rows, with
      // R = 19,200 neighbours each) runs for seconds; the log says so once it has run for 2.
      const rng = new Random(4);
      const lines = ["x,y,label"];
      for (let i = 0; i < 60000; i++) {
        const c = i % 2;
        lines.push(`${(c + rng.normal()).toFixed(3)},${(rng.normal()).toFixed(3)},${c}`);
      }
      const big = file("big.csv", lines.join("\n") + "\n");
      const out = `${dir}/big-run`;
      const r = await cli("train", [...SMALL, "--data", big, "--iterations", "10", "--out", out], {
        after: /evaluating on the validation rows @ 10: /,
        signals: ["SIGINT"],
      });
      assert.equal(r.code, 130, r.stderr);
      assert.match(r.stderr, /SIGINT received: stopping/);
      assert.match(r.stderr, /interrupted by SIGINT at step 10: checkpoint saved/);
      // Stopping is work the process does after the signal: at most 2 s of its CPU time (on an
      // idle machine, its wall time; a loaded one stretches wall time, not the work). The wall
      // time is bounded too, loosely, so a hang cannot pass.
      const stopping = `${r.cpuAfterSignal?.toFixed(2)} s of CPU and ${
        r.afterSignal!.toFixed(2)
      } s of wall time after the signal`;
      assert.ok((r.cpuAfterSignal ?? r.afterSignal!) < 2, stopping);
      assert.ok(r.afterSignal! < 30, stopping);
      // The evaluation is redone when the run is resumed.
      assert.equal(json(`${out}/checkpoint.json`).iteration, 10);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
