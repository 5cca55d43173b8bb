import assert from "node:assert/strict";
import { MagnetInputError } from "../../src/errors.ts";
import type { Neighbours } from "../../src/eval/neighbours.ts";
import {
  type RetrievalMetrics,
  retrievalMetrics,
  retrievalMetricsFromNeighbours,
} from "../../src/eval/retrieval.ts";
import { Random } from "../../src/util/random.ts";
import { gpuTestOptions, openBackends } from "../helpers/backends.ts";

const A = 0, B = 1, C = 2, D = 3;

function assertMetrics(actual: RetrievalMetrics, expected: RetrievalMetrics, what: string): void {
  for (const key of ["precisionAt1", "rPrecision", "mapAtR"] as const) {
    assert.ok(
      Math.abs(actual[key] - expected[key]) < 1e-12,
      `${what}: ${key} = ${actual[key]}, expected ${expected[key]}`,
    );
  }
}

/**
 * The PML definitions written out plainly, on a full float64 ranking (ties by lower index), as a
 * second opinion on bigger random cases.
 */
function bruteForceMetrics(
  queries: Float32Array,
  queryLabels: Int32Array,
  refs: Float32Array,
  refLabels: Int32Array,
  dim: number,
  excludeSelf: boolean,
): RetrievalMetrics {
  let scored = 0, p1 = 0, rp = 0, map = 0;
  for (let q = 0; q < queryLabels.length; q++) {
    const y = queryLabels[q];
    const others = [...refLabels.keys()].filter((j) => !excludeSelf || j !== q);
    const r = others.filter((j) => refLabels[j] === y).length;
    if (r === 0) continue;
    const dist = (j: number) => {
      let s = 0;
      for (let d = 0; d < dim; d++) s += (queries[q * dim + d] - refs[j * dim + d]) ** 2;
      return s;
    };
    const order = others.sort((i, j) => dist(i) - dist(j) || i - j);
    const rel = order.map((j) => (refLabels[j] === y ? 1 : 0));
    scored++;
    p1 += rel[0];
    let hits = 0, sum = 0;
    for (let i = 0; i < r; i++) {
      hits += rel[i];
      sum += rel[i] * hits / (i + 1);
    }
    rp += hits / r;
    map += sum / r;
  }
  return scored === 0
    ? { precisionAt1: 0, rPrecision: 0, mapAtR: 0 }
    : { precisionAt1: p1 / scored, rPrecision: rp / scored, mapAtR: map / scored };
}

Deno.test("retrieval metrics from hand-written rankings", async (t) => {
  await t.step("one query, relevant items at ranks 1, 3 and 5", () => {
    // References 0..4 labelled A B A B A: R = 3 for a query labelled A. The ranking 0 1 2 3 4 has
    // relevant items at ranks 1 and 3 among the first R = 3.
    //   precision@1 = 1, R-precision = 2/3, MAP@R = (1/3) (1/1 + 2/3) = 5/9.
    const nn: Neighbours = {
      k: 5,
      indices: Int32Array.of(0, 1, 2, 3, 4),
      distances: Float32Array.of(0, 1, 2, 3, 4),
    };
    const m = retrievalMetricsFromNeighbours(nn, Int32Array.of(A), Int32Array.of(A, B, A, B, A));
    assertMetrics(m, { precisionAt1: 1, rPrecision: 2 / 3, mapAtR: 5 / 9 }, "ranks 1 3 5");
  });

  await t.step("relevant items after rank R do not count", () => {
    // Ranking B B A A A for a query labelled A: R = 3, the first 3 hold one A at rank 3.
    //   precision@1 = 0, R-precision = 1/3, MAP@R = (1/3) (1/3) = 1/9.
    const nn: Neighbours = {
      k: 5,
      indices: Int32Array.of(1, 3, 0, 2, 4),
      distances: Float32Array.of(0, 1, 2, 3, 4),
    };
    const m = retrievalMetricsFromNeighbours(nn, Int32Array.of(A), Int32Array.of(A, B, A, B, A));
    assertMetrics(m, { precisionAt1: 0, rPrecision: 1 / 3, mapAtR: 1 / 9 }, "late hits");
  });

  await t.step("a ranking shorter than R is an error", () => {
    const nn: Neighbours = { k: 2, indices: Int32Array.of(0, 1), distances: Float32Array.of(0, 1) };
    assert.throws(
      () => retrievalMetricsFromNeighbours(nn, Int32Array.of(A), Int32Array.of(A, A, A)),
      MagnetInputError,
    );
  });
});

Deno.test("retrieval metrics on every backend", gpuTestOptions, async (t) => {
  const backends = await openBackends();
  try {
    for (const backend of backends) {
      await t.step(`${backend.kind}: 3 queries against 6 references, by hand`, async () => {
        // 1-d embeddings; every value and squared distance is exact in float32.
        //   references: r0 = 0 (A), r1 = 1 (A), r2 = 2 (B), r3 = 3 (A), r4 = 10 (B), r5 = 11 (C)
        //   R: A -> 3, B -> 2, C -> 1, so the search keeps k = 3.
        // q0 = 0.25 (A): r0 .0625, r1 .5625, r2 3.0625, ... -> A A B
        //   p@1 = 1, R-precision = 2/3, MAP@R = (1/3) (1/1 + 2/2) = 2/3
        // q1 = 2.25 (A): r2 .0625, r3 .5625, r1 1.5625, r0 5.0625 -> B A A
        //   p@1 = 0, R-precision = 2/3, MAP@R = (1/3) (1/2 + 2/3) = 7/18
        // q2 = 10.25 (B): r4 .0625, r5 .5625, r3 52.5625 -> B C, R = 2
        //   p@1 = 1, R-precision = 1/2, MAP@R = (1/2) (1/1) = 1/2
        // q3 = 5 (D): no reference is labelled D (R = 0), so it is skipped by every metric.
        // Means over q0..q2: p@1 = 2/3, R-precision = (2/3 + 2/3 + 1/2) / 3 = 11/18,
        //   MAP@R = (2/3 + 7/18 + 1/2) / 3 = 14/27.
        const refs = Float32Array.of(0, 1, 2, 3, 10, 11);
        const refLabels = Int32Array.of(A, A, B, A, B, C);
        const queries = Float32Array.of(0.25, 2.25, 10.25, 5);
        const queryLabels = Int32Array.of(A, A, B, D);
        const expected = { precisionAt1: 2 / 3, rPrecision: 11 / 18, mapAtR: 14 / 27 };
        const m = await retrievalMetrics(backend, queries, queryLabels, refs, refLabels, 1);
        assertMetrics(m, expected, "by hand");
        assertMetrics(
          bruteForceMetrics(queries, queryLabels, refs, refLabels, 1, false),
          expected,
          "brute force agrees with the hand count",
        );
      });

      await t.step(
        `${backend.kind}: queries are the references (excludeSelf), by hand`,
        async () => {
          // p0 = 0 (A), p1 = 1 (A), p2 = 2 (B), p3 = 4 (A), p4 = 5 (B), p5 = 9 (B), p6 = 30 (C).
          // Not counting itself, every A and B point has R = 2; p6 has R = 0 and is skipped. k = 2.
          // p0: p1 (1, A), p2 (4, B)          -> A B: p@1 1, RP 1/2, MAP (1/2)(1)       = 1/2
          // p1: p0 (1, A), p2 (1, B) tie: p0 is the lower index and comes first
          //                                   -> A B: p@1 1, RP 1/2, MAP               = 1/2
          // p2: p1 (1, A), p0 (4, A), p3 (4)  -> A A: p@1 0, RP 0,   MAP               = 0
          // p3: p4 (1, B), p2 (4, B)          -> B B: p@1 0, RP 0,   MAP               = 0
          // p4: p3 (1, A), p2 (9, B)          -> A B: p@1 0, RP 1/2, MAP (1/2)(1/2)    = 1/4
          // p5: p4 (16, B), p3 (25, A)        -> B A: p@1 1, RP 1/2, MAP (1/2)(1)      = 1/2
          // Means over 6: p@1 = 3/6 = 1/2, RP = 2/6 = 1/3, MAP@R = 1.75/6 = 7/24.
          const rows = Float32Array.of(0, 1, 2, 4, 5, 9, 30);
          const labels = Int32Array.of(A, A, B, A, B, B, C);
          const expected = { precisionAt1: 1 / 2, rPrecision: 1 / 3, mapAtR: 7 / 24 };
          const m = await retrievalMetrics(backend, rows, labels, rows, labels, 1, {
            excludeSelf: true,
          });
          assertMetrics(m, expected, "excludeSelf by hand");
          assertMetrics(
            bruteForceMetrics(rows, labels, rows, labels, 1, true),
            expected,
            "brute force agrees with the hand count",
          );
        },
      );

      await t.step(`${backend.kind}: no query has a relevant reference -> all 0`, async () => {
        const m = await retrievalMetrics(
          backend,
          Float32Array.of(0, 1),
          Int32Array.of(C, D),
          Float32Array.of(0, 1, 2),
          Int32Array.of(A, A, B),
          1,
        );
        assertMetrics(m, { precisionAt1: 0, rPrecision: 0, mapAtR: 0 }, "all skipped");
      });

      await t.step(`${backend.kind}: random integer data matches the brute force`, async () => {
        const random = new Random(11);
        const dim = 4, nRef = 200, nQuery = 60, classes = 5;
        const ints = (n: number) => Float32Array.from({ length: n * dim }, () => random.int(7) - 3);
        const refs = ints(nRef), queries = ints(nQuery);
        const refLabels = Int32Array.from({ length: nRef }, () => random.int(classes));
        // Label 9 appears among the queries only: those queries are skipped.
        const queryLabels = Int32Array.from(
          { length: nQuery },
          (_, i) => i % 10 === 0 ? 9 : random.int(classes),
        );
        const expected = bruteForceMetrics(queries, queryLabels, refs, refLabels, dim, false);
        // Small blocks force several chunks, the last one padded.
        for (const maxBlockBytes of [undefined, 7 * nRef * 4]) {
          const m = await retrievalMetrics(backend, queries, queryLabels, refs, refLabels, dim, {
            maxBlockBytes,
          });
          assertMetrics(m, expected, `separate sets, maxBlockBytes ${maxBlockBytes}`);
        }
        const self = await retrievalMetrics(backend, refs, refLabels, refs, refLabels, dim, {
          excludeSelf: true,
        });
        assertMetrics(
          self,
          bruteForceMetrics(refs, refLabels, refs, refLabels, dim, true),
          "excludeSelf",
        );
      });

      await t.step(`${backend.kind}: mismatched labels are a MagnetInputError`, async () => {
        const rows = Float32Array.of(0, 1, 2, 3);
        await assert.rejects(
          () => retrievalMetrics(backend, rows, Int32Array.of(A), rows, Int32Array.of(A, A), 2),
          MagnetInputError,
        );
        await assert.rejects(
          () => retrievalMetrics(backend, rows, Int32Array.of(A, A), rows, Int32Array.of(A), 2),
          MagnetInputError,
        );
        await assert.rejects(
          () =>
            retrievalMetrics(
              backend,
              rows,
              Int32Array.of(A, A, A, A),
              rows.subarray(0, 2),
              Int32Array.of(A, A),
              1,
              {
                excludeSelf: true,
              },
            ),
          MagnetInputError,
        );
      });
    }
  } finally {
    for (const backend of backends) backend.dispose();
  }
});
