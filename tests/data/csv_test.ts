import assert from "node:assert/strict";
import fc from "fast-check";
import { MagnetInputError } from "../../src/errors.ts";
import { parseCsvDataset, parseCsvRows, sortLabels } from "../../src/data/csv.ts";
import { readCsvDataset, readCsvRows } from "../../src/data/files.ts";
import { validateDataset } from "../../src/data/dataset.ts";

function assertInputError(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof MagnetInputError, `expected MagnetInputError, got ${e}`);
    for (const fragment of fragments) {
      assert.ok(e.message.includes(fragment), `"${e.message}" should mention ${fragment}`);
    }
    return true;
  });
}

async function assertRejectsInput(fn: () => Promise<unknown>, ...fragments: string[]) {
  await assert.rejects(fn, (e: unknown) => {
    assert.ok(e instanceof MagnetInputError, `expected MagnetInputError, got ${e}`);
    for (const fragment of fragments) {
      assert.ok(e.message.includes(fragment), `"${e.message}" should mention ${fragment}`);
    }
    return true;
  });
}

const parse = (text: string) => parseCsvDataset(text, "data.csv");

Deno.test("parseCsvDataset: valid input", async (t) => {
  await t.step("reads features, labels and names", () => {
    const d = parse("x,y,label\n1,2,cat\n3,4,dog\n5,6,cat\n7,8,dog\n");
    assert.equal(d.dim, 2);
    assert.deepEqual([...d.features], [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(d.classNames, ["cat", "dog"]);
    assert.deepEqual([...d.labels], [0, 1, 0, 1]);
    assert.deepEqual(d.featureNames, ["x", "y"]);
    validateDataset(d, "data.csv");
  });

  await t.step("the label column may be anywhere and renamed", () => {
    const d = parseCsvDataset("species,a,b\nz,1,2\ny,3,4\nz,5,6\ny,7,8", "f.csv", {
      labelColumn: "species",
    });
    assert.deepEqual(d.featureNames, ["a", "b"]);
    assert.deepEqual(d.classNames, ["y", "z"]);
    assert.deepEqual([...d.labels], [1, 0, 1, 0]);
  });

  await t.step("numeric labels sort numerically, others by code units", () => {
    const d = parse("a,label\n1,10\n2,2\n3,10\n4,2\n5,-1.5\n6,-1.5\n");
    assert.deepEqual(d.classNames, ["-1.5", "2", "10"]);
    assert.deepEqual([...d.labels], [2, 1, 2, 1, 0, 0]);
    const s = parse("a,label\n1,b\n2,B\n3,10\n4,b\n5,B\n6,10\n7,a\n8,a\n");
    assert.deepEqual(s.classNames, ["10", "B", "a", "b"]);
    // The mapping does not depend on row order.
    const reversed = parse("a,label\n8,a\n7,a\n6,10\n5,B\n4,b\n3,10\n2,B\n1,b\n");
    assert.deepEqual(reversed.classNames, s.classNames);
    assert.deepEqual(sortLabels(["1e1", "9", "09", "+9"]), ["+9", "09", "9", "1e1"]);
  });

  await t.step("number formats", () => {
    const d = parse(
      "a,label\n-1,x\n+2.5,x\n.5,y\n5.,y\n1e3,x\n-2.5E-3,y\n 7 ,x\n\t8\t,y\n0,x\n1e-50,y\n",
    );
    assert.deepEqual(
      [...d.features],
      [-1, 2.5, 0.5, 5, 1000, -2.5e-3, 7, 8, 0, 0].map(Math.fround),
    );
  });

  await t.step("quoting: commas, doubled quotes, newlines, spaces", () => {
    const text = [
      'a,"b,c","say ""hi""",label',
      '1,2,3,"x, ""quoted""\nline 2"',
      '"4","5" , "6","x, ""quoted""\nline 2"',
      '7,8,9," padded "',
      '10,11,12," padded "',
    ].join("\r\n");
    const d = parse(text);
    assert.deepEqual(d.featureNames, ["a", "b,c", 'say "hi"']);
    assert.deepEqual([...d.features], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    // Quoted text is kept verbatim, including the spaces.
    assert.deepEqual(d.classNames, [" padded ", 'x, "quoted"\nline 2']);
    assert.deepEqual([...d.labels], [1, 1, 0, 0]);
  });

  await t.step("unquoted fields are trimmed of spaces and tabs", () => {
    const d = parse(" a , label \n1, x \n2,\ty\n3,x\n4,y");
    assert.deepEqual(d.featureNames, ["a"]);
    assert.deepEqual(d.classNames, ["x", "y"]);
  });

  await t.step("BOM, CRLF, lone CR, blank lines and a missing final newline", () => {
    const expected = parse("a,label\n1,x\n2,y\n3,x\n4,y\n");
    for (
      const text of [
        "\uFEFFa,label\r\n1,x\r\n2,y\r\n3,x\r\n4,y\r\n",
        "a,label\r1,x\r2,y\r3,x\r4,y",
        "a,label\n\n1,x\n2,y\n\r\n3,x\n4,y\n\n\n",
        "a,label\n1,x\n2,y\n3,x\n4,y",
      ]
    ) {
      // The same rows; only where they stand in the file differs (blank lines are skipped).
      const { sourceRows, ...rest } = parse(text);
      assert.deepEqual({ ...rest, sourceRows: expected.sourceRows }, expected);
      assert.equal(sourceRows?.length, 4);
    }
    // Each row remembers its line, for messages about a row of a split.
    assert.deepEqual([...parse("a,label\n\n1,x\n2,y\n\r\n3,x\n4,y\n").sourceRows!], [3, 4, 6, 7]);
  });

  await t.step("empty fields at the end of a line count as fields", () => {
    assertInputError(() => parse('a,b,label\n1,"",x\n'), "row 2", 'column 2 "b"', "empty");
    assertInputError(() => parse("a,label,\n1,x,\n"), "row 1", "column 3", "empty");
    // Rows to embed may lack labels; only a labelled dataset needs every one.
    const rows = parseCsvRows('a,label\n1,""\n2,\n3,x\n', "f.csv");
    assert.deepEqual(rows.labels, ["", "", "x"]);
    assertInputError(
      () => parseCsvRows("a,label\n1,x\n2,\n", "f.csv", { requireLabel: true }),
      "row 3",
      'column 2 "label"',
    );
  });
});

Deno.test("parseCsvDataset: errors name the file, row and column", async (t) => {
  await t.step("empty file", () => {
    for (const text of ["", "\uFEFF", "\n\n", "  \r\n"]) {
      assertInputError(() => parse(text), "data.csv", "empty", "header");
    }
  });

  await t.step("header only", () => {
    assertInputError(() => parse("a,b,label\n"), "data.csv", "no", "data rows");
    assertInputError(() => parse("a,b,label"), "data.csv", "data rows");
  });

  await t.step("empty and duplicate column names", () => {
    assertInputError(() => parse("a,,label\n1,2,x\n"), "data.csv", "row 1", "column 2", "empty");
    assertInputError(() => parse('a,"  ",label\n1,2,x\n'), "row 1", "column 2", "empty");
    assertInputError(
      () => parse("a,b,a,label\n1,2,3,x\n"),
      "data.csv",
      "row 1",
      'column 3 "a"',
      "column 1",
    );
  });

  await t.step("missing label column lists the columns found", () => {
    assertInputError(
      () => parse("a,b,class\n1,2,x\n"),
      "data.csv",
      'label column named "label"',
      '"a", "b", "class"',
    );
    assertInputError(() => parse("a,Label\n1,x\n"), 'did you mean "Label"');
    assertInputError(
      () => parseCsvDataset("a,label\n1,x\n", "f.csv", { labelColumn: "y" }),
      "f.csv",
      '"y"',
      '"a", "label"',
    );
    // The message names the flag that chooses it.
    assertInputError(() => parse("a,b,class\n1,2,x\n"), "with --label-column");
  });

  await t.step("no feature columns", () => {
    assertInputError(() => parse("label\nx\nx\ny\ny\n"), "data.csv", "feature column", "none");
  });

  await t.step("ragged rows", () => {
    assertInputError(
      () => parse("a,b,label\n1,2,x\n3,4\n"),
      "data.csv",
      "row 3",
      "expected 3 fields",
      "found 2",
    );
    assertInputError(() => parse("a,b,label\n1,2,x,\n"), "row 2", "expected 3", "found 4");
  });

  await t.step("non-numeric features quote the value", () => {
    assertInputError(
      () => parse("a,b,label\n1,2,x\n3,abc,y\n"),
      "data.csv",
      "row 3",
      'column 2 "b"',
      "expected a number",
      '"abc"',
    );
    for (const bad of ["0x10", "1,5", "1.2.3", "e5", "--1", "1e", "٣"]) {
      const text = `a,label\n"${bad}",x\n`;
      assertInputError(() => parse(text), "row 2", 'column 1 "a"', JSON.stringify(bad));
    }
    assertInputError(() => parse("a,b,label\n1,,x\n"), "row 2", 'column 2 "b"', "empty");
  });

  await t.step("NaN, infinities and overflow", () => {
    for (const bad of ["NaN", "nan", "inf", "-inf", "Infinity", "+INF"]) {
      assertInputError(
        () => parse(`a,b,label\n1,2,x\n1,${bad},x\n`),
        "data.csv",
        "row 3",
        'column 2 "b"',
        "finite",
        `"${bad}"`,
      );
    }
    assertInputError(() => parse("a,label\n1e999,x\n"), "row 2", "column 1", "Infinity", '"1e999"');
    assertInputError(() => parse("a,label\n-4e38,x\n"), "row 2", "column 1", "32-bit", '"-4e38"');
  });

  await t.step("quote errors", () => {
    assertInputError(
      () => parse('a,b,label\n1,2,x\n3,"4,y\n5,6,z\n'),
      "data.csv",
      "row 3",
      'column 2 "b"',
      "closing quote",
    );
    assertInputError(() => parse('a,"b\n'), "row 1", "column 2", "closing quote");
    assertInputError(
      () => parse('a,b,label\n1,"2"3,x\n'),
      "row 2",
      'column 2 "b"',
      "after a closing quote",
    );
    assertInputError(() => parse('a,b,label\n1,2"3,x\n'), "row 2", 'column 2 "b"', "quote");
  });

  await t.step("rows are file lines, counting line breaks inside quotes", () => {
    assertInputError(
      () => parse('a,label\n1,"x\ny"\n2,"x\r\ny"\n3,"x\ry"\nbad,z\n'),
      "row 8",
      'column 1 "a"',
    );
    assertInputError(() => parse("a,label\n\n\n1,x\nbad,x\n"), "row 5");
  });

  await t.step("empty labels", () => {
    assertInputError(() => parse("a,label\n1,x\n2,\n"), "row 3", 'column 2 "label"', "empty");
    assertInputError(() => parse('a,label\n1," "\n'), "row 2", 'column 2 "label"', "empty");
  });

  await t.step("a class with a single example names it and its row", () => {
    assertInputError(
      () => parse("a,label\n1,x\n2,y\n3,x\n4,z\n5,z\n"),
      "data.csv",
      "row 3",
      'column 2 "label"',
      '"y"',
      "single example",
    );
    // Mostly unique labels hint at a wrong label column.
    assertInputError(() => parse("a,label\n1,p\n2,q\n3,r\n4,r\n"), "really the column");
  });

  await t.step("fewer than two classes", () => {
    assertInputError(
      () => parse("a,label\n1,x\n2,x\n"),
      "data.csv",
      'column 2 "label"',
      "two classes",
      '"x"',
    );
  });

  await t.step("long values are shortened in messages", () => {
    const long = "v".repeat(1000);
    assert.throws(() => parse(`a,label\n${long},x\n`), (e: Error) => e.message.length < 200);
  });
});

Deno.test("parseCsvRows", async (t) => {
  await t.step("without a label column every column is a feature", () => {
    const rows = parseCsvRows("a,b\n1,2\n3,4\n", "f.csv");
    assert.equal(rows.labels, null);
    assert.deepEqual(rows.featureNames, ["a", "b"]);
    assert.deepEqual([...rows.features], [1, 2, 3, 4]);
    assert.deepEqual([...rows.lines], [2, 3]);
    assert.deepEqual(rows.header, ["a", "b"]);
  });

  await t.step("a present label column is returned as strings, singletons allowed", () => {
    const rows = parseCsvRows("a,label,b\n1,x,2\n3,7,4\n", "f.csv");
    assert.deepEqual(rows.labels, ["x", "7"]);
    assert.deepEqual(rows.featureNames, ["a", "b"]);
    assert.deepEqual([...rows.features], [1, 2, 3, 4]);
  });

  await t.step("requireLabel", () => {
    assertInputError(
      () => parseCsvRows("a,b\n1,2\n", "f.csv", { requireLabel: true }),
      "f.csv",
      "label",
    );
  });

  await t.step("featureNames reorders columns to the model's order", () => {
    const rows = parseCsvRows("c,label,a,b\n3,x,1,2\n6,y,4,5\n", "f.csv", {
      featureNames: ["a", "b", "c"],
    });
    assert.deepEqual(rows.featureNames, ["a", "b", "c"]);
    assert.deepEqual([...rows.features], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(rows.labels, ["x", "y"]);
  });

  await t.step("featureNames names missing and extra columns", () => {
    assertInputError(
      () => parseCsvRows("a,c,e\n1,2,3\n", "f.csv", { featureNames: ["a", "b", "c", "d"] }),
      "f.csv",
      "row 1",
      '"b", "d"',
      "missing",
      '"e"',
      "unexpected",
    );
    assertInputError(
      () => parseCsvRows("b,a\n1,2\n", "f.csv", { featureNames: ["a", "b", "c"] }),
      "missing",
      '"c"',
    );
  });

  await t.step("a model feature named like the label column stays a feature", () => {
    const rows = parseCsvRows("label,a\n1,2\n", "f.csv", { featureNames: ["a", "label"] });
    assert.equal(rows.labels, null);
    assert.deepEqual([...rows.features], [2, 1]);
  });

  await t.step("errors", () => {
    assertInputError(() => parseCsvRows("", "f.csv"), "f.csv", "empty");
    assertInputError(() => parseCsvRows("a\n", "f.csv"), "f.csv", "data rows");
    assertInputError(() => parseCsvRows("a,b\n1\n", "f.csv"), "row 2", "expected 2 fields");
    assertInputError(() => parseCsvRows("a\nq\n", "f.csv"), "row 2", 'column 1 "a"', '"q"');
    assertInputError(() => parseCsvRows("label\nx\n", "f.csv"), "feature column");
  });
});

Deno.test("ids and ignored columns", async (t) => {
  const text = "name,a,notes,b,label\nada,1,x,2,cat\nbob,3,y,4,dog\ncy,5,z,6,cat\ndee,7,,8,dog\n";
  await t.step(
    "an id column is kept as the rows' ids, never a feature; ignored ones are skipped",
    () => {
      const d = parseCsvDataset(text, "f.csv", { idColumn: "name", ignoreColumns: ["notes"] });
      assert.deepEqual(d.featureNames, ["a", "b"]);
      assert.deepEqual([...d.features], [1, 2, 3, 4, 5, 6, 7, 8]);
      assert.deepEqual(d.ids, ["ada", "bob", "cy", "dee"]);
      // Without them, the id column would be a non-numeric feature: an error naming the value.
      assertInputError(() => parseCsvDataset(text, "f.csv"), 'column 1 "name"', '"ada"');
      // Rows for a trained model: the id column is read when present, ignored columns may be absent.
      const rows = parseCsvRows("b,a,name\n2,1,ada\n", "g.csv", {
        featureNames: ["a", "b"],
        idColumn: "name",
        ignoreColumns: ["notes"],
      });
      assert.deepEqual([...rows.features], [1, 2]);
      assert.deepEqual(rows.ids, ["ada"]);
      const anonymous = parseCsvRows("a,b\n1,2\n", "g.csv", {
        featureNames: ["a", "b"],
        idColumn: "name",
      });
      assert.equal(anonymous.ids, null);
    },
  );

  await t.step("each is checked against the header, with the flag named", () => {
    assertInputError(
      () => parseCsvDataset(text, "f.csv", { idColumn: "id", ignoreColumns: ["notes"] }),
      "f.csv, row 1",
      'id column named "id" (--id-column)',
      '"name", "a", "notes"',
    );
    assertInputError(
      () => parseCsvDataset(text, "f.csv", { idColumn: "name", ignoreColumns: ["note"] }),
      '--ignore-columns names "note", which is not a column',
    );
    assertInputError(
      () => parseCsvDataset(text, "f.csv", { idColumn: "label", ignoreColumns: ["notes"] }),
      '"label" cannot be both the label column (--label-column) and the id column',
    );
    assertInputError(
      () => parseCsvDataset(text, "f.csv", { idColumn: "name", ignoreColumns: ["notes", "label"] }),
      '"label" is the label column (--label-column), so it cannot also be ignored',
    );
    assertInputError(
      () => parseCsvDataset("id,label\n1,x\n2,x\n", "f.csv", { idColumn: "id" }),
      "at least one numeric feature column besides the label column",
    );
    // Columns a model does not know point to the flags that set them apart.
    assertInputError(
      () => parseCsvRows("a,b,name\n1,2,ada\n", "g.csv", { featureNames: ["a", "b"] }),
      'unexpected "name"',
      "--id-column or --ignore-columns",
    );
  });
});

Deno.test("readCsvDataset and readCsvRows", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "magnet_csv_test_" });
  try {
    await t.step("reads a file", async () => {
      const path = `${dir}/ok.csv`;
      await Deno.writeTextFile(path, "a,label\n1,x\n2,y\n3,x\n4,y\n");
      const d = await readCsvDataset(path);
      assert.deepEqual(d.classNames, ["x", "y"]);
      const rows = await readCsvRows(path);
      assert.deepEqual(rows.labels, ["x", "y", "x", "y"]);
    });

    await t.step("messages name the path", async () => {
      const path = `${dir}/bad.csv`;
      await Deno.writeTextFile(path, "a,label\n1,x\nz,y\n");
      await assertRejectsInput(() => readCsvDataset(path), path, "row 3", 'column 1 "a"');
    });

    await t.step("missing file", async () => {
      const path = `${dir}/nope.csv`;
      await assertRejectsInput(() => readCsvDataset(path), `file not found: ${path}`);
      await assertRejectsInput(() => readCsvRows(path), `file not found: ${path}`);
    });

    await t.step("a directory", async () => {
      await assertRejectsInput(() => readCsvDataset(dir), dir, "directory");
    });

    await t.step("an empty file", async () => {
      const path = `${dir}/empty.csv`;
      await Deno.writeTextFile(path, "");
      await assertRejectsInput(() => readCsvDataset(path), path, "empty");
    });

    await t.step("bytes that are not UTF-8", async () => {
      const path = `${dir}/latin1.csv`;
      await Deno.writeFile(path, Uint8Array.from([97, 44, 108, 10, 49, 44, 0xe9, 10]));
      await assertRejectsInput(() => readCsvDataset(path), path, "UTF-8");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Properties

/** Writes a field, quoting it when it must be quoted, or at random otherwise. */
function field(value: string, quoteIt: boolean): string {
  const must = /[",\r\n]/.test(value) || value !== value.trim() || value === "";
  return must || quoteIt ? `"${value.replaceAll('"', '""')}"` : value;
}

// Names and labels free of surrounding whitespace, so that trimming cannot change them.
const name = fc.string({ minLength: 1, maxLength: 8, unit: "binary" }).filter((s) =>
  s.trim() === s && s.length > 0
);
const tricky = fc.string({
  minLength: 1,
  maxLength: 6,
  unit: fc.constantFrom("a", "b", ",", '"', "\n", "\r", " ", "1", "é", "\u{1F600}"),
}).filter((s) => s.trim() === s && s.length > 0);

const table = fc.record({
  dim: fc.integer({ min: 1, max: 4 }),
  classes: fc.uniqueArray(fc.oneof(name, tricky, fc.integer().map(String)), {
    minLength: 2,
    maxLength: 4,
  }),
  names: fc.uniqueArray(fc.oneof(name, tricky), { minLength: 4, maxLength: 4 })
    .filter((names) => !names.includes("label")),
  labelAt: fc.nat(4),
  crlf: fc.boolean(),
  finalNewline: fc.boolean(),
  rowsPerClass: fc.integer({ min: 2, max: 4 }),
}).chain((shape) => {
  const n = shape.classes.length * shape.rowsPerClass;
  return fc.record({
    shape: fc.constant(shape),
    values: fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), {
      minLength: n * shape.dim,
      maxLength: n * shape.dim,
    }),
    order: fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }),
    quoting: fc.array(fc.boolean(), { minLength: (n + 1) * 5, maxLength: (n + 1) * 5 }),
    formats: fc.array(fc.nat(2), { minLength: n * shape.dim, maxLength: n * shape.dim }),
  });
});

Deno.test("CSV properties", async (t) => {
  await t.step("random tables round-trip exactly", () => {
    fc.assert(
      fc.property(table, ({ shape, values, order, quoting, formats }) => {
        const { dim } = shape;
        const featureNames = shape.names.slice(0, dim);
        const labelAt = shape.labelAt % (dim + 1);
        const header = [...featureNames];
        header.splice(labelAt, 0, "label");
        const labels = order.map((i) => shape.classes[i % shape.classes.length]);
        let q = 0;
        const lines = [header.map((h) => field(h, quoting[q++])).join(",")];
        for (let r = 0; r < labels.length; r++) {
          const cells = [];
          for (let j = 0; j < dim; j++) {
            const v = values[r * dim + j];
            const format = formats[r * dim + j];
            const text = format === 0
              ? String(v)
              : format === 1
              ? v.toExponential()
              : ` ${String(v)}\t`;
            cells.push(format === 2 ? text : field(text, quoting[q++]));
          }
          cells.splice(labelAt, 0, field(labels[r], quoting[q++]));
          lines.push(cells.join(","));
        }
        const eol = shape.crlf ? "\r\n" : "\n";
        const text = lines.join(eol) + (shape.finalNewline ? eol : "");

        const d = parseCsvDataset(text, "prop.csv");
        assert.deepEqual(d.featureNames, featureNames);
        assert.equal(d.dim, dim);
        assert.equal(d.labels.length, labels.length);
        for (let i = 0; i < values.length; i++) {
          // === treats -0 and 0 alike: String(-0) is "0", which is fine for features.
          assert.ok(d.features[i] === values[i], `value ${i}: ${d.features[i]} vs ${values[i]}`);
        }
        for (let r = 0; r < labels.length; r++) {
          assert.equal(d.classNames[d.labels[r]], labels[r]);
        }
        assert.deepEqual(d.classNames, sortLabels([...new Set(labels)]));
        validateDataset(d, "prop.csv");
      }),
      { numRuns: 400, seed: 7 },
    );
  });

  const onlyInputErrors = (text: string) => {
    const calls = [
      () => parseCsvDataset(text, "fuzz.csv"),
      () => parseCsvRows(text, "fuzz.csv"),
      () => parseCsvRows(text, "fuzz.csv", { featureNames: ["a", "1"], requireLabel: true }),
    ];
    for (const call of calls) {
      try {
        call();
      } catch (e) {
        if (!(e instanceof MagnetInputError)) throw e;
        assert.ok(e.message.startsWith("fuzz.csv"), e.message);
      }
    }
  };

  await t.step("arbitrary strings fail only with MagnetInputError", () => {
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 200 }), onlyInputErrors), {
      numRuns: 1000,
      seed: 11,
    });
  });

  await t.step("CSV-like token soup fails only with MagnetInputError", () => {
    const token = fc.constantFrom(
      ",",
      '"',
      '""',
      "\n",
      "\r",
      "\r\n",
      " ",
      "\t",
      "\uFEFF",
      "a",
      "label",
      "1",
      "2.5",
      "-",
      "e",
      "1e999",
      "NaN",
    );
    const soup = fc.array(token, { maxLength: 60 }).map((parts) => parts.join(""));
    const headed = soup.map((body) => "a,label\n" + body);
    fc.assert(fc.property(fc.oneof(soup, headed), onlyInputErrors), { numRuns: 3000, seed: 13 });
  });
});
