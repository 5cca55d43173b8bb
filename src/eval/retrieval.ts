/**
 * Retrieval metrics with the definitions of pytorch-metric-learning's `AccuracyCalculator`
 * (precision_at_1, r_precision, mean_average_precision_at_r), so numbers can be compared with papers
 * and code that report them.
 *
 * For a query with label y, R is the number of references labelled y (not counting the query itself
 * when the queries are the references). A query whose R is 0 cannot be scored: like PML, every metric
 * skips it, and when every query is skipped every metric is 0.
 */
import { MagnetInputError } from "../errors.ts";
import type { Backend } from "../backend/backend.ts";
import { forEachNeighbours, type Neighbours } from "./neighbours.ts";

/** The three retrieval metrics, each a mean over the queries that have at least one relevant reference. */
export interface RetrievalMetrics {
  /** Fraction of queries whose nearest reference has the query's label. */
  precisionAt1: number;
  /** Mean over queries of (references labelled y among the R nearest) / R. */
  rPrecision: number;
  /** Mean over queries of (1/R) * sum_{i<=R} rel(i) * (relevant among the first i) / i. */
  mapAtR: number;
}

/** Options of {@link retrievalMetrics}. */
export interface RetrievalOptions {
  /**
   * The queries are the references (same rows, same order): a query is not its own neighbour and does
   * not count towards its R. PML's `embeddings_come_from_same_source`. Default false.
   */
  excludeSelf?: boolean;
  /** Passed to {@link nearestNeighbours}: bound on one chunk's distance block, in bytes. */
  maxBlockBytes?: number;
}

/**
 * Scores `queries` against a separate set of `references` (both row-major with `dim` columns):
 * precision@1, R-precision and MAP@R as pytorch-metric-learning defines them.
 *
 * The search keeps k = the largest R over the query labels present (at most the number of
 * references), which every metric needs and no metric needs more than. Unlike PML (whose faiss search
 * caps k at 1023), R is never truncated.
 *
 * @throws {MagnetInputError} when shapes or label counts disagree, or an embedding is not finite.
 *
 * @example
 * ```ts
 * import { createBackend } from "../backend/create.ts";
 *
 * const backend = await createBackend({ kind: "cpu" });
 * // 1-d embeddings: two classes, the query near the class-0 references.
 * const references = new Float32Array([0, 1, 5, 6]);
 * const referenceLabels = new Int32Array([0, 0, 1, 1]);
 * const m = await retrievalMetrics(
 *   backend,
 *   new Float32Array([0.5]),
 *   new Int32Array([0]),
 *   references,
 *   referenceLabels,
 *   1,
 * );
 * // m = { precisionAt1: 1, rPrecision: 1, mapAtR: 1 }
 * backend.dispose();
 * ```
 */
export async function retrievalMetrics(
  backend: Backend,
  queries: Float32Array,
  queryLabels: Int32Array,
  references: Float32Array,
  referenceLabels: Int32Array,
  dim: number,
  options: RetrievalOptions = {},
): Promise<RetrievalMetrics> {
  if (!Number.isInteger(dim) || dim < 1) {
    throw new MagnetInputError(`retrievalMetrics: dim must be a positive integer, got ${dim}`);
  }
  const excludeSelf = options.excludeSelf ?? false;
  checkLabels("queries", queries.length, queryLabels.length, dim);
  checkLabels("references", references.length, referenceLabels.length, dim);
  const scorer = new RetrievalScorer(queryLabels, referenceLabels, { excludeSelf });
  const k = scorer.neighboursNeeded;
  // No query has a relevant reference: every metric is 0 and there is nothing to search for.
  if (k === 0) return { precisionAt1: 0, rPrecision: 0, mapAtR: 0 };
  await forEachNeighbours(backend, queries, references, dim, k, (q, indices) => {
    scorer.add(q, indices);
  }, { excludeSelf, maxBlockBytes: options.maxBlockBytes });
  return scorer.result();
}

/**
 * The same metrics from a neighbour ranking computed elsewhere (or written by hand in a test).
 * `neighbours.k` must be at least R for every query that has relevant references.
 *
 * @throws {MagnetInputError} when the ranking is too short or labels are missing.
 */
export function retrievalMetricsFromNeighbours(
  neighbours: Neighbours,
  queryLabels: Int32Array,
  referenceLabels: Int32Array,
  options: { excludeSelf?: boolean } = {},
): RetrievalMetrics {
  if (neighbours.indices.length !== queryLabels.length * neighbours.k) {
    throw new MagnetInputError(
      `retrievalMetrics: ${neighbours.indices.length} neighbour indices for ` +
        `${queryLabels.length} queries with k = ${neighbours.k}`,
    );
  }
  const relevant = relevantCounts(queryLabels, referenceLabels, options.excludeSelf ?? false);
  return scoreNeighbours(neighbours, queryLabels, referenceLabels, relevant);
}

function checkLabels(what: string, values: number, labels: number, dim: number): void {
  if (values % dim !== 0 || values / dim !== labels) {
    throw new MagnetInputError(
      `retrievalMetrics: ${what} hold ${values} values (${values / dim} rows of ${dim}) but ` +
        `${labels} labels`,
    );
  }
}

/** R for every query: references sharing its label, less itself when the sets are the same. */
function relevantCounts(
  queryLabels: Int32Array,
  referenceLabels: Int32Array,
  excludeSelf: boolean,
): Int32Array {
  if (excludeSelf && queryLabels.length !== referenceLabels.length) {
    throw new MagnetInputError(
      `retrievalMetrics: excludeSelf needs the queries to be the references, got ` +
        `${queryLabels.length} queries and ${referenceLabels.length} references`,
    );
  }
  const perLabel = new Map<number, number>();
  for (const y of referenceLabels) perLabel.set(y, (perLabel.get(y) ?? 0) + 1);
  const relevant = new Int32Array(queryLabels.length);
  for (let q = 0; q < queryLabels.length; q++) {
    const y = queryLabels[q];
    relevant[q] = (perLabel.get(y) ?? 0) - (excludeSelf && referenceLabels[q] === y ? 1 : 0);
  }
  return relevant;
}

function scoreNeighbours(
  neighbours: Neighbours,
  queryLabels: Int32Array,
  referenceLabels: Int32Array,
  relevant: Int32Array,
): RetrievalMetrics {
  const scorer = new RetrievalScorer(queryLabels, referenceLabels, { relevant });
  const k = neighbours.k;
  for (let q = 0; q < queryLabels.length; q++) {
    scorer.add(q, neighbours.indices.subarray(q * k, (q + 1) * k));
  }
  return scorer.result();
}

/**
 * The retrieval metrics accumulated one query at a time, as a streamed search
 * ({@link forEachNeighbours}) hands the queries over: no ranking of every query is ever held.
 */
export class RetrievalScorer {
  readonly #queryLabels: Int32Array;
  readonly #referenceLabels: Int32Array;
  /** R of every query. */
  readonly relevant: Int32Array;
  #scored = 0;
  #p1 = 0;
  #rp = 0;
  #map = 0;

  /** Scores queries labelled `queryLabels` against references labelled `referenceLabels`. */
  constructor(
    queryLabels: Int32Array,
    referenceLabels: Int32Array,
    options: { excludeSelf?: boolean; relevant?: Int32Array } = {},
  ) {
    this.#queryLabels = queryLabels;
    this.#referenceLabels = referenceLabels;
    this.relevant = options.relevant ??
      relevantCounts(queryLabels, referenceLabels, options.excludeSelf ?? false);
  }

  /** The neighbours every query needs: the largest R (0 when no query has a relevant reference). */
  get neighboursNeeded(): number {
    let k = 0;
    for (const r of this.relevant) k = Math.max(k, r);
    return k;
  }

  /** Adds query `q` with its ranking `indices` (nearest first, at least R long). */
  add(q: number, indices: Int32Array): void {
    const r = this.relevant[q];
    if (r === 0) return;
    if (r > indices.length) {
      throw new MagnetInputError(
        `retrievalMetrics: query ${q} has R = ${r} relevant references but only ` +
          `${indices.length} neighbours`,
      );
    }
    const y = this.#queryLabels[q], labels = this.#referenceLabels;
    let hits = 0, precisionSum = 0;
    for (let i = 0; i < r; i++) {
      const ref = indices[i];
      if (ref < 0 || ref >= labels.length) {
        throw new MagnetInputError(
          `retrievalMetrics: query ${q} has neighbour ${ref}, but there are ${labels.length} ` +
            "reference labels",
        );
      }
      if (labels[ref] === y) {
        hits++;
        precisionSum += hits / (i + 1);
      }
    }
    this.#scored++;
    if (labels[indices[0]] === y) this.#p1++;
    this.#rp += hits / r;
    this.#map += precisionSum / r;
  }

  /** The means over the queries scored (all 0 when none was). */
  result(): RetrievalMetrics {
    const n = this.#scored;
    if (n === 0) return { precisionAt1: 0, rPrecision: 0, mapAtR: 0 };
    return { precisionAt1: this.#p1 / n, rPrecision: this.#rp / n, mapAtR: this.#map / n };
  }
}
