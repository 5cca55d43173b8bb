/** How `deno task embed` writes numbers: the fewest digits that read back as the same float32. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { float32Text } from "../../src/cli/embed.ts";

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
