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

function readHistory(f: Fields): HistoryPoint[] {
  return f.objects("history").map((p) => {
    const loss = p.get("loss");
    const point: HistoryPoint = {
      iteration: p.integer("iteration"),
      loss: loss === null ? null : p.number("loss"),
      seconds: p.number("seconds", 0),
    };
    for (const split of ["test", "validation"] as const) {
      if (p.get(split) !== undefined) {
        point[split] = p.object(split).raw as HistoryPoint[typeof split];
      }
    }
    return point;
  });
}

/** The best model so far (checkpoints written before it existed have none). */
function readBest(top: Fields): TrainerState["best"] {
  if (top.get("best") === undefined) return null;
  const best = top.nullableObject("best");
  if (best === null) return null;
  const vars = best.object("variables");
  const variables: Record<string, Float32Array> = {};
  for (const name of Object.keys(vars.raw as object)) {
    variables[name] = vars.encoded(name, "float32");
  }
  return {
    iteration: best.integer("iteration"),
    value: best.number("value", 0),
    variables,
    varianceSum: best.number("varianceSum", 0),
    varianceCount: best.integer("varianceCount"),
  };
}

/** Parses {@link stateToJson}'s output; `source` names the file in errors. */
export function stateFromJson(
  text: string,
  source: string,
): { state: TrainerState; extra: Record<string, unknown> } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new MagnetInputError(`${source} is not a magnet checkpoint (not JSON)`);
  }
  const top = new Fields(source, "", raw);
  if (
    raw === null || typeof raw !== "object" || top.get("format") !== "magnet-checkpoint" ||
    top.get("version") !== 1
  ) {
    throw new MagnetInputError(`${source} is not a magnet checkpoint (format/version missing)`);
  }
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
  for (const name of Object.keys(vars.raw as object)) {
    variables[name] = vars.encoded(name, "float32");
  }
  const index = top.nullableObject("index");
  const sampler = top.nullableObject("sampler");
  const window = top.object("window");
  const state: TrainerState = {
    version: 1,
    config,
    iteration: top.integer("iteration"),
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
    window: { sum: window.number("sum"), count: window.integer("count") },
    history: readHistory(top),
    seconds: top.number("seconds", 0),
    timings: readTimings(top.object("timings")),
    best: readBest(top),
    // Checkpoints written before early stopping and the zero-loss note have neither.
    sinceBest: top.get("sinceBest") === undefined ? 0 : top.integer("sinceBest"),
    stopped: top.get("stopped") === undefined ? false : top.get("stopped") === true,
    zeroLoss: top.get("zeroLoss") === undefined ? { steps: 0, noted: false } : {
      steps: top.object("zeroLoss").integer("steps"),
      noted: top.object("zeroLoss").get("noted") === true,
    },
  };
  if (state.best !== null && state.best.iteration > state.iteration) {
    throw new MagnetInputError(
      `${source} is damaged: best.iteration ${state.best.iteration} is past the run's ` +
        `${state.iteration} steps`,
    );
  }
  if (state.iteration > config.iterations) {
    throw new MagnetInputError(
      `${source} is damaged: iteration ${state.iteration} is past the run's ${config.iterations}`,
    );
  }
  if (config.loss === "magnet" && state.iteration > 0 && state.index === null) {
    throw new MagnetInputError(`${source} is damaged: a magnet run past step 0 without its index`);
  }
  const extra = top.get("extra");
  return {
    state,
    extra: extra !== null && typeof extra === "object" ? extra as Record<string, unknown> : {},
  };
}
