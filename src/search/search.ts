/**
 * Search with a saved model: its embeddings table opened for it (refused when made by another
 * model), queries embedded as the training rows were, their nearest rows from the table, and the
 * model's own rule on top (the magnet rule's soft vote over the cluster centres; k-NN for models of
 * the baseline losses), with the winner's share of the vote.
 */
import type { Backend } from "../backend/backend.ts";
import { classifyWithVotes } from "../eval/classifier.ts";
import { embedRows, type SavedModel } from "../train/saved_model.ts";
import type { Features } from "../data/row_source.ts";
import {
  DEFAULT_TABLE,
  EmbeddingTable,
  type Hit,
  type TableSearchOptions,
} from "./embedding_table.ts";
import { describeModel, modelIdentity } from "./model_identity.ts";

/** What one query found. */
export interface QueryResult {
  /** The nearest rows of the table, nearest first. */
  hits: Hit[];
  /** The class the model's rule gives the query. */
  predicted: string;
  /** The winning class's share of the vote, in (0, 1]. */
  vote: number;
}

/** Where a table is. */
export interface OpenTableOptions {
  /** The table's name (default "embeddings"). */
  table?: string;
  /** Create the table when it does not exist (default false: a missing table is an error). */
  create?: boolean;
}

/**
 * Opens the table of `saved`'s embeddings in the LanceDB database `db` (a folder, or an
 * object-store URI such as `s3://bucket/path`), with the model's variables as they are on
 * `backend`. A table made by another model is refused.
 */
export async function openEmbeddingTable(
  backend: Backend,
  saved: SavedModel,
  db: string,
  options: OpenTableOptions = {},
): Promise<EmbeddingTable> {
  const identity = await modelIdentity(backend, saved);
  return await EmbeddingTable.open(db, options.table ?? DEFAULT_TABLE, {
    identity,
    dim: saved.model.outputDim,
    description: describeModel(saved.model.spec),
  }, { create: options.create ?? false });
}

/**
 * The nearest rows of `table` to each of the raw `features` rows (n x the model's input width), and
 * the model's class for each.
 */
export async function searchRows(
  backend: Backend,
  saved: SavedModel,
  table: EmbeddingTable,
  features: Features,
  options: TableSearchOptions = {},
): Promise<QueryResult[]> {
  const embeddings = await embedRows(backend, saved, features);
  return await searchEmbeddings(backend, saved, table, embeddings, options);
}

/** {@link searchRows} for queries already embedded by `saved` (n x its embedding width). */
export async function searchEmbeddings(
  backend: Backend,
  saved: SavedModel,
  table: EmbeddingTable,
  embeddings: Float32Array,
  options: TableSearchOptions = {},
): Promise<QueryResult[]> {
  const hits = await table.search(embeddings, options);
  const { predicted, share } = await classifyWithVotes(
    backend,
    saved.classifier,
    embeddings,
    saved.model.outputDim,
  );
  return hits.map((list, q) => ({
    hits: list,
    predicted: saved.classNames[predicted[q]],
    vote: share[q],
  }));
}
