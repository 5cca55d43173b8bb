/**
 * Selection within rows (argSmallestK, takeAlongRows) on every device against a full sort on
 * (value, column), for rows that stress the order: ties, signed zeros, negatives, infinities, NaN;
 * and the same columns on one thread and on every kernel split across two.
 */
import assert from "node:assert/strict";
import { argSmallestK, takeAlongRows } from "../../src/graph/ops.ts";
import { Graph } from "../../src/graph/tensor.ts";
import { createBackend } from "../../src/backend/create.ts";
import { Random } from "../../src/util/random.ts";
import { gpuTestOptions, openAllBackends } from "../helpers/backends.ts";

/** The k smallest columns by a full sort on (value, column), NaN as +Infinity. */
function bySorting(row: Float32Array, k: number): number[] {
  const key = (d: number) => (Number.isNaN(d) ? Infinity : d);
  return Array.from(row.keys())
    .sort((a, b) => {
      const ka = key(row[a]), kb = key(row[b]);
      return ka < kb ? -1 : ka > kb ? 1 : a - b;
    })
    .slice(0, k);
}

/** Values that stress the order: specials, exact ties, and magnitudes from 1e-4 to 1e4. */
function awkwardRows(random: Random, count: number): Float32Array {
  const specials = [0, -0, Infinity, NaN, -NaN, -1.5, 3e38, 1e-45, -Infinity];
  return Float32Array.from({ length: count }, () => {
    const u = random.int(10);
    if (u === 0) return specials[random.int(specials.length)];
    if (u < 5) return random.int(7); // exact ties
    return random.normal() * 10 ** (random.int(9) - 4);
  });
}

/**
 * Rows whose every ninth value is 0 and the rest above 1: a sample of every ninth column (what the
 * WebAssembly device takes from rows this long) sees only zeros, so its threshold keeps too few
 * columns and the kernel must fall back to all of them.
 */
function misleadingRows(random: Random, count: number): Float32Array {
  return Float32Array.from({ length: count }, (_, i) => (i % 9 === 0 ? 0 : 1 + random.next()));
}

/** Distances as a search sees them: positive, clustered in a few binades, some exact ties. */
function distanceRows(random: Random, count: number): Float32Array {
  return Float32Array.from(
    { length: count },
    () => (random.next() < 0.05 ? 100 : 100 + 40 * random.normal() ** 2),
  );
}

Deno.test("argSmallestK and takeAlongRows agree with sorting", gpuTestOptions, async (t) => {
  const backends = [
    ...await openAllBackends(),
    await createBackend({ kind: "cpu", precision: "float64" }),
  ];
  try {
    const random = new Random(3);
    // Rows of 20,000 are long enough for the WebAssembly device to sample a threshold first.
    for (const [rows, n] of [[1, 1], [3, 2], [5, 70], [4, 1000], [3, 5000], [3, 20000]]) {
      const ks = n === 20000 ? [1, 100, 2000, 4000] : [1, 3, 65, Math.floor(n / 2), n - 1, n];
      for (const k of ks) {
        if (k < 1 || k > n) continue;
        const kinds = n === 20000
          ? ["awkward", "distances", "misleading"] as const
          : ["awkward", "distances"] as const;
        for (const kind of kinds) {
          const x = kind === "awkward"
            ? awkwardRows(random, rows * n)
            : kind === "distances"
            ? distanceRows(random, rows * n)
            : misleadingRows(random, rows * n);
          const expected = Array.from(
            { length: rows },
            (_, r) => bySorting(x.subarray(r * n, (r + 1) * n), k),
          ).flat();
          const values = expected.map((j, i) => x[Math.floor(i / k) * n + j]);
          for (const backend of backends) {
            await t.step(`${kind} ${rows}x${n}, k = ${k} on ${backend.description}`, async () => {
              const g = new Graph();
              const input = g.input("x", [rows, n]);
              const columns = argSmallestK(input, k);
              const [got, picked] = await backend.run([columns, takeAlongRows(input, columns)], {
                x,
              });
              assert.ok(got instanceof Int32Array);
              assert.deepEqual([...got], expected);
              // Values as stored: float32 rounding of the float64 device's copies agrees too.
              picked.forEach((v, i) => {
                const want = Math.fround(values[i]);
                assert.ok(
                  Object.is(v, want) || v === want || (Number.isNaN(v) && Number.isNaN(want)),
                  `value ${i}: ${v} for ${want}`,
                );
              });
            });
          }
        }
      }
    }
  } finally {
    for (const backend of backends) backend.dispose();
  }
});

Deno.test("takeAlongRows gives 0 for a column outside the row", async () => {
  const backend = await createBackend({ kind: "cpu" });
  try {
    const g = new Graph();
    const x = g.input("x", [2, 3]);
    const idx = g.input("idx", [2, 2], "int32");
    const [out] = await backend.run([takeAlongRows(x, idx)], {
      x: [1, 2, 3, 4, 5, 6],
      idx: [2, -1, 3, 0],
    });
    assert.deepEqual([...out], [3, 0, 0, 4]);
  } finally {
    backend.dispose();
  }
});
