/**
 * Checks a run before any time is spent on it: the data, the model's size, and the method's settings
 * against the data. Every setting that would otherwise end minutes later as a NaN loss or an
 * allocation failure is refused here with its real cause.
 */
import { MagnetInputError } from "../errors.ts";
import { type Dataset, type Features, validateDataset } from "../data/dataset.ts";
import { rowSource } from "../data/row_source.ts";
import type { TrainConfig } from "./config.ts";
import type { DeviceLimits } from "../backend/backend.ts";
import { modelVariableShapes } from "../nn/models.ts";
import { checkModelFits } from "../nn/size.ts";
import { modelSpecFor } from "./step.ts";

/** Training data, optional test and validation data, the settings, and the device they run on. */
export interface RunPlan {
  readonly train: Dataset<Features>;
  readonly test?: Dataset<Features>;
  readonly validation?: Dataset<Features>;
  readonly config: TrainConfig;
  /** What the device can hold (see `Backend.limits`). */
  readonly limits: DeviceLimits;
}

/**
 * Throws a {@link MagnetInputError} naming the first reason the run cannot work. The model's size
 * is checked on its variables' shapes, whatever its kind, before any value is made (a backbone's
 * are its file's, checked when the trainer builds it); the compiled step then checks its every
 * tensor against the device (capacity.ts).
 */
export function preflight({ train, test, validation, config, limits }: RunPlan): void {
  validateDataset(train, "training data");
  if (test !== undefined) validateHeldOut(test, train, "test data");
  if (validation !== undefined) validateHeldOut(validation, train, "validation data");
  if (config.model !== "backbone") {
    checkModelFits(modelVariableShapes(modelSpecFor(config, train)), limits);
  }
  checkRowsDiffer(train);
  if (config.augment !== "none" && train.imageShape === undefined) {
    throw new MagnetInputError(
      `--augment ${config.augment} flips and crops images, but this data is a table of ` +
        `${train.dim} features: use --augment none`,
    );
  }
  if (config.loss === "magnet") checkClusters(train, config);
}

function validateHeldOut(
  held: Dataset<Features>,
  train: Dataset<Features>,
  what: string,
): void {
  if (held.dim !== train.dim) {
    throw new MagnetInputError(
      `${what}: rows have ${held.dim} features, the training rows ${train.dim}`,
    );
  }
  // Rows of one width may still be images of another shape (8x4 against 4x8, or 16x16x3
  // against 16x16x3 as 3x16x16): a network would read them as the training images' shape.
  const [a, b] = [held.imageShape, train.imageShape];
  if (a !== undefined && b !== undefined && a.join() !== b.join()) {
    const shown = (s: readonly number[]) => `${s[0]}x${s[1]}x${s[2]}`;
    throw new MagnetInputError(
      `${what}: images of ${shown(a)} (height x width x channels), the training images are ` +
        `${shown(b)}: both must have the training images' shape`,
    );
  }
  if (held.classNames.length !== train.classNames.length) {
    throw new MagnetInputError(
      `${what}: ${held.classNames.length} class names, the training data has ` +
        `${train.classNames.length}; both must use the training data's classes`,
    );
  }
  // Held-out rows may hold a single class, or one example of a class: only their values and
  // labels must be sound.
  validateDataset(held, what, { forTraining: false });
}

/** Rows that are all the same point cannot be told apart by any embedding. */
function checkRowsDiffer(train: Dataset<Features>): void {
  const { dim } = train;
  const n = train.labels.length;
  const rows = rowSource(train.features, dim);
  // Every row equal to the first is every column constant; rows are read in chunks, and the
  // second row almost always differs already.
  const first = rows.range(0, 1, new Float32Array(dim)).slice();
  const chunk = Math.max(1, Math.floor(65536 / dim));
  const buffer = new Float32Array(chunk * dim);
  for (let start = 1; start < n; start += chunk) {
    const count = Math.min(chunk, n - start);
    const values = rows.range(start, count, buffer);
    for (let i = 0; i < count * dim; i++) if (values[i] !== first[i % dim]) return;
  }
  throw new MagnetInputError(
    "training data: every feature column is constant, so all rows are the same point and no " +
      "embedding can separate the classes",
  );
}

/**
 * The index needs clusters of more than one example (a cluster's spread is the loss's unit), and
 * every batch needs M - 1 clusters of classes other than its seed's.
 */
function checkClusters(train: Dataset<Features>, config: TrainConfig): void {
  const counts = new Map<number, number>();
  for (const c of train.labels) counts.set(c, (counts.get(c) ?? 0) + 1);
  for (const [c, n] of counts) {
    if (config.k >= n) {
      throw new MagnetInputError(
        `K = ${config.k} clusters per class (--k) needs more than ${config.k} training rows in ` +
          `every class, but class ${JSON.stringify(train.classNames[c])} has ${n}: its clusters ` +
          "would hold one row each, with no spread to measure; lower --k",
      );
    }
  }
  let smallestOther = Infinity;
  for (const c of counts.keys()) {
    let other = 0;
    for (const [c2, n] of counts) if (c2 !== c) other += Math.min(n, config.k);
    smallestOther = Math.min(smallestOther, other);
  }
  if (smallestOther < config.m - 1) {
    throw new MagnetInputError(
      `M = ${config.m} needs ${config.m - 1} clusters of other classes in every batch, but with ` +
        `K = ${config.k} some class has only ${smallestOther} available: lower M or raise K`,
    );
  }
}
