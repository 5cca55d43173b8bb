/**
 * `deno task search`: embeds query rows with a saved model and prints, per query, its nearest rows
 * of the model's LanceDB table (ids, labels, squared Euclidean distances) and the class the model's
 * rule gives it with its share of the vote; with `--json`, one JSON object per query per line.
 */
import { MagnetInputError } from "../errors.ts";
import { openBackend } from "./backend.ts";
import type { Backend } from "../backend/backend.ts";
import {
  DEFAULT_REFINE_FACTOR,
  DEFAULT_TABLE,
  type EmbeddingTable,
} from "../search/embedding_table.ts";
import { openEmbeddingTable, searchRows } from "../search/search.ts";
import {
  backendFlags,
  type FlagSpec,
  helpText,
  intFlag,
  parseFlags,
  reportFailure,
  UsageError,
} from "./args.ts";
import { float32Text } from "./embed.ts";
import { dbLocation, isUri } from "./db_location.ts";
import { IMAGE_INPUT_FLAGS, inputFacts, loadModelFlag, readRowsFor } from "./model_input.ts";
import { absolutePath } from "./run_folder.ts";

/** The flags of `deno task search` (see `FlagSpec`). */
export const SEARCH_FLAGS: Readonly<Record<string, FlagSpec>> = {
  "db": {
    kind: "string",
    help: "LanceDB database made by `deno task index`: a folder or an object-store URI",
  },
  "model": {
    kind: "string",
    help: "run folder holding model.json (or the file): the model that made the table",
  },
  "table": { kind: "string", default: DEFAULT_TABLE, help: "table name" },
  "query": {
    kind: "string",
    help: "query rows: a CSV file with the model's feature columns, an IDX file of images, or " +
      "(for a model trained on image files) a folder of images or an image file",
  },
  "query-csv": {
    kind: "string",
    help: "query rows from a CSV file, whatever its name or content",
    conflicts: ["query"],
    why: "names the queries as a CSV file",
  },
  "label-column": {
    kind: "string",
    default: "the model's training label column, else label",
    help: "CSV: optional label column",
    needs: { input: ["rows"] },
    why: "names a CSV column (image files have none)",
  },
  "k": { kind: "int", default: "10", help: "nearest rows per query" },
  "exact": { kind: "flag", help: "compare with every row instead of using the approximate index" },
  "nprobes": {
    kind: "int",
    default: "20",
    help: "approximate: IVF partitions searched",
    conflicts: ["exact"],
    why: "tunes the approximate search (--exact compares every row)",
  },
  "refine-factor": {
    kind: "int",
    default: String(DEFAULT_REFINE_FACTOR),
    help: "approximate: candidates re-ranked by exact distance, as a multiple of --k",
    conflicts: ["exact"],
    why: "tunes the approximate search (--exact compares every row)",
  },
  "ef": {
    kind: "int",
    default: "1.5 k",
    help: "approximate, HNSW: candidates kept while searching",
    conflicts: ["exact"],
    why: "tunes the approximate search (--exact compares every row)",
  },
  "json": { kind: "flag", help: "one JSON object per query per line" },
  ...backendFlags(),
  ...IMAGE_INPUT_FLAGS,
  "help": { kind: "flag", help: "show this help" },
};

/** A positive integer flag, or undefined. */
function positive(v: Record<string, unknown>, name: string): number | undefined {
  const text = v[name] as string | undefined;
  if (text === undefined) return undefined;
  const value = intFlag(name, text);
  if (value < 1) throw new UsageError(`--${name} must be at least 1, got ${value}`);
  return value;
}

/** Runs the command with `args`; returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  let backend: Backend | null = null;
  let table: EmbeddingTable | null = null;
  try {
    const v = parseFlags(args, SEARCH_FLAGS, inputFacts("query", "query-csv"));
    if (v.help === true) {
      console.log(helpText(
        "search",
        "Finds the nearest rows of a LanceDB table to query rows, with the model's class for each.",
        SEARCH_FLAGS,
      ));
      return 0;
    }
    for (const name of ["db", "model"]) {
      if (v[name] === undefined) throw new UsageError(`--${name} is required (see --help)`);
    }
    // Both at once the flag table refuses.
    if (v.query === undefined && v["query-csv"] === undefined) {
      throw new UsageError("give the queries with one of --query FILE and --query-csv FILE");
    }
    for (const name of ["db", "model", "table", "query", "query-csv", "label-column"]) {
      if ((v[name] as string | undefined)?.trim() === "") {
        throw new UsageError(`--${name} must not be empty`);
      }
    }
    const kind = (v.backend as string | undefined) ?? "auto";
    if (!["auto", "webgpu", "cpu"].includes(kind)) {
      throw new UsageError(`--backend must be one of auto, webgpu, cpu, got "${kind}"`);
    }
    // The flag table refuses --nprobes, --refine-factor and --ef with --exact.
    const exact = v.exact === true;
    const k = positive(v, "k") ?? 10;
    const options = {
      k,
      exact,
      nprobes: positive(v, "nprobes"),
      refineFactor: positive(v, "refine-factor") ?? DEFAULT_REFINE_FACTOR,
      ef: positive(v, "ef"),
    };
    const threads = positive(v, "threads");
    const db = dbLocation(v.db as string);
    if (!isUri(db)) {
      let isFolder = false;
      try {
        isFolder = Deno.statSync(db).isDirectory;
      } catch {
        // reported below
      }
      if (!isFolder) {
        throw new MagnetInputError(
          `no LanceDB database at ${db} (no such folder): make one with \`deno task index\``,
        );
      }
    }
    const csv = v["query-csv"] !== undefined;
    const queryFile = absolutePath((csv ? v["query-csv"] : v.query) as string);
    const saved = await loadModelFlag(v.model as string);
    const queries = await readRowsFor(saved, queryFile, {
      labelColumn: v["label-column"] as string | undefined,
      format: csv ? "csv" : "auto",
      cache: v.cache as string | undefined,
      skipBadImages: v["skip-bad-images"] === true,
    });
    backend = await openBackend({ kind: kind as "auto", threads });
    const tableName = (v.table as string | undefined) ?? DEFAULT_TABLE;
    table = await openEmbeddingTable(backend, saved, db, { table: tableName });
    const started = performance.now();
    const results = await searchRows(backend, saved, table, queries.features, options);
    const seconds = (performance.now() - started) / 1000;
    const json = v.json === true;
    const lines: string[] = [];
    let labelled = 0, wrong = 0;
    results.forEach((result, q) => {
      const query = queries.ids?.[q] ?? queries.rows[q];
      const label = queries.labels?.[q] || null;
      if (label !== null) {
        labelled++;
        if (label !== result.predicted) wrong++;
      }
      if (json) {
        lines.push(JSON.stringify({
          query,
          label,
          predicted: result.predicted,
          vote: Number(float32Text(result.vote)),
          hits: result.hits.map((h) => ({
            id: h.id,
            label: h.label,
            distance: Number(float32Text(h.distance)),
          })),
        }));
        return;
      }
      const name = typeof query === "number" ? `row ${query}` : query;
      lines.push(
        `${name}${label !== null ? `, labelled ${label}` : ""}: predicted ${result.predicted} ` +
          `(vote ${result.vote.toFixed(2)})`,
      );
      const ids = result.hits.map((h) => (typeof h.id === "number" ? `row ${h.id}` : h.id));
      const width = Math.max(0, ...ids.map((id) => id.length));
      const labelWidth = Math.max(0, ...result.hits.map((h) => (h.label ?? "-").length));
      result.hits.forEach((h, i) => {
        lines.push(
          `  ${String(i + 1).padStart(2)}. ${ids[i].padEnd(width)}  ${
            (h.label ?? "-").padEnd(labelWidth)
          }  ${float32Text(h.distance)}`,
        );
      });
    });
    const index = exact ? null : await table.vectorIndex();
    const how = exact
      ? "exact"
      : index === null
      ? "exact (the table has no approximate index)"
      : `approximate (${index.type})`;
    const error = labelled > 0
      ? `; ${
        saved.classifier.kind === "magnet" ? "magnet-rule" : "k-NN"
      } error on the ${labelled} labelled ` +
        `queries ${(100 * wrong / labelled).toFixed(2)} %`
      : "";
    const summary = `${results.length} queries, ${k} nearest each, ${how}, in ${
      seconds.toFixed(2)
    } s${error}`;
    if (lines.length > 0) console.log(lines.join("\n"));
    if (json) console.error(summary);
    else console.log(summary);
    return 0;
  } catch (error) {
    return reportFailure(error);
  } finally {
    table?.close();
    backend?.dispose();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
