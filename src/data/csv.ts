/**
 * Users' own data from CSV text (files are read by files.ts).
 *
 * The format is RFC 4180 with a required header row: fields separated by commas, records by
 * CRLF or LF (a lone CR is accepted too), fields optionally enclosed in double quotes, in which
 * commas, line breaks and doubled quotes (`""`) stand for themselves. A UTF-8 byte order mark is
 * skipped, the final line break is optional and blank lines are ignored. Spaces and tabs around
 * unquoted fields are trimmed; quoted fields are kept exactly as written.
 *
 * Every column except the label column, an id column and the columns to ignore is a numeric
 * feature. Every problem is reported as a {@link MagnetInputError} naming the file, the row (the
 * 1-based line of the file where the record starts, the header being row 1) and, where it applies,
 * the column (1-based index and name).
 *
 * The reader, the tokenizer and the checks of every field stay in one file: each message about a
 * field needs the position the tokenizer tracks.
 *
 * @module
 */

import { MagnetInputError } from "../errors.ts";
import { type Dataset, validateDataset } from "./dataset.ts";

/** Options of {@link parseCsvDataset} and `readCsvDataset`. */
export interface CsvOptions {
  /** Name of the column holding the class labels. Defaults to `"label"`. */
  labelColumn?: string;
  /** A column of row ids (names, file paths): kept as the rows' `ids`, never a feature. */
  idColumn?: string | null;
  /** Columns that are neither features nor labels (notes, dates, leaks): skipped. */
  ignoreColumns?: readonly string[];
}

/** Options of {@link parseCsvRows} and `readCsvRows`. */
export interface CsvRowsOptions {
  /** Name of the label column. Defaults to `"label"`. It is optional unless `requireLabel`. */
  labelColumn?: string;
  /**
   * Whether the label column must be present with a non-empty label on every row. Defaults to
   * false: rows to embed may be unlabelled, or labelled only in part (empty labels read as "").
   */
  requireLabel?: boolean;
  /**
   * The feature columns a model was trained on, in the model's order. When given, the file must
   * have exactly these feature columns (in any order); they are reordered to match.
   */
  featureNames?: readonly string[];
  /**
   * A column of row ids, kept as the rows' `ids` and never a feature. Without `featureNames` (a
   * training file) it must be present; with them (rows for a trained model) it may be absent.
   */
  idColumn?: string | null;
  /**
   * Columns that are neither features nor labels: skipped. Without `featureNames` each must be
   * present (a misspelt name is an error); with them, absent ones are fine.
   */
  ignoreColumns?: readonly string[];
}

/** Rows read from a CSV file by {@link parseCsvRows}. */
export interface CsvRows {
  /** `n x dim` feature values, row-major, in the order of `featureNames`. */
  features: Float32Array;
  /** Number of feature columns. */
  dim: number;
  /** Names of the feature columns, in the order their values appear in each row. */
  featureNames: string[];
  /** The label of each row as written (trimmed unless quoted), or null without a label column. */
  labels: string[] | null;
  /** The id of each row as written, or null without an id column. */
  ids: string[] | null;
  /** The 1-based line of the file where each row starts, for messages about a row. */
  lines: Int32Array;
  /** The column names of the header, in file order (label column included). */
  header: string[];
}

const DEFAULT_LABEL_COLUMN = "label";

/**
 * Parses CSV text into a labelled {@link Dataset}.
 *
 * Labels may be any non-empty strings. When every label is a number, labels are compared as
 * numbers: "1", "1.0" and "01" are one class, named by the value's plain decimal ("1"; see
 * {@link canonicalNumber}). Classes are numbered in a stable order that does not depend on row
 * order: numerically when the labels are numbers, otherwise by UTF-16 code unit order.
 * `classNames` holds the label strings.
 *
 * @param text the file's contents
 * @param source how to name the file in messages (usually its path)
 * @throws {MagnetInputError} for any malformed or unusable input
 */
export function parseCsvDataset(text: string, source: string, options: CsvOptions = {}): Dataset {
  const rows = parseCsvRows(text, source, {
    labelColumn: options.labelColumn,
    requireLabel: true,
    idColumn: options.idColumn,
    ignoreColumns: options.ignoreColumns,
  });
  const labelColumn = options.labelColumn ?? DEFAULT_LABEL_COLUMN;
  const rowLabels = classLabels(rows.labels!);
  const column = `column ${rows.header.indexOf(labelColumn) + 1} ${JSON.stringify(labelColumn)}`;

  const counts = new Map<string, number>();
  for (const label of rowLabels) counts.set(label, (counts.get(label) ?? 0) + 1);
  const classNames = sortLabels([...counts.keys()]);
  const index = new Map<string, number>();
  classNames.forEach((name, k) => index.set(name, k));
  const labels = new Int32Array(rowLabels.length);
  for (let i = 0; i < rowLabels.length; i++) labels[i] = index.get(rowLabels[i])!;
  const dataset: Dataset = {
    features: rows.features,
    dim: rows.dim,
    labels,
    classNames,
    featureNames: rows.featureNames,
    sourceRows: rows.lines,
  };
  if (rows.ids !== null) dataset.ids = rows.ids;
  validateDataset(dataset, source, { labelColumn: column });
  return dataset;
}

/**
 * Parses CSV text into feature rows with optional labels, for embedding or evaluating rows with
 * a trained model.
 *
 * The label column (when present) is set apart from the features; all other columns are
 * numeric features. With `featureNames`, the file's feature columns must be exactly those
 * names and are returned in that order; the error says which are missing and which are extra.
 *
 * @param text the file's contents
 * @param source how to name the file in messages (usually its path)
 * @throws {MagnetInputError} for any malformed or unusable input
 */
export function parseCsvRows(text: string, source: string, options: CsvRowsOptions = {}): CsvRows {
  const labelColumn = options.labelColumn ?? DEFAULT_LABEL_COLUMN;
  // trim() also drops a byte order mark, so a file holding only one counts as empty.
  if (text.trim() === "") {
    throw new MagnetInputError(
      `${source}: the file is empty; expected a header row followed by data rows.`,
    );
  }
  const records = csvRecords(text);
  let header: string[] | null = null;
  const where = (line: number, col?: number) =>
    col === undefined
      ? `${source}, row ${line}`
      : `${source}, row ${line}, ${
        header !== null && col < header.length
          ? `column ${col + 1} ${JSON.stringify(header[col])}`
          : `column ${col + 1}`
      }`;
  const next = (): CsvRecord | null => {
    try {
      const r = records.next();
      return r.done ? null : r.value;
    } catch (e) {
      if (e instanceof CsvSyntaxError) {
        throw new MagnetInputError(`${where(e.line, e.field)}: ${e.message}`);
      }
      throw e;
    }
  };

  const headerRecord = next();
  if (headerRecord === null) {
    throw new MagnetInputError(
      `${source}: the file is empty; expected a header row followed by data rows.`,
    );
  }
  header = checkHeader(headerRecord, where);
  const width = header.length;

  let labelIndex = header.indexOf(labelColumn);
  if (labelIndex < 0 && options.requireLabel) {
    const near = header.find((h) => h.toLowerCase() === labelColumn.toLowerCase());
    const suggestion = near === undefined ? "" : ` (did you mean ${JSON.stringify(near)}?)`;
    throw new MagnetInputError(
      `${where(headerRecord.line)}: expected a label column named ${JSON.stringify(labelColumn)}` +
        `${suggestion}, found columns ${quoteList(header, 20)}; name the column that holds ` +
        `the class labels with --label-column (labelColumn in the library).`,
    );
  }

  const trainingFile = options.featureNames === undefined;
  const idColumn = options.idColumn ?? null;
  let idIndex = idColumn === null ? -1 : header.indexOf(idColumn);
  if (idColumn !== null && idIndex < 0 && trainingFile) {
    throw new MagnetInputError(
      `${where(headerRecord.line)}: expected an id column named ${JSON.stringify(idColumn)} ` +
        `(--id-column), found columns ${quoteList(header, 20)}.`,
    );
  }
  if (idIndex >= 0 && idIndex === labelIndex) {
    throw new MagnetInputError(
      `${where(headerRecord.line)}: column ${JSON.stringify(idColumn)} cannot be both the label ` +
        "column (--label-column) and the id column (--id-column).",
    );
  }
  const ignored = new Set(options.ignoreColumns ?? []);
  for (const name of ignored) {
    const c = header.indexOf(name);
    if (c < 0 && trainingFile) {
      throw new MagnetInputError(
        `${where(headerRecord.line)}: --ignore-columns names ${JSON.stringify(name)}, which is ` +
          `not a column; found columns ${quoteList(header, 20)}.`,
      );
    }
    if (c >= 0 && (c === labelIndex || c === idIndex)) {
      throw new MagnetInputError(
        `${where(headerRecord.line)}: column ${JSON.stringify(name)} is the ${
          c === labelIndex ? "label column (--label-column)" : "id column (--id-column)"
        }, so it cannot also be ignored (--ignore-columns).`,
      );
    }
  }

  // fileColumn[j] is the file column holding feature j.
  let fileColumn: number[];
  let featureNames: string[];
  if (options.featureNames !== undefined) {
    const expected = [...options.featureNames];
    // A label or id column that is also a model feature is read as a feature: the model needs it.
    if (labelIndex >= 0 && expected.includes(labelColumn)) labelIndex = -1;
    if (idIndex >= 0 && expected.includes(idColumn!)) idIndex = -1;
    const wanted = new Set(expected);
    const present = header.filter((name, c) =>
      c !== labelIndex && c !== idIndex && !(ignored.has(name) && !wanted.has(name))
    );
    const presentSet = new Set(present);
    const missing = expected.filter((name) => !presentSet.has(name));
    const extra = present.filter((name) => !wanted.has(name));
    if (missing.length > 0 || extra.length > 0) {
      const parts: string[] = [];
      if (missing.length > 0) parts.push(`missing ${quoteList(missing, 10)}`);
      if (extra.length > 0) parts.push(`unexpected ${quoteList(extra, 10)}`);
      const hint = extra.length > 0
        ? " (columns that are not features can be named with --id-column or --ignore-columns)"
        : "";
      throw new MagnetInputError(
        `${where(headerRecord.line)}: expected exactly the ${expected.length} feature columns ` +
          `the model was trained on; ${parts.join("; ")}${hint}.`,
      );
    }
    featureNames = expected;
    fileColumn = expected.map((name) => header!.indexOf(name));
  } else {
    fileColumn = [];
    for (let c = 0; c < width; c++) {
      if (c !== labelIndex && c !== idIndex && !ignored.has(header[c])) fileColumn.push(c);
    }
    featureNames = fileColumn.map((c) => header![c]);
  }
  const dim = fileColumn.length;
  if (dim === 0) {
    throw new MagnetInputError(
      `${where(headerRecord.line)}: expected at least one numeric feature column besides the ` +
        `label column ${JSON.stringify(labelColumn)}${
          idIndex >= 0 || ignored.size > 0 ? ", the id column and the ignored columns" : ""
        }, found none.`,
    );
  }

  let features = new Float32Array(dim * 1024);
  const labels: string[] | null = labelIndex >= 0 ? [] : null;
  const ids: string[] | null = idIndex >= 0 ? [] : null;
  const lines: number[] = [];
  let n = 0;
  for (let record = next(); record !== null; record = next()) {
    const fields = record.fields;
    if (fields.length !== width) {
      throw new MagnetInputError(
        `${where(record.line)}: expected ${width} fields (as in the header), ` +
          `found ${fields.length}.`,
      );
    }
    if ((n + 1) * dim > features.length) {
      const grown = new Float32Array(features.length * 2);
      grown.set(features);
      features = grown;
    }
    const base = n * dim;
    for (let j = 0; j < dim; j++) {
      const c = fileColumn[j];
      const value = parseFeature(fields[c]);
      if (typeof value === "string") {
        throw new MagnetInputError(`${where(record.line, c)}: ${value}`);
      }
      features[base + j] = value;
    }
    if (labels !== null) {
      const label = fields[labelIndex];
      if (options.requireLabel && label.trim() === "") {
        throw new MagnetInputError(
          `${where(record.line, labelIndex)}: expected a class label, found an empty field.`,
        );
      }
      labels.push(label);
    }
    ids?.push(fields[idIndex]);
    lines.push(record.line);
    n++;
  }
  if (n === 0) {
    throw new MagnetInputError(
      `${source}: expected data rows after the header row, found none.`,
    );
  }
  return {
    features: features.slice(0, n * dim),
    dim,
    featureNames,
    labels,
    ids,
    lines: Int32Array.from(lines),
    header,
  };
}

/**
 * The exact decimal value of a number as written ("1.50", "15e-1", "+01.5"), in one spelling: its
 * plain decimal ("1.5"), or scientific notation when that would run past 21 digits; null when the
 * text is not a decimal number. Two texts name the same number exactly when their spellings are
 * equal (no float rounding: "9007199254740993" and "9007199254740992" stay apart).
 */
export function canonicalNumber(text: string): string | null {
  const match = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (match === null || !NUMBER.test(text.trim())) return null;
  const [, sign, whole, fraction = "", exponent = "0"] = match;
  let digits = (whole + fraction).replace(/^0+/, "");
  let exp = Number(exponent) - fraction.length;
  if (digits === "") return "0";
  const trailing = digits.length - digits.replace(/0+$/, "").length;
  digits = digits.slice(0, digits.length - trailing);
  exp += trailing;
  const minus = sign === "-" ? "-" : "";
  const point = digits.length + exp; // digits before the decimal point
  if (exp >= 0 && point <= 21) return minus + digits + "0".repeat(exp);
  if (exp < 0 && point > 0) return `${minus}${digits.slice(0, point)}.${digits.slice(point)}`;
  if (exp < 0 && point > -6) return `${minus}0.${"0".repeat(-point)}${digits}`;
  const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${minus}${mantissa}e${point - 1}`;
}

/**
 * Labels as classes compare them: every label a number, each in its canonical spelling (so
 * "1" and "1.0" are one class); otherwise as written.
 */
export function classLabels(labels: readonly string[]): string[] {
  const numbers = labels.map(canonicalNumber);
  return numbers.every((n) => n !== null) ? numbers as string[] : labels.slice();
}

/**
 * Orders class labels stably: numerically when all look like numbers (so "2" precedes "10"),
 * otherwise by UTF-16 code units, which unlike `localeCompare` does not vary between machines.
 */
export function sortLabels(labels: string[]): string[] {
  const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  if (labels.every((label) => NUMBER.test(label.trim()))) {
    return labels.slice().sort((a, b) => Number(a) - Number(b) || byCodeUnits(a, b));
  }
  return labels.slice().sort(byCodeUnits);
}

// Decimal numbers as people and spreadsheets write them. Stricter than Number(), which would
// also take "", "0x1f", "Infinity" and whitespace, all of which are mistakes in a feature column.
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_FINITE = /^[+-]?(?:nan|inf|infinity)$/i;
const FLOAT32_MAX = 3.4028234663852886e38;

/** The field as a float32-representable finite number, or a sentence saying what is wrong. */
function parseFeature(field: string): number | string {
  const text = field.trim();
  if (NUMBER.test(text)) {
    const value = Number(text);
    if (!Number.isFinite(value)) {
      return `expected a finite number, found ${quote(field)}, which overflows to Infinity.`;
    }
    // Features are stored as float32; past its range a value would silently become Infinity.
    if (!Number.isFinite(Math.fround(value))) {
      const max = FLOAT32_MAX.toPrecision(3);
      return `expected a number within the 32-bit float range (about +-${max}), ` +
        `found ${quote(field)}.`;
    }
    return value;
  }
  if (text === "") {
    return "expected a number, found an empty field (missing values are not supported).";
  }
  if (NON_FINITE.test(text)) {
    return `expected a finite number, found ${quote(field)}.`;
  }
  return `expected a number, found ${quote(field)}.`;
}

function checkHeader(
  record: CsvRecord,
  where: (line: number, col?: number) => string,
): string[] {
  const names = record.fields;
  const seen = new Map<string, number>();
  for (let c = 0; c < names.length; c++) {
    if (names[c].trim() === "") {
      // The header is not yet known to `where`, so the column is named by index only.
      throw new MagnetInputError(
        `${where(record.line, c)}: expected a column name in the header, found an empty field.`,
      );
    }
    const earlier = seen.get(names[c]);
    if (earlier !== undefined) {
      throw new MagnetInputError(
        `${where(record.line)}, column ${c + 1} ${JSON.stringify(names[c])}: expected distinct ` +
          `column names, found the name of column ${earlier + 1} again.`,
      );
    }
    seen.set(names[c], c);
  }
  return names;
}

function quote(value: string): string {
  const shown = value.length > 40 ? value.slice(0, 40) + "..." : value;
  return JSON.stringify(shown);
}

function quoteList(values: string[], limit: number): string {
  const shown = values.slice(0, limit).map(quote).join(", ");
  return values.length > limit ? `${shown} and ${values.length - limit} more` : shown;
}

// ---------------------------------------------------------------------------------------------
// Tokenizer

interface CsvRecord {
  /** 1-based line where the record starts. */
  line: number;
  fields: string[];
}

/** A syntax error at a line and 0-based field, turned into a user message by the parser. */
class CsvSyntaxError extends Error {
  constructor(readonly line: number, readonly field: number, message: string) {
    super(message);
  }
}

const COMMA = 44, QUOTE = 34, CR = 13, LF = 10, SPACE = 32, TAB = 9;

function isBlank(c: number): boolean {
  return c === SPACE || c === TAB;
}

/** Yields the records of `text` one at a time, skipping blank lines. */
function* csvRecords(text: string): Generator<CsvRecord> {
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < n) {
    const c0 = text.charCodeAt(i);
    if (c0 === LF || c0 === CR) {
      i += c0 === CR && text.charCodeAt(i + 1) === LF ? 2 : 1;
      line++;
      continue;
    }
    const recordLine = line;
    const fields: string[] = [];
    for (;;) {
      // A quoted field may be preceded by spaces, as in `a, "b"`.
      let k = i;
      while (k < n && isBlank(text.charCodeAt(k))) k++;
      if (k < n && text.charCodeAt(k) === QUOTE) {
        const openLine = line;
        const start = k + 1;
        let j = start;
        let doubled = false;
        let end: number;
        for (;;) {
          const q = text.indexOf('"', j);
          if (q < 0) {
            throw new CsvSyntaxError(
              openLine,
              fields.length,
              "expected a closing quote for the quoted field that starts here, found the end of " +
                "the file.",
            );
          }
          if (text.charCodeAt(q + 1) === QUOTE) {
            doubled = true;
            j = q + 2;
            continue;
          }
          end = q;
          break;
        }
        const raw = text.slice(start, end);
        fields.push(doubled ? raw.replaceAll('""', '"') : raw);
        line += countLineBreaks(text, start, end);
        i = end + 1;
        while (i < n && isBlank(text.charCodeAt(i))) i++;
        if (i < n) {
          const c = text.charCodeAt(i);
          if (c !== COMMA && c !== CR && c !== LF) {
            throw new CsvSyntaxError(
              line,
              fields.length - 1,
              `expected a comma or the end of the line after a closing quote, found ` +
                `${JSON.stringify(text[i])}; quotes inside a quoted field must be doubled.`,
            );
          }
        }
      } else {
        let j = i;
        for (; j < n; j++) {
          const c = text.charCodeAt(j);
          if (c === COMMA || c === CR || c === LF) break;
          if (c === QUOTE) {
            throw new CsvSyntaxError(
              line,
              fields.length,
              `expected no quote in an unquoted field, found ` +
                `${quote(text.slice(i, lineEnd(text, j)))}; enclose the field in quotes and ` +
                `double the quotes inside it.`,
            );
          }
        }
        fields.push(trimBlanks(text, i, j));
        i = j;
      }
      if (i >= n) break;
      const c = text.charCodeAt(i);
      if (c === COMMA) {
        i++;
        continue;
      }
      i += c === CR && text.charCodeAt(i + 1) === LF ? 2 : 1;
      line++;
      break;
    }
    yield { line: recordLine, fields };
  }
}

function lineEnd(text: string, from: number): number {
  let j = from;
  while (j < text.length) {
    const c = text.charCodeAt(j);
    if (c === COMMA || c === CR || c === LF) break;
    j++;
  }
  return j;
}

function trimBlanks(text: string, start: number, end: number): string {
  while (start < end && isBlank(text.charCodeAt(start))) start++;
  while (end > start && isBlank(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

function countLineBreaks(text: string, start: number, end: number): number {
  let count = 0;
  for (let j = start; j < end; j++) {
    const c = text.charCodeAt(j);
    if (c === LF) count++;
    else if (c === CR && text.charCodeAt(j + 1) !== LF) count++;
  }
  return count;
}
