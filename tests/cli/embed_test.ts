/** How `deno task embed` writes numbers: the fewest digits that read back as the same float32. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { float32Text, labelAsClassName } from "../../src/cli/embed.ts";

Deno.test("float32Text reads back exactly in at most 9 significant digits", () => {
  assert.equal(float32Text(Math.fround(0.1)), "0.1");
  assert.equal(float32Text(Math.fround(1 / 3)), "0.33333334");
  fc.assert(
    fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (x) => {
      const text = float32Text(x);
      assert.equal(Math.fround(Number(text)), x, text);
      const mantissa = text.replace(/^-/, "").replace(/e.*$/, "").replace(
        ".",
        "",
      );
      const digits = mantissa.replace(/^0+/, "").replace(/0+$/, "");
      assert.ok(digits.length <= 9, `${x} written as ${text}`);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("embed writes given labels in the model's class names", () => {
  const fashion = ["T-shirt/top", "Trouser", "Pullover", "Dress"];
  // A class index where the names are words (a Fashion-MNIST export labelled 0-9).
  assert.equal(labelAsClassName("3", fashion), "Dress");
  assert.equal(labelAsClassName("Trouser", fashion), "Trouser");
  assert.equal(labelAsClassName(" Trouser ", fashion), "Trouser");
  // Beyond the classes, or not a number: as written.
  assert.equal(labelAsClassName("7", fashion), "7");
  assert.equal(labelAsClassName("boot", fashion), "boot");
  // Numeric class names: the same number, however it is written; never an index.
  const digits = ["0", "1", "2", "10"];
  assert.equal(labelAsClassName("2.0", digits), "2");
  assert.equal(labelAsClassName("3", digits), "3");
  assert.equal(labelAsClassName("", digits), "");
});
