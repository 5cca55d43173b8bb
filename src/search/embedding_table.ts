/**
 * A LanceDB table of one model's embeddings: each row's embedding, its id (a file path, an id
 * column's value) or row number, its label when known and the data it came from. The table carries
 * the model's identity; a table of another model or width is refused. Rows are added in batches,
 * each one LanceDB commit, so a table is never left with half a batch. Searches are exact (every
 * row compared) or go through an approximate index (IVF-PQ or HNSW), and always return squared
 * Euclidean distances.
 */
import { MagnetInputError } from "../errors.ts";
import {
  type ArrowModule,
  type ArrowSchema,
  type ArrowTable,
  type LanceConnection,
  type LanceDbModule,
  lanceFailure as fail,
  type LanceTable,
  lanceUnreadable as unreadable,
  type LanceVectorQuery,
  loadLanceDb,
} from "./lancedb.ts";

/** The table name unless told otherwise. */
export const DEFAULT_TABLE = "embeddings";

/**
 * Candidates an approximate search re-ranks by their exact distance, as a multiple of k, unless told
 * otherwise: with the default IVF-HNSW-SQ index on the Fashion-MNIST CNN's embeddings, 1 finds 94 %
 * of the exact 10 nearest, 2 finds 99.6 %, at a small cost.
 */
export const DEFAULT_REFINE_FACTOR = 2;

/** What the table's schema metadata says it is. */
const FORMAT = "magnet-embeddings";
const VERSION = "1";

/** The model whose embeddings a table holds. */
export interface TableModel {
  /** The model's identity (see `modelIdentity`). */
  identity: string;
  /** The embedding width. */
  dim: number;
  /** The architecture in words, for messages about a table of another model. */
  description: string;
}

/** A batch of rows to add. */
export interface TableRows {
  /** `n x dim` embeddings, row-major. */
  embeddings: Float32Array;
  /**
   * Each row's number in its source as messages name it (a CSV file's line, an image's position,
   * 1-based): with `source`, what tells a row already in the table.
   */
  rows: Int32Array;
  /** Each row's id (an image's path, an id column's value), when the source has them. */
  ids?: readonly string[] | null;
  /** Each row's class name, when known ("" or null: unknown). */
  labels?: readonly (string | null)[] | null;
  /** The data the rows come from (a file's absolute path, say). */
  source: string;
}

/** One search result. */
export interface Hit {
  /** The row's id, or its row number when its source has no ids. */
  id: string | number;
  /** The row's class name, or null when its data had none. */
  label: string | null;
  /** Squared Euclidean distance to the query. */
  distance: number;
  /** The data the row came from. */
  source: string;
  /** The row's number in its source. */
  row: number;
}

/** How to search. */
export interface TableSearchOptions {
  /** Hits per query (default 10). */
  k?: number;
  /** Compare with every row, skipping the approximate index (default false). */
  exact?: boolean;
  /** IVF partitions searched per query (LanceDB's default: 20). */
  nprobes?: number;
  /**
   * Candidates re-ranked by their exact distance, as a multiple of k (default
   * {@link DEFAULT_REFINE_FACTOR}); the distances returned are exact whatever it is.
   */
  refineFactor?: number;
  /** HNSW: candidates kept while searching the graph (LanceDB's default: 1.5 k). */
  ef?: number;
  /**
   * Queries per LanceDB request (default 1): one request answers them all, which is not faster
   * than one request each with LanceDB 0.31 (it is slower for exact search).
   */
  batch?: number;
}

/** The kinds of approximate index. */
export const VECTOR_INDEX_KINDS = ["ivf-pq", "ivf-hnsw-sq", "ivf-hnsw-pq", "ivf-flat"] as const;

/** An approximate index kind. */
export type VectorIndexKind = typeof VECTOR_INDEX_KINDS[number];

/** An approximate index to build. */
export interface VectorIndexSettings {
  /** Which kind. */
  kind: VectorIndexKind;
  /** IVF partitions (LanceDB's default: the square root of the rows for IVF-PQ, 1 for HNSW). */
  partitions?: number;
  /** PQ sub-vectors (LanceDB's default: the width / 16, or / 8). */
  subVectors?: number;
  /** HNSW: neighbours per node (LanceDB's default: 20). */
  m?: number;
  /** HNSW: candidates while building (LanceDB's default: 300). */
  efConstruction?: number;
}

/** The approximate index a table has. */
export interface VectorIndexInfo {
  /** LanceDB's name of its type (IVF_PQ, IVF_HNSW_SQ, ...). */
  type: string;
  /** Rows it covers. */
  indexedRows: number;
  /** Rows added since it was built or updated (searched exactly until it is updated). */
  unindexedRows: number;
}

/** A row's key among those of its source: its id, or its row number when it has none. */
export function rowKey(id: string | null, row: number): string {
  return id === null ? `#${row}` : `id ${id}`;
}

/** A table of one model's embeddings in a LanceDB database. */
export class EmbeddingTable {
  private constructor(
    /** The database: a folder, or an object-store URI LanceDB accepts (s3://, gs://, az://). */
    readonly uri: string,
    /** The table's name. */
    readonly name: string,
    /** The embedding width. */
    readonly dim: number,
    private readonly table: LanceTable,
    private readonly lancedb: LanceDbModule,
    private readonly arrow: ArrowModule,
  ) {}

  /**
   * Opens table `name` of the LanceDB database `uri` for `model`'s embeddings, creating it when
   * `create` is set and it does not exist. A table of another model or width, a table not made
   * here, a damaged one, or (without `create`) a missing one is a {@link MagnetInputError}.
   */
  static async open(
    uri: string,
    name: string,
    model: TableModel,
    options: { create?: boolean } = {},
  ): Promise<EmbeddingTable> {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name)) {
      throw new MagnetInputError(
        `table name "${name}": use letters, digits, "_", "-" and "." (not first)`,
      );
    }
    const { lancedb, arrow } = await loadLanceDb();
    const where = `table "${name}" in ${uri}`;
    let db: LanceConnection;
    let names: string[];
    try {
      db = await lancedb.connect(uri);
      names = await db.tableNames();
    } catch (error) {
      fail(`cannot open the LanceDB database ${uri}`, error);
    }
    let table: LanceTable;
    if (!names.includes(name)) {
      if (!options.create) {
        const others = names.length === 0 ? "it has none" : `it has ${names.join(", ")}`;
        throw new MagnetInputError(
          `no table "${name}" in ${uri} (${others}): make one with \`deno task index\``,
        );
      }
      const metadata = new Map([
        ["magnet.format", FORMAT],
        ["magnet.version", VERSION],
        ["magnet.model", model.identity],
        ["magnet.architecture", model.description],
      ]);
      try {
        table = await db.createEmptyTable(name, tableSchema(arrow, model.dim, metadata));
      } catch (error) {
        fail(`cannot create ${where}`, error);
      }
    } else {
      try {
        table = await db.openTable(name);
        checkTable(where, await table.schema(), model);
      } catch (error) {
        unreadable(where, error);
      }
    }
    return new EmbeddingTable(uri, name, model.dim, table, lancedb, arrow);
  }

  #where(): string {
    return `table "${this.name}" in ${this.uri}`;
  }

  /** The number of rows. */
  async count(): Promise<number> {
    try {
      return await this.table.countRows();
    } catch (error) {
      unreadable(this.#where(), error);
    }
  }

  /** The bytes of the table's rows, as LanceDB counts them (its index files come on top). */
  async sizeBytes(): Promise<number> {
    try {
      return (await this.table.stats()).totalBytes;
    } catch (error) {
      unreadable(this.#where(), error);
    }
  }

  /** The keys ({@link rowKey}) of the rows of `source` already in the table. */
  async keysOf(source: string): Promise<Set<string>> {
    const keys = new Set<string>();
    try {
      const found = await this.table.query()
        .where(`source = '${source.replaceAll("'", "''")}'`)
        .select(["id", "row"])
        .toArrow();
      const ids = found.getChild("id"), rows = found.getChild("row");
      for (let i = 0; i < found.numRows; i++) {
        keys.add(rowKey((ids?.get(i) ?? null) as string | null, rows!.get(i) as number));
      }
    } catch (error) {
      unreadable(this.#where(), error);
    }
    return keys;
  }

  /** Adds `rows` in one commit: after a crash the table has all of them or none. */
  async add(rows: TableRows): Promise<void> {
    const n = rows.rows.length;
    if (rows.embeddings.length !== n * this.dim) {
      throw new MagnetInputError(
        `${this.#where()}: ${rows.embeddings.length} values for ${n} rows of ${this.dim}-d ` +
          "embeddings",
      );
    }
    for (const [what, list] of [["ids", rows.ids], ["labels", rows.labels]] as const) {
      if (list != null && list.length !== n) {
        throw new MagnetInputError(`${this.#where()}: ${list.length} ${what} for ${n} rows`);
      }
    }
    if (n === 0) return;
    const bad = rows.embeddings.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) {
      throw new MagnetInputError(
        `row ${rows.rows[Math.floor(bad / this.dim)]} of ${rows.source}: its embedding holds ` +
          `${rows.embeddings[bad]}; only finite embeddings can be searched`,
      );
    }
    const arrow = this.arrow;
    const schema = tableSchema(arrow, this.dim, new Map());
    const strings = (values: readonly (string | null)[] | null | undefined) =>
      arrow.vectorFromArray(
        values == null ? new Array<null>(n).fill(null) : values.map((v) => (v === "" ? null : v)),
        new arrow.Utf8(),
      ).data[0];
    const children = [
      arrow.makeData({
        type: schema.fields[0].type,
        length: n,
        nullCount: 0,
        child: arrow.makeData({
          type: new arrow.Float32(),
          length: n * this.dim,
          data: rows.embeddings,
        }),
      }),
      strings(rows.ids),
      arrow.makeData({ type: new arrow.Int32(), length: n, data: rows.rows }),
      strings(rows.labels),
      strings(new Array<string>(n).fill(rows.source)),
    ];
    const data = arrow.makeData({
      type: new arrow.Struct(schema.fields),
      length: n,
      nullCount: 0,
      children,
    });
    try {
      await this.table.add(new arrow.Table(schema, [new arrow.RecordBatch(schema, data)]));
    } catch (error) {
      fail(`cannot add rows to ${this.#where()}`, error);
    }
  }

  /**
   * The `k` nearest rows of each query (`queries`: n x dim, row-major), nearest first (equal
   * distances by source and row).
   */
  async search(queries: Float32Array, options: TableSearchOptions = {}): Promise<Hit[][]> {
    const k = options.k ?? 10;
    const batch = options.batch ?? 1;
    if (!Number.isInteger(k) || k < 1) {
      throw new MagnetInputError(`k must be a positive integer, got ${k}`);
    }
    if (queries.length % this.dim !== 0) {
      throw new MagnetInputError(
        `queries hold ${queries.length} values, not a whole number of ${this.dim}-d embeddings ` +
          `(${this.#where()})`,
      );
    }
    const bad = queries.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) {
      throw new MagnetInputError(
        `query ${Math.floor(bad / this.dim) + 1} holds ${queries[bad]}; queries must be finite`,
      );
    }
    const n = queries.length / this.dim;
    const results: Hit[][] = [];
    for (let start = 0; start < n; start += batch) {
      const count = Math.min(batch, n - start);
      const vector = (q: number) =>
        queries.subarray((start + q) * this.dim, (start + q + 1) * this.dim);
      let query: LanceVectorQuery = this.table.query().nearestTo(vector(0));
      for (let q = 1; q < count; q++) query = query.addQueryVector(vector(q));
      query = query.distanceType("l2").limit(k)
        .select(["id", "row", "label", "source", "_distance"]);
      if (options.exact) query = query.bypassVectorIndex();
      else {
        query = query.refineFactor(options.refineFactor ?? DEFAULT_REFINE_FACTOR);
        if (options.nprobes !== undefined) query = query.nprobes(options.nprobes);
        if (options.ef !== undefined) query = query.ef(options.ef);
      }
      let found: ArrowTable;
      try {
        found = await query.toArrow();
      } catch (error) {
        fail(`cannot search ${this.#where()}`, error);
      }
      const hits: Hit[][] = Array.from({ length: count }, () => []);
      const queryIndex = found.getChild("query_index");
      const ids = found.getChild("id"), rows = found.getChild("row");
      const labels = found.getChild("label"), sources = found.getChild("source");
      const distances = found.getChild("_distance");
      for (let i = 0; i < found.numRows; i++) {
        const id = ids!.get(i) as string | null, row = rows!.get(i) as number;
        hits[queryIndex === null ? 0 : Number(queryIndex.get(i))].push({
          id: id ?? row,
          label: labels!.get(i) as string | null,
          distance: distances!.get(i) as number,
          source: sources!.get(i) as string,
          row,
        });
      }
      for (const list of hits) {
        list.sort((a, b) =>
          a.distance - b.distance ||
          (a.source < b.source ? -1 : a.source > b.source ? 1 : a.row - b.row)
        );
        results.push(list);
      }
    }
    return results;
  }

  /** The table's approximate index, or null. */
  async vectorIndex(): Promise<VectorIndexInfo | null> {
    try {
      const index = (await this.table.listIndices()).find((i) => i.columns.includes("vector"));
      if (index === undefined) return null;
      const stats = await this.table.indexStats(index.name);
      return {
        type: stats?.indexType ?? index.indexType,
        indexedRows: stats?.numIndexedRows ?? 0,
        unindexedRows: stats?.numUnindexedRows ?? 0,
      };
    } catch (error) {
      unreadable(this.#where(), error);
    }
  }

  /** Builds (or rebuilds) the approximate index over every row. */
  async buildVectorIndex(settings: VectorIndexSettings): Promise<void> {
    const { Index } = this.lancedb;
    const common = {
      distanceType: "l2" as const,
      ...(settings.partitions !== undefined ? { numPartitions: settings.partitions } : {}),
    };
    const subVectors = settings.subVectors !== undefined
      ? { numSubVectors: settings.subVectors }
      : {};
    const hnsw = {
      ...(settings.m !== undefined ? { m: settings.m } : {}),
      ...(settings.efConstruction !== undefined ? { efConstruction: settings.efConstruction } : {}),
    };
    const config = settings.kind === "ivf-pq"
      ? Index.ivfPq({ ...common, ...subVectors })
      : settings.kind === "ivf-hnsw-sq"
      ? Index.hnswSq({ ...common, ...hnsw })
      : settings.kind === "ivf-hnsw-pq"
      ? Index.hnswPq({ ...common, ...subVectors, ...hnsw })
      : Index.ivfFlat(common);
    try {
      await this.table.createIndex("vector", { config, replace: true });
    } catch (error) {
      fail(`cannot build the ${settings.kind} index of ${this.#where()}`, error);
    }
  }

  /**
   * Merges the small files of many batches into fewer and adds rows added since the approximate
   * index was built to it (LanceDB's optimize).
   */
  async optimize(): Promise<void> {
    try {
      await this.table.optimize();
    } catch (error) {
      fail(`cannot optimize ${this.#where()}`, error);
    }
  }

  /** Releases the table. */
  close(): void {
    this.table.close();
  }
}

/** The table's columns (`metadata`: the schema's, which LanceDB keeps with the table). */
function tableSchema(arrow: ArrowModule, dim: number, metadata: Map<string, string>): ArrowSchema {
  const field = (name: string, type: unknown, nullable: boolean) =>
    new arrow.Field(name, type, nullable);
  return new arrow.Schema([
    field("vector", new arrow.FixedSizeList(dim, field("item", new arrow.Float32(), true)), false),
    field("id", new arrow.Utf8(), true),
    field("row", new arrow.Int32(), false),
    field("label", new arrow.Utf8(), true),
    field("source", new arrow.Utf8(), false),
  ], metadata);
}

/** Refuses a table that is not ours, or of another model or width. */
function checkTable(where: string, schema: ArrowSchema, model: TableModel): void {
  const meta = schema.metadata;
  if (meta.get("magnet.format") !== FORMAT) {
    throw new MagnetInputError(
      `${where} was not made by \`deno task index\` (it has no magnet metadata): choose ` +
        "another --table or --db",
    );
  }
  if (meta.get("magnet.version") !== VERSION) {
    throw new MagnetInputError(
      `${where} is of format version ${meta.get("magnet.version")}, this magnet reads ` +
        `version ${VERSION}`,
    );
  }
  const vector = schema.fields.find((f) => f.name === "vector");
  const dim = (vector?.type as { listSize?: number } | undefined)?.listSize;
  const identity = meta.get("magnet.model") ?? "";
  if (dim !== model.dim || identity !== model.identity) {
    const width = dim !== model.dim ? `${dim}-d embeddings, this model makes ${model.dim}-d` : "";
    throw new MagnetInputError(
      `${where} holds the embeddings of another model (${meta.get("magnet.architecture") ?? "?"}, ${
        identity.slice(0, 12)
      }; this one is ${model.description}, ${model.identity.slice(0, 12)}${
        width ? `; ${width}` : ""
      }): use another --table or --db for this model`,
    );
  }
}
