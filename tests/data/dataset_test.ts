import assert from "node:assert/strict";
import { MagnetInputError } from "../../src/errors.ts";
import { type Dataset, datasetSize, subset, validateDataset } from "../../src/data/dataset.ts";

function sample(): Dataset {
  return {
    features: Float32Array.from([0, 1, 10, 11, 20, 21, 30, 31, 40, 41]),
    dim: 2,
    labels: Int32Array.from([0, 1, 0, 1, 2]),
    classNames: ["a", "b", "c"],
    featureNames: ["x", "y"],
  };
}

function assertInputError(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof MagnetInputError, `expected MagnetInputError, got ${e}`);
    for (const fragment of fragments) {
      assert.ok(e.message.includes(fragment), `"${e.message}" should mention "${fragment}"`);
    }
    return true;
  });
}

Deno.test("dataset", async (t) => {
  await t.step("datasetSize counts rows", () => {
    assert.equal(datasetSize(sample()), 5);
  });

  await t.step("subset keeps the given order, repeats and the whole class list", () => {
    const d = sample();
    const s = subset(d, [4, 0, 0, 3]);
    assert.deepEqual([...s.features], [40, 41, 0, 1, 0, 1, 30, 31]);
    assert.deepEqual([...s.labels], [2, 0, 0, 1]);
    assert.equal(s.dim, 2);
    assert.deepEqual(s.classNames, ["a", "b", "c"]);
    assert.deepEqual(s.featureNames, ["x", "y"]);
    // The subset owns its arrays: changing it must not change the source.
    s.features[0] = -1;
    s.classNames[0] = "changed";
    assert.equal(d.features[8], 40);
    assert.equal(d.classNames[0], "a");
  });

  await t.step("subset of no rows and from a typed index array", () => {
    const d = sample();
    assert.equal(datasetSize(subset(d, [])), 0);
    const s = subset(d, Int32Array.from([1, 2]));
    assert.deepEqual([...s.labels], [1, 0]);
    const noNames = subset({ ...sample(), featureNames: undefined }, [0]);
    assert.equal(noNames.featureNames, undefined);
  });

  await t.step("subset carries row ids in its own order, and none when the source has none", () => {
    const d = { ...sample(), ids: ["r1", "r2", "r3", "r4", "r5"] };
    assert.deepEqual(subset(d, [4, 0, 0]).ids, ["r5", "r1", "r1"]);
    assert.equal(subset(sample(), [0]).ids, undefined);
  });

  await t.step("subset rejects indices that are not rows", () => {
    for (const bad of [-1, 5, 1.5, NaN]) {
      assert.throws(() => subset(sample(), [0, bad]), RangeError);
    }
  });

  await t.step("validateDataset accepts a good dataset", () => {
    const d = sample();
    d.labels[4] = 1; // class "c" would otherwise be a singleton
    validateDataset(d, "good");
    // Absent classes are fine as long as two are present with two examples each.
    validateDataset({ ...d, classNames: ["a", "b", "c", "d"] }, "good");
  });

  await t.step("validateDataset reports the source, row and column", () => {
    const fixed = () => {
      const d = sample();
      d.labels[4] = 1;
      return d;
    };
    let d = fixed();
    d.features[7] = NaN;
    assertInputError(() => validateDataset(d, "mydata"), "mydata", "row 4", 'column 2 "y"', "NaN");
    d = fixed();
    d.features[2] = -Infinity;
    d.featureNames = undefined;
    assertInputError(() => validateDataset(d, "mydata"), "row 2", "column 1", "-Infinity");
    d = fixed();
    d.labels[3] = 3;
    assertInputError(() => validateDataset(d, "mydata"), "row 4", "[0, 3)", "found 3");
    d = fixed();
    d.labels[0] = -1;
    assertInputError(() => validateDataset(d, "mydata"), "row 1", "found -1");
  });

  await t.step("validateDataset rejects bad shapes", () => {
    assertInputError(() => validateDataset({ ...sample(), dim: 0 }, "s"), "s:", "no feature");
    assertInputError(() => validateDataset({ ...sample(), dim: 3 }, "s"), "15 values", "found 10");
    assertInputError(
      () => validateDataset({ ...sample(), featureNames: ["x"] }, "s"),
      "2 feature names",
      "found 1",
    );
    assertInputError(
      () => validateDataset({ ...sample(), classNames: ["a", "b", "a"] }, "s"),
      "class 2",
      '"a"',
    );
    assertInputError(
      () =>
        validateDataset({
          features: new Float32Array(),
          dim: 2,
          labels: new Int32Array(),
          classNames: ["a", "b"],
        }, "s"),
      "no rows",
    );
  });

  await t.step("validateDataset needs two classes without singletons", () => {
    const one = { ...sample(), labels: Int32Array.from([1, 1, 1, 1, 1]) };
    assertInputError(() => validateDataset(one, "s"), "two classes", '"b"');
    // Class "c" appears once, at row 5.
    assertInputError(() => validateDataset(sample(), "s"), "row 5", '"c"', "single example");
    const early = { ...sample(), labels: Int32Array.from([2, 0, 1, 0, 1]) };
    assertInputError(() => validateDataset(early, "s"), "row 1", '"c"');
  });
});
