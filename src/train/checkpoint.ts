/**
 * A trainer's state as a JSON document (typed arrays in base64), for checkpoints that a later run can
 * resume from. Writing refuses a state with a non-finite value; reading checks every field and names
 * the first that is missing or wrong, so a damaged file is a clear message, never a TypeError.
 */
import { MagnetInputError } from "../errors.ts";
import { encodeArray, type EncodedArray } from "../io/arrays.ts";
import { JsonFields as Fields } from "../io/json_fields.ts";
import { resolveConfig } from "./config.ts";
import type { HistoryPoint, TrainerState, TrainTimings } from "./types.ts";
import type { EvalMetrics } from "../eval/evaluate.ts";

/**
 * Serialises a trainer state. `extra` (data source, preprocessing) travels with it. A state holding a
 * non-finite variable is refused: a checkpoint is only ever a state worth resuming.
 */
export function stateToJson(state: TrainerState, extra: object = {}): string {
  const encodeAll = (all: Record<string, Float32Array>, what: string) => {
    const encoded: Record<string, EncodedArray> = {};
    for (const [name, value] of Object.entries(all)) {
      const bad = value.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) {
        throw new Error(
          `refusing to write a checkpoint whose ${what} "${name}" holds ${value[bad]} at ${bad}`,
        );
      }
      encoded[name] = encodeArray(value);
    }
    return encoded;
  };
  const variables = encodeAll(state.variables, "variable");
  return JSON.stringify({
    format: "magnet-checkpoint",
    ...state,
    variables,
    index: state.index === null ? null : {
      centres: encodeArray(state.index.centres),
      clusterClass: encodeArray(state.index.clusterClass),
      assignment: encodeArray(state.index.assignment),
    },
    sampler: state.sampler === null ? null : {
      exampleLoss: encodeArray(state.sampler.exampleLoss),
      measured: encodeArray(state.sampler.measured),
      clusterSum: encodeArray(state.sampler.clusterSum),
      clusterCount: encodeArray(state.sampler.clusterCount),
    },
    best: state.best === null ? null : {
      ...state.best,
      variables: encodeAll(state.best.variables, "best model's variable"),
    },
    extra,
  });
}

function readTimings(f: Fields): TrainTimings {
  return {
    steps: f.number("steps", 0),
    stepCount: f.integer("stepCount"),
    refresh: f.number("refresh", 0),
    refreshCount: f.integer("refreshCount"),
    eval: f.number("eval", 0),
    evalCount: f.integer("evalCount"),
  };
}

/** Test metrics as saved: fractions (the magnet rule's error null for the baselines). */
export function readMetrics(f: Fields): EvalMetrics {
  return {
    magnetError: f.nullableNumber("magnetError", 0, 1),
    knnError: f.number("knnError", 0, 1),
    precisionAt1: f.number("precisionAt1", 0, 1),
    rPrecision: f.number("rPrecision", 0, 1),
    mapAtR: f.number("mapAtR", 0, 1),
    nmi: f.number("nmi", 0, 1),
  };
}

function readHistory(f: Fields, iterations: number): HistoryPoint[] {
  let previous = 0;
  return f.objects("history").map((p) => {
    const point: HistoryPoint = {
      iteration: p.integer("iteration", previous, iterations),
      loss: p.nullableNumber("loss", 0),
      seconds: p.number("seconds", 0),
    };
    previous = point.iteration;
    for (const split of ["test", "validation"] as const) {
      if (p.has(split)) point[split] = readMetrics(p.object(split));
    }
    return point;
  });
}

/** What {@link stateFromJson} expects at the top of the file. */
const CHECKPOINT = { format: "magnet-checkpoint", versions: [1], what: "a magnet checkpoint" };

/**
 * The best model so far, every field checked (checkpoints written before it existed have none):
 * an evaluation at or before the run's `iteration`, an error rate, a sound variance. Whether its
 * variables are the model's, each of its size and finite, is checked when a trainer resumes.
 */
function readBest(top: Fields, iteration: number): TrainerState["best"] {
  if (top.get("best") === undefined) return null;
  const best = top.nullableObject("best");
  if (best === null) return null;
  const vars = best.object("variables");
  const variables: Record<string, Float32Array> = {};
  for (const name of vars.keys()) variables[name] = vars.encoded(name, "float32");
  return {
    iteration: best.integer("iteration", 0, iteration),
    value: best.number("value", 0, 1),
    variables,
    varianceSum: best.number("varianceSum", 0),
    varianceCount: best.integer("varianceCount"),
  };
}

/**
 * Parses {@link stateToJson}'s output, every field and every value checked; `source` names the
 * file in errors. Whether the variables fit the architecture is checked when a trainer resumes
 * from the state (`Trainer.resume`), which knows the data's width. `extra` is returned as it is,
 * for its writer to read (field by field: see `JsonFields`).
 */
export function stateFromJson(
  text: string,
  source: string,
): { state: TrainerState; extra: unknown } {
  const top = Fields.parse(text, source, CHECKPOINT);
  let config;
  try {
    config = resolveConfig(top.object("config").raw as TrainerState["config"]);
  } catch (error) {
    if (!(error instanceof MagnetInputError)) throw error;
    throw new MagnetInputError(`${source} is damaged: its config is invalid: ${error.message}`);
  }
  const generator = (name: string) => {
    const rng = top.array(name);
    if (
      rng.length !== 4 ||
      !rng.every((v) => typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 2 ** 32)
    ) {
      throw new MagnetInputError(`${source} is damaged: ${name} should be four 32-bit integers`);
    }
    return rng as TrainerState["rng"];
  };
  const rng = generator("rng");
  // Absent from checkpoints of runs before augmentation existed, which never augmented.
  const augmentRng = top.get("augmentRng") === undefined || top.get("augmentRng") === null
    ? null
    : generator("augmentRng");
  if (config.augment !== "none" && augmentRng === null) {
    throw new MagnetInputError(
      `${source} is damaged: a run with --augment ${config.augment} without its augmentRng`,
    );
  }
  const vars = top.object("variables");
  const variables: Record<string, Float32Array> = {};
  for (const name of vars.keys()) variables[name] = vars.encoded(name, "float32");
  const index = top.nullableObject("index");
  const sampler = top.nullableObject("sampler");
  const window = top.object("window");
  const state: TrainerState = {
    version: 1,
    config,
    iteration: top.integer("iteration", 0, config.iterations),
    rng,
    augmentRng,
    variables,
    index: index === null ? null : {
      centres: index.encoded("centres", "float32"),
      clusterClass: index.encoded("clusterClass", "int32"),
      assignment: index.encoded("assignment", "int32"),
    },
    sampler: sampler === null ? null : {
      exampleLoss: sampler.encoded("exampleLoss", "float32"),
      measured: sampler.encoded("measured", "uint8"),
      clusterSum: sampler.encoded("clusterSum", "float64"),
      clusterCount: sampler.encoded("clusterCount", "int32"),
    },
    varianceSum: top.number("varianceSum", 0),
    varianceCount: top.integer("varianceCount"),
    window: { sum: window.number("sum", 0), count: window.integer("count") },
    history: readHistory(top, config.iterations),
    seconds: top.number("seconds", 0),
    timings: readTimings(top.object("timings")),
    best: null,
    // Checkpoints written before early stopping and the zero-loss note have neither.
    sinceBest: top.get("sinceBest") === undefined ? 0 : top.integer("sinceBest"),
    stopped: top.get("stopped") === undefined ? false : top.boolean("stopped"),
    zeroLoss: top.get("zeroLoss") === undefined ? { steps: 0, noted: false } : {
      steps: top.object("zeroLoss").integer("steps"),
      noted: top.object("zeroLoss").boolean("noted"),
    },
  };
  state.best = readBest(top, state.iteration);
  if (config.loss === "magnet" && state.iteration > 0 && state.index === null) {
    throw new MagnetInputError(`${source} is damaged: a magnet run past step 0 without its index`);
  }
  return {
    state,
    extra: top.get("extra"),
  };
}
