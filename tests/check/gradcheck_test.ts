/**
 * The checkers every gradient test relies on can fail: gradcheck rejects a gradient that is wrong
 * (here, a factor hidden from autodiff by stopGradient), and crossCheck rejects a backend whose
 * values or gradients are off by a little.
 */
import assert from "node:assert/strict";
import {
  assertGradcheck,
  crossCheck,
  gradcheck,
  type GraphBuilder,
} from "../../src/check/gradcheck.ts";
import type { Backend, CompileRequest, HostArray } from "../../src/backend/backend.ts";
import { createBackend } from "../../src/backend/create.ts";
import { mul, stopGradient, sum } from "../../src/graph/ops.ts";

const input = [{ name: "x", shape: [4], data: [0.5, -1.25, 2, 0.75] }];

Deno.test("gradcheck accepts a right gradient and rejects a wrong one", async () => {
  // d/dx sum(x * x) = 2x: right.
  const right = await gradcheck(({ x }) => sum(mul(x, x), 0), input);
  assert.ok(right.ok, JSON.stringify(right));
  // x * stopGradient(x) has the same values, but autodiff sees only one factor: x instead of 2x.
  const wrong = await gradcheck(
    ({ x }) => sum(mul(x, stopGradient(x)), 0),
    input,
  );
  assert.equal(wrong.ok, false);
  assert.ok(wrong.worstRatio > 1e3, `worst ratio ${wrong.worstRatio}`);
  assert.equal(wrong.worst?.input, "x");
  await assert.rejects(
    assertGradcheck(({ x }) => sum(mul(x, stopGradient(x)), 0), input),
  );
});

/** A backend whose results are scaled by `factor` where `which` says (for testing crossCheck). */
function skewed(
  inner: Backend,
  factor: number,
  which: (i: number) => boolean,
): Backend {
  return {
    ...inner,
    kind: inner.kind,
    precision: inner.precision,
    description: `${inner.description}, skewed`,
    compile: async (request: CompileRequest) => {
      const exe = await inner.compile(request);
      return {
        outputs: exe.outputs,
        run: async (feeds) =>
          (await exe.run(feeds)).map((a, i): HostArray =>
            which(i) ? (a as Float32Array).map((v) => v * factor) : a
          ),
        dispose: () => exe.dispose(),
      };
    },
  };
}

Deno.test("crossCheck rejects a backend whose values or gradients are off", async () => {
  const cpu = await createBackend({ kind: "cpu" });
  try {
    const build: GraphBuilder = ({ x }) => mul(x, x);
    const good = await crossCheck(cpu, build, input);
    assert.ok(good.ok, JSON.stringify(good.comparisons));
    // Output 0 is the value, the others the gradients: off by 0.1 % in either is caught.
    const badValue = await crossCheck(
      skewed(cpu, 1.001, (i) => i === 0),
      build,
      input,
    );
    assert.equal(badValue.ok, false);
    const badGradient = await crossCheck(
      skewed(cpu, 1.001, (i) => i > 0),
      build,
      input,
    );
    assert.equal(badGradient.ok, false);
    assert.ok(
      badGradient.comparisons.some((c) => c.name === "d/dx" && c.worstRatio > 1),
    );
  } finally {
    cpu.dispose();
  }
});
