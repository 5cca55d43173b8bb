import assert from "node:assert/strict";
import { readDataSource } from "../../src/data/source.ts";
import { JsonFields } from "../../src/io/json_fields.ts";
import { MagnetInputError } from "../../src/errors.ts";

const read = (raw: unknown, kinds?: readonly ("mnist" | "fashion-mnist" | "csv" | "images")[]) =>
  readDataSource(new JsonFields("run/checkpoint.json", "extra.source.", raw), kinds);

Deno.test("saved data sources", async (t) => {
  await t.step("each kind keeps only what applies to it", () => {
    // Files written before the sources were told apart kept every field for every kind.
    const old = {
      dir: null,
      train: null,
      test: null,
      testFraction: 0.25,
      labelColumn: "label",
      splitSeed: 7,
    };
    // Nor did they have validation rows, ids or ignored columns.
    assert.deepEqual(read({ ...old, kind: "mnist" }), {
      kind: "mnist",
      testFraction: 0.25,
      splitSeed: 7,
    });
    assert.deepEqual(read({ ...old, kind: "fashion-mnist", dir: "/data/fm" }), {
      kind: "fashion-mnist",
      dir: "/data/fm",
    });
    assert.deepEqual(read({ kind: "fashion-mnist", dir: "/data/fm", valFraction: 0.1 }), {
      kind: "fashion-mnist",
      dir: "/data/fm",
      valFraction: 0.1,
    });
    assert.deepEqual(read({ ...old, kind: "csv", train: "/d/a.csv", labelColumn: "species" }), {
      kind: "csv",
      train: "/d/a.csv",
      test: null,
      labelColumn: "species",
      testFraction: 0.25,
      splitSeed: 7,
      val: null,
      valFraction: 0,
      idColumn: null,
      ignoreColumns: [],
    });
    // What a run saves today reads back as it was.
    const csv = {
      kind: "csv",
      train: "/d/a.csv",
      test: null,
      labelColumn: "species",
      testFraction: 0.25,
      splitSeed: 7,
      val: "/d/v.csv",
      valFraction: 0,
      idColumn: "name",
      ignoreColumns: ["notes", "date"],
    };
    assert.deepEqual(read(structuredClone(csv)), csv);
  });

  await t.step("a damaged source names its field", () => {
    const cases: [unknown, RegExp][] = [
      [
        { kind: "mnist", testFraction: 0.2, splitSeed: 0, valFraction: 1 },
        /extra\.source\.valFraction should be a number in \[0, 1\), found 1/,
      ],
      [
        {
          kind: "csv",
          train: "/a.csv",
          test: null,
          testFraction: 0.2,
          splitSeed: 0,
          labelColumn: "y",
          ignoreColumns: ["a", 3],
        },
        /extra\.source\.ignoreColumns should be a list of column names/,
      ],
      [{ kind: "tape" }, /extra\.source\.kind should be mnist or fashion-mnist or csv/],
      [{ kind: "fashion-mnist" }, /extra\.source\.dir should be a non-empty string, found nothing/],
      [{ kind: "fashion-mnist", dir: "" }, /extra\.source\.dir should be a non-empty string/],
      [
        { kind: "mnist", testFraction: 1, splitSeed: 0 },
        /extra\.source\.testFraction should be a number between 0 and 1, found 1/,
      ],
      [
        { kind: "mnist", testFraction: 0.2, splitSeed: -1 },
        /extra\.source\.splitSeed should be an integer in \[0, 4294967295\], found -1/,
      ],
      [
        {
          kind: "csv",
          train: "/a.csv",
          test: 3,
          testFraction: 0.2,
          splitSeed: 0,
          labelColumn: "y",
        },
        /extra\.source\.test should be a string, found 3/,
      ],
    ];
    for (const [raw, message] of cases) {
      assert.throws(() => read(raw), (e: Error) => {
        assert.ok(e instanceof MagnetInputError, String(e));
        assert.match(e.message, /^run\/checkpoint\.json is damaged: /);
        assert.match(e.message, message);
        return true;
      });
    }
  });

  await t.step("image folders: read field by field, a damaged field named", () => {
    const images = {
      kind: "images",
      train: "/p/train",
      test: null,
      testFraction: 0.2,
      splitSeed: 3,
      size: { width: 64, height: 48 },
      resize: "pad",
      channels: null,
      cache: "/c",
      skipBadImages: true,
    };
    assert.deepEqual(read(images), images);
    assert.deepEqual(read({ ...images, size: null, channels: 3, cache: null }), {
      ...images,
      size: null,
      channels: 3,
      cache: null,
    });
    const cases: [unknown, RegExp][] = [
      [
        { ...images, resize: "zoom" },
        /extra\.source\.resize should be "crop" or "pad" or "stretch"/,
      ],
      [{ ...images, channels: 2 }, /extra\.source\.channels should be 1, 3 or null, found 2/],
      [{ ...images, size: { width: 0, height: 4 } }, /extra\.source\.size\.width should be/],
      [{ ...images, skipBadImages: "yes" }, /extra\.source\.skipBadImages should be true/],
      [{ ...images, train: "" }, /extra\.source\.train should be a non-empty string/],
    ];
    for (const [raw, message] of cases) assert.throws(() => read(raw), message);
  });

  await t.step("a caller may allow fewer kinds", () => {
    assert.throws(
      () => read({ kind: "csv", train: "/a.csv", test: null }, ["mnist", "fashion-mnist"]),
      /extra\.source\.kind should be mnist or fashion-mnist, found "csv"/,
    );
  });
});

Deno.test("loading a CSV run's data: validation rows apart from the test rows, ids kept", async () => {
  const { loadData } = await import("../../src/data/source.ts");
  const dir = await Deno.makeTempDir({ prefix: "magnet-source-" });
  try {
    const lines = ["id,x,y,label"];
    for (let i = 0; i < 60; i++) {
      lines.push(`row${i},${i},${(i * 7) % 13},${["a", "b", "c"][i % 3]}`);
    }
    const train = `${dir}/t.csv`;
    Deno.writeTextFileSync(train, lines.join("\n") + "\n");
    const base = {
      kind: "csv" as const,
      train,
      test: null,
      testFraction: 0.2,
      labelColumn: "label",
      splitSeed: 5,
      val: null,
      valFraction: 0.25,
      idColumn: "id",
      ignoreColumns: [],
    };
    const data = await loadData(base);
    const ids = (d: { ids?: readonly string[] } | null) => [...d!.ids!];
    const [tr, va, te] = [ids(data.train), ids(data.validation), ids(data.test)];
    // Every row in exactly one part; the validation rows come from the training part only.
    assert.equal(new Set([...tr, ...va, ...te]).size, 60);
    assert.equal(tr.length + va.length + te.length, 60);
    assert.deepEqual([te.length, va.length, tr.length], [12, 12, 36]);
    // Stratified: four of each class held out for validation.
    const counts = [0, 0, 0];
    for (const c of data.validation!.labels) counts[c]++;
    assert.deepEqual(counts, [4, 4, 4]);
    // Standardised with the training rows' statistics alone.
    const features = data.train.features as Float32Array; // a table's rows
    const meanX = features.filter((_, i) => i % 2 === 0).reduce((a, b) => a + b) / 36;
    assert.ok(Math.abs(meanX) < 1e-5, `training mean ${meanX}`);
    // The same seed gives the same parts; no validation share gives none.
    assert.deepEqual(ids((await loadData(base)).validation), va);
    assert.equal((await loadData({ ...base, valFraction: 0 })).validation, null);
    // A validation file: read with the training file's columns and classes.
    const valFile = `${dir}/v.csv`;
    Deno.writeTextFileSync(valFile, "y,label,x,id\n1,b,2,v1\n3,c,4,v2\n");
    const withFile = await loadData({ ...base, valFraction: 0, val: valFile });
    assert.deepEqual(ids(withFile.validation), ["v1", "v2"]);
    assert.equal(withFile.train.labels.length, 48);
    Deno.writeTextFileSync(valFile, "y,label,x,id\n1,z,2,v1\n");
    await assert.rejects(
      loadData({ ...base, valFraction: 0, val: valFile }),
      /v\.csv: row 2, column "label": class "z" does not occur in the training data/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
