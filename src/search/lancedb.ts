/**
 * The one module that loads LanceDB (`npm:@lancedb/lancedb`, a native addon with prebuilt platform
 * packages), on first use only: importing the library, training and embedding never fetch or load
 * it, and type-checking code that imports the library never fetches it either, since the part of
 * LanceDB's interface used here is declared below rather than imported. The tests hold these
 * declarations to the real engine. Also: what LanceDB's errors mean, in one line.
 */
import { EnvironmentError, MagnetInputError } from "../errors.ts";
import { systemErrorInMessage } from "../io/os_errors.ts";

/**
 * LanceDB's npm package, pinned. The import is built from this string at run time so that no tool
 * follows it ahead of use (a literal `import("npm:...")` is fetched with the library itself).
 */
export const LANCEDB_PACKAGE = "npm:@lancedb/lancedb@0.31.0";

/** A column of a query's result (an Arrow vector). */
export interface ArrowColumn {
  get(index: number): unknown;
}

/** A query's result (an Arrow table). */
export interface ArrowTable {
  readonly numRows: number;
  getChild(name: string): ArrowColumn | null;
}

/** An Arrow schema. */
export interface ArrowSchema {
  readonly fields: readonly { readonly name: string; readonly type: unknown }[];
  readonly metadata: Map<string, string>;
}

/** The part of Apache Arrow used to hand LanceDB a batch of rows without copying it. */
export interface ArrowModule {
  Schema: new (fields: unknown[], metadata?: Map<string, string>) => ArrowSchema;
  Field: new (name: string, type: unknown, nullable: boolean) => unknown;
  FixedSizeList: new (size: number, child: unknown) => unknown;
  Float32: new () => unknown;
  Int32: new () => unknown;
  Utf8: new () => unknown;
  Struct: new (fields: readonly unknown[]) => unknown;
  RecordBatch: new (schema: ArrowSchema, data: unknown) => unknown;
  Table: new (schema: ArrowSchema, batches: unknown[]) => unknown;
  makeData(props: Record<string, unknown>): unknown;
  vectorFromArray(values: readonly (string | null)[], type: unknown): { data: unknown[] };
}

/** A LanceDB query of rows. */
export interface LanceQuery {
  where(predicate: string): LanceQuery;
  select(columns: string[]): LanceQuery;
  nearestTo(vector: Float32Array): LanceVectorQuery;
  toArrow(): Promise<ArrowTable>;
}

/** A LanceDB nearest-neighbour query (of one or more vectors). */
export interface LanceVectorQuery {
  addQueryVector(vector: Float32Array): LanceVectorQuery;
  distanceType(type: "l2"): LanceVectorQuery;
  limit(k: number): LanceVectorQuery;
  select(columns: string[]): LanceVectorQuery;
  bypassVectorIndex(): LanceVectorQuery;
  refineFactor(factor: number): LanceVectorQuery;
  nprobes(probes: number): LanceVectorQuery;
  ef(ef: number): LanceVectorQuery;
  toArrow(): Promise<ArrowTable>;
}

/** A LanceDB index configuration. */
export type LanceIndex = { readonly __lanceIndex?: never };

/** A LanceDB table. */
export interface LanceTable {
  schema(): Promise<ArrowSchema>;
  countRows(filter?: string): Promise<number>;
  stats(): Promise<{ totalBytes: number }>;
  add(data: unknown): Promise<unknown>;
  query(): LanceQuery;
  listIndices(): Promise<{ name: string; indexType: string; columns: string[] }[]>;
  indexStats(
    name: string,
  ): Promise<{ indexType: string; numIndexedRows: number; numUnindexedRows: number } | undefined>;
  createIndex(column: string, options: { config: LanceIndex; replace: boolean }): Promise<void>;
  optimize(): Promise<unknown>;
  close(): void;
}

/** A LanceDB database. */
export interface LanceConnection {
  tableNames(): Promise<string[]>;
  openTable(name: string): Promise<LanceTable>;
  createEmptyTable(name: string, schema: ArrowSchema): Promise<LanceTable>;
}

/** Settings every approximate index takes. */
interface IndexCommon {
  distanceType?: "l2";
  numPartitions?: number;
}

/** The part of LanceDB used here. */
export interface LanceDbModule {
  connect(uri: string): Promise<LanceConnection>;
  Index: {
    ivfPq(options: IndexCommon & { numSubVectors?: number }): LanceIndex;
    ivfFlat(options: IndexCommon): LanceIndex;
    hnswSq(options: IndexCommon & { m?: number; efConstruction?: number }): LanceIndex;
    hnswPq(
      options: IndexCommon & { numSubVectors?: number; m?: number; efConstruction?: number },
    ): LanceIndex;
  };
}

/** LanceDB and the Apache Arrow it was built against (its own copy: it checks classes). */
export interface LanceDbModules {
  lancedb: LanceDbModule;
  arrow: ArrowModule;
}

let loaded: Promise<LanceDbModules> | null = null;

/** LanceDB, loaded once. */
export function loadLanceDb(): Promise<LanceDbModules> {
  loaded ??= (async () => {
    // Node's modules are imported here, not at the top, so that importing the library never needs
    // them (a web page has none).
    const { createRequire } = await import("node:module");
    const { default: process } = await import("node:process");
    // LanceDB logs warnings (deprecations, notes on its statistics) to stderr: they are kept for
    // whoever asks (LANCEDB_LOG=warn); its statistics take their announced future form now.
    process.env.LANCEDB_LOG ??= "error";
    process.env.LANCE_INCLUDE_VECTOR_CENTROIDS ??= "false";
    const specifier = LANCEDB_PACKAGE;
    const lancedb = await import(specifier) as LanceDbModule;
    // LanceDB is a CommonJS package and checks tables with `instanceof` against the Arrow it
    // requires; an `import` of apache-arrow would load Arrow's ES module build, a second copy whose
    // tables it rejects. Requiring Arrow from LanceDB's own location yields its copy.
    const arrow = createRequire(import.meta.resolve(specifier))("apache-arrow") as ArrowModule;
    return { lancedb, arrow };
  })();
  loaded.catch(() => (loaded = null));
  return loaded;
}

/**
 * The cause of a LanceDB error in one line: the first of its "Caused by" chain, without the Rust
 * source locations it carries.
 */
export function lanceReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split(/\s+Caused by:/)[0]
    .replace(/,\s*\/\S+\.rs:\d+:\d+/g, "")
    .replace(/^lance error:\s*/i, "")
    .replace(/\s+/g, " ")
    .trim();
}

/**
 * Whether a LanceDB error is the environment's rather than the table's: a system error (a full
 * disk, a read-only file system, a permission denied) or an object store that cannot be reached or
 * refuses the credentials. Its code and meaning, or null for anything else (a damaged or foreign
 * table stays the input's).
 */
export function lanceEnvironmentCause(error: unknown): { code: string; words: string } | null {
  const message = error instanceof Error ? error.message : String(error);
  const system = systemErrorInMessage(message);
  if (system !== null) return system;
  if (
    /error sending request|connection refused|dns error|failed to lookup address|tcp connect|operation timed out|status:? 5\d\d|service unavailable/i
      .test(message)
  ) {
    return { code: "UNREACHABLE", words: "the storage cannot be reached" };
  }
  if (
    /\b(403|401)\b|access ?denied|forbidden|invalid ?access ?key|signature ?does ?not ?match/i.test(
      message,
    )
  ) {
    return { code: "EACCES", words: "the storage refused access (check the credentials)" };
  }
  return null;
}

/**
 * Throws LanceDB's `error` as what it is: the environment's refusal (a full disk, a permission, an
 * object store out of reach) as an {@link EnvironmentError}, anything else (a damaged or foreign
 * table) as a {@link MagnetInputError}; `what` says what failed ("cannot create table ...").
 */
export function lanceFailure(what: string, error: unknown): never {
  if (error instanceof MagnetInputError) throw error;
  const environment = lanceEnvironmentCause(error);
  if (environment !== null) {
    throw new EnvironmentError(
      environment.code,
      `${what}: ${environment.words} (${environment.code}): ${lanceReason(error)}`,
    );
  }
  throw new MagnetInputError(`${what}: ${lanceReason(error)}`);
}

/**
 * A table that could not be read: damaged (the input's fault, see {@link lanceFailure}) or refused by the
 * environment, said as such.
 */
export function lanceUnreadable(where: string, error: unknown): never {
  if (lanceEnvironmentCause(error) !== null) lanceFailure(`cannot read ${where}`, error);
  lanceFailure(`${where} is damaged or unreadable`, error);
}
