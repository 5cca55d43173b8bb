import assert from "node:assert/strict";
import { MagnetInputError } from "../../src/errors.ts";
import { nearestNeighbours, type Neighbours } from "../../src/eval/neighbours.ts";
import { Random } from "../../src/util/random.ts";
import { assertClose, gpuTestOptions, openBackends } from "../helpers/backends.ts";

/** Rows of small integers: every product and sum is exact in float32, so distances tie exactly. */
function integerRows(random: Random, n: number, dim: number, range: number): Float32Array {
  const out = new Float32Array(n * dim);
  for (let i = 0; i < out.length; i++) out[i] = random.int(2 * range + 1) - range;
  return out;
}

function gaussianRows(random: Random, n: number, dim: number): Float32Array {
  const out = new Float32Array(n * dim);
  for (let i = 0; i < out.length; i++) out[i] = random.normal();
  return out;
}

/** Float64 distances from explicit differences. */
function exactDistance(
  a: Float32Array,
  i: number,
  b: Float32Array,
  j: number,
  dim: number,
): number {
  let s = 0;
  for (let d = 0; d < dim; d++) {
    const diff = a[i * dim + d] - b[j * dim + d];
    s += diff * diff;
  }
  return s;
}

/** The reference answer: sort every row fully by (distance, index) in float64. */
function bruteForce(
  queries: Float32Array,
  references: Float32Array,
  dim: number,
  k: number,
  excludeSelf = false,
): { indices: number[][]; distances: number[][] } {
  const nQuery = queries.length / dim, nRef = references.length / dim;
  const indices: number[][] = [], distances: number[][] = [];
  for (let q = 0; q < nQuery; q++) {
    const order = [...Array(nRef).keys()]
      .filter((j) => !excludeSelf || j !== q)
      .map((j) => ({ j, d: exactDistance(queries, q, references, j, dim) }))
      .sort((x, y) => x.d - y.d || x.j - y.j)
      .slice(0, k);
    indices.push(order.map((o) => o.j));
    distances.push(order.map((o) => o.d));
  }
  return { indices, distances };
}

function rowsOf(nn: Neighbours): { indices: number[][]; distances: number[][] } {
  const nQuery = nn.indices.length / nn.k;
  const indices: number[][] = [], distances: number[][] = [];
  for (let q = 0; q < nQuery; q++) {
    indices.push(Array.from(nn.indices.subarray(q * nn.k, (q + 1) * nn.k)));
    distances.push(Array.from(nn.distances.subarray(q * nn.k, (q + 1) * nn.k)));
  }
  return { indices, distances };
}

Deno.test("nearestNeighbours matches float64 brute force", gpuTestOptions, async (t) => {
  const backends = await openBackends();
  try {
    for (const backend of backends) {
      await t.step(`${backend.kind}: integer data with ties, exact order`, async () => {
        const random = new Random(1);
        const dim = 5;
        const refs = integerRows(random, 50, dim, 2);
        const queries = integerRows(random, 20, dim, 2);
        for (const k of [1, 7, 50]) {
          const nn = await nearestNeighbours(backend, queries, refs, dim, k);
          assert.equal(nn.k, k);
          assert.deepEqual(rowsOf(nn), bruteForce(queries, refs, dim, k));
        }
      });

      await t.step(`${backend.kind}: several chunks, the last one padded`, async () => {
        const random = new Random(2);
        const dim = 3;
        const refs = integerRows(random, 50, dim, 3);
        const queries = integerRows(random, 20, dim, 3);
        // 7 rows of 50 float32 fit: 3 chunks of 7 queries, the last holding 6 real rows.
        const maxBlockBytes = 7 * 50 * 4;
        const nn = await nearestNeighbours(backend, queries, refs, dim, 9, { maxBlockBytes });
        assert.deepEqual(rowsOf(nn), bruteForce(queries, refs, dim, 9));
        // One row per chunk is the smallest split.
        const single = await nearestNeighbours(backend, queries, refs, dim, 4, {
          maxBlockBytes: 1,
        });
        assert.deepEqual(rowsOf(single), bruteForce(queries, refs, dim, 4));
      });

      await t.step(`${backend.kind}: excludeSelf skips each query's own row`, async () => {
        const random = new Random(3);
        const dim = 4;
        const rows = integerRows(random, 40, dim, 2);
        for (const k of [1, 5, 39]) {
          const nn = await nearestNeighbours(backend, rows, rows, dim, k, { excludeSelf: true });
          assert.deepEqual(rowsOf(nn), bruteForce(rows, rows, dim, k, true));
        }
      });

      await t.step(`${backend.kind}: data far from the origin keeps its distances`, async () => {
        // Shifted by 1e4 (rows rounded to float32 first, so both sides see the same rows), the
        // |q|^2 + |r|^2 - 2 q.r form would lose every distance to cancellation.
        const random = new Random(5);
        const dim = 8, k = 5;
        const shift = (rows: Float32Array) => rows.map((v, i) => v + 1e4 * (1 + (i % dim)));
        const refs = shift(gaussianRows(random, 200, dim));
        const queries = shift(gaussianRows(random, 30, dim));
        const nn = await nearestNeighbours(backend, queries, refs, dim, k);
        const expected = bruteForce(queries, refs, dim, k);
        const row = rowsOf(nn);
        for (let q = 0; q < 30; q++) {
          assertClose(row.distances[q], expected.distances[q], 1e-4, `distances of query ${q}`);
        }
      });

      await t.step(`${backend.kind}: gaussian data, within float32 rounding`, async () => {
        const random = new Random(4);
        const dim = 16, k = 10;
        const refs = gaussianRows(random, 300, dim);
        const queries = gaussianRows(random, 40, dim);
        const nn = await nearestNeighbours(backend, queries, refs, dim, k);
        const expected = bruteForce(queries, refs, dim, k);
        // |q|^2 + |r|^2 - 2 q.r rounds at the scale of |q|^2 + |r|^2 (about 32 here), not at the
        // scale of the distance itself; near-ties may swap, but the k distances must agree.
        const tol = 1e-5;
        const row = rowsOf(nn);
        for (let q = 0; q < 40; q++) {
          const exact = row.indices[q].map((j) => exactDistance(queries, q, refs, j, dim));
          assertClose(row.distances[q], exact, tol, `distances of query ${q}`);
          assertClose(row.distances[q], expected.distances[q], tol, `k smallest of query ${q}`);
          for (let i = 1; i < k; i++) assert.ok(row.distances[q][i - 1] <= row.distances[q][i]);
          assert.equal(new Set(row.indices[q]).size, k);
        }
      });

      await t.step(
        `${backend.kind}: repeated and concurrent calls keep their references`,
        async () => {
          const random = new Random(5);
          const dim = 3;
          const sets = [0, 1, 2].map(() => integerRows(random, 30, dim, 3));
          const queries = integerRows(random, 11, dim, 3);
          // Same shapes share one compiled search: each call must still see its own references, also
          // when its chunks interleave with another call's (4 chunks of 3 queries here).
          const maxBlockBytes = 3 * 30 * 4;
          const results = await Promise.all(
            sets.map((refs) =>
              nearestNeighbours(backend, queries, refs, dim, 6, { maxBlockBytes })
            ),
          );
          results.forEach((nn, i) => {
            assert.deepEqual(rowsOf(nn), bruteForce(queries, sets[i], dim, 6), `set ${i}`);
          });
          const again = await nearestNeighbours(backend, queries, sets[0], dim, 6, {
            maxBlockBytes,
          });
          assert.deepEqual(rowsOf(again), rowsOf(results[0]));
        },
      );

      await t.step(`${backend.kind}: overflowed distances read as +Infinity`, async () => {
        // Finite rows whose squares overflow float32: the distances to the far row come out
        // infinite or NaN (-Inf + Inf for the far row against itself); both rank and read as
        // +Infinity, ties lowest column first, with and without excludeSelf.
        const refs = Float32Array.of(0, 0, 1, 0, 3e19, 0);
        const queries = Float32Array.of(0.5, 0, 3e19, 0);
        const nn = await nearestNeighbours(backend, queries, refs, 2, 3);
        assert.deepEqual(rowsOf(nn), {
          indices: [[0, 1, 2], [0, 1, 2]],
          distances: [[0.25, 0.25, Infinity], [Infinity, Infinity, Infinity]],
        });
        const self = await nearestNeighbours(backend, refs, refs, 2, 2, { excludeSelf: true });
        assert.deepEqual(rowsOf(self), {
          indices: [[1, 2], [0, 2], [0, 1]],
          distances: [[1, Infinity], [1, Infinity], [Infinity, Infinity]],
        });
      });

      await t.step(`${backend.kind}: no queries gives an empty result`, async () => {
        const nn = await nearestNeighbours(backend, new Float32Array(0), new Float32Array(6), 2, 2);
        assert.equal(nn.indices.length, 0);
        assert.equal(nn.distances.length, 0);
      });

      await t.step(`${backend.kind}: bad input is a MagnetInputError`, async () => {
        const refs = new Float32Array(12); // 4 rows of 3
        const q = new Float32Array(6);
        const bad: [string, () => Promise<unknown>][] = [
          ["k too large", () => nearestNeighbours(backend, q, refs, 3, 5)],
          ["k zero", () => nearestNeighbours(backend, q, refs, 3, 0)],
          ["k fractional", () => nearestNeighbours(backend, q, refs, 3, 1.5)],
          [
            "k = nRef with excludeSelf",
            () => nearestNeighbours(backend, refs, refs, 3, 4, { excludeSelf: true }),
          ],
          [
            "excludeSelf with different sets",
            () => nearestNeighbours(backend, q, refs, 3, 1, { excludeSelf: true }),
          ],
          ["ragged rows", () => nearestNeighbours(backend, new Float32Array(5), refs, 3, 1)],
          ["dim zero", () => nearestNeighbours(backend, q, refs, 0, 1)],
          ["no references", () => nearestNeighbours(backend, q, new Float32Array(0), 3, 1)],
          ["NaN", () => nearestNeighbours(backend, Float32Array.of(0, NaN, 0), refs, 3, 1)],
          [
            "infinity",
            () => nearestNeighbours(backend, q, Float32Array.of(...refs.slice(1), Infinity), 3, 1),
          ],
        ];
        for (const [what, call] of bad) {
          await assert.rejects(call, MagnetInputError, what);
        }
      });
    }
  } finally {
    for (const backend of backends) backend.dispose();
  }
});
