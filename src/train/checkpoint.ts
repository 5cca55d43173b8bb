/**
 * A trainer's state as a JSON document (typed arrays in base64), for checkpoints that a later run can
 * resume from. Reading checks the structure and names what is wrong.
 */
import { MagnetInputError } from "../errors.ts";
import { decodeArray, encodeArray, type EncodedArray } from "../io/files.ts";
import type { TrainerState } from "./trainer.ts";

/** Serialises a trainer state. `extra` (data source, preprocessing) travels with it. */
export function stateToJson(state: TrainerState, extra: Record<string, unknown> = {}): string {
  const variables: Record<string, EncodedArray> = {};
  for (const [name, value] of Object.entries(state.variables)) variables[name] = encodeArray(value);
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
    extra,
  });
}

/** Parses {@link stateToJson}'s output; `source` names the file in errors. */
export function stateFromJson(
  text: string,
  source: string,
): { state: TrainerState; extra: Record<string, unknown> } {
  // deno-lint-ignore no-explicit-any
  let raw: any;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new MagnetInputError(`${source} is not a magnet checkpoint (not JSON)`);
  }
  if (raw?.format !== "magnet-checkpoint" || raw.version !== 1) {
    throw new MagnetInputError(`${source} is not a magnet checkpoint (format/version missing)`);
  }
  const what = (name: string) => `${source}: ${name}`;
  const variables: Record<string, Float32Array> = {};
  for (const [name, value] of Object.entries(raw.variables ?? {})) {
    variables[name] = decodeArray(value as EncodedArray, "float32", what(name));
  }
  const state: TrainerState = {
    version: 1,
    config: raw.config,
    iteration: raw.iteration,
    rng: raw.rng,
    variables,
    index: raw.index === null ? null : {
      centres: decodeArray(raw.index.centres, "float32", what("index centres")),
      clusterClass: decodeArray(raw.index.clusterClass, "int32", what("index classes")),
      assignment: decodeArray(raw.index.assignment, "int32", what("index assignment")),
    },
    sampler: raw.sampler === null ? null : {
      exampleLoss: decodeArray(raw.sampler.exampleLoss, "float32", what("sampler losses")),
      measured: decodeArray(raw.sampler.measured, "uint8", what("sampler flags")),
      clusterSum: decodeArray(raw.sampler.clusterSum, "float64", what("sampler sums")),
      clusterCount: decodeArray(raw.sampler.clusterCount, "int32", what("sampler counts")),
    },
    varianceSum: raw.varianceSum,
    varianceCount: raw.varianceCount,
    window: raw.window,
    history: raw.history,
    seconds: raw.seconds,
    timings: raw.timings,
  };
  if (
    !Number.isInteger(state.iteration) || !Array.isArray(state.rng) || state.config === undefined
  ) {
    throw new MagnetInputError(`${source} is damaged: iteration, rng or config missing`);
  }
  return { state, extra: raw.extra ?? {} };
}
