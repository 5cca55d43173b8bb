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
    assert.deepEqual(read({ ...old, kind: "mnist" }), {
      kind: "mnist",
      testFraction: 0.25,
      splitSeed: 7,
    });
    assert.deepEqual(read({ ...old, kind: "fashion-mnist", dir: "/data/fm" }), {
      kind: "fashion-mnist",
      dir: "/data/fm",
    });
    assert.deepEqual(read({ ...old, kind: "csv", train: "/d/a.csv", labelColumn: "species" }), {
      kind: "csv",
      train: "/d/a.csv",
      test: null,
      labelColumn: "species",
      testFraction: 0.25,
      splitSeed: 7,
    });
  });

  await t.step("a damaged source names its field", () => {
    const cases: [unknown, RegExp][] = [
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
      [{ ...images, resize: "zoom" }, /extra\.source\.resize should be crop or pad or stretch/],
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
