/**
 * User mistakes and internal failures are different: a mistake is one line and exit 2; anything
 * else (a graph shape bug, say) is exit 1, says it is a bug to report, and shows its stack with
 * MAGNET_DEBUG=1.
 */
import assert from "node:assert/strict";
import { reportFailure, UsageError } from "../../src/cli/args.ts";
import { BackendUnavailableError, MagnetInputError, ShapeError } from "../../src/errors.ts";

function captured(
  error: unknown,
  debug: boolean,
): { code: number; text: string } {
  const lines: string[] = [];
  const original = console.error;
  const previous = Deno.env.get("MAGNET_DEBUG");
  console.error = (...args: unknown[]) => lines.push(args.map(String).join(" "));
  if (debug) Deno.env.set("MAGNET_DEBUG", "1");
  else Deno.env.delete("MAGNET_DEBUG");
  try {
    return { code: reportFailure(error), text: lines.join("\n") };
  } finally {
    console.error = original;
    if (previous === undefined) Deno.env.delete("MAGNET_DEBUG");
    else Deno.env.set("MAGNET_DEBUG", previous);
  }
}

Deno.test("user mistakes and internal failures are reported apart", () => {
  assert.ok(!(new ShapeError("matmul", "x") instanceof MagnetInputError));
  for (
    const mistake of [
      new MagnetInputError("bad row"),
      new UsageError("bad flag"),
      new BackendUnavailableError("no adapter"),
    ]
  ) {
    const r = captured(mistake, true);
    assert.equal(r.code, 2);
    assert.equal(r.text, `error: ${mistake.message}`);
  }
  for (
    const bug of [
      new ShapeError("matmul", "inner dimensions differ"),
      new TypeError("x"),
    ]
  ) {
    const quiet = captured(bug, false);
    assert.equal(quiet.code, 1);
    assert.match(
      quiet.text,
      /^internal error: .*\nThis is a bug in magnet: please report it/,
    );
    assert.doesNotMatch(quiet.text, /\n\s+at /);
    const debug = captured(bug, true);
    assert.match(debug.text, /\n\s+at /, "the stack with MAGNET_DEBUG=1");
  }
});
