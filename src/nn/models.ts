/**
 * Building a network from its architecture: fresh (seeded) or from saved variable values. Every
 * architecture lists its variables' shapes first ({@link modelVariableShapes}), so sizes are checked
 * before a single value is allocated.
 */
import { MagnetInputError } from "../errors.ts";
import { Variable } from "../graph/tensor.ts";
import { Cnn, cnnSpec, cnnVariables, cnnVariableShapes } from "./cnn.ts";
import { createMlp, Mlp, mlpVariableShapes } from "./mlp.ts";
import type { BackboneSpec, Model, ModelSpec, VariableShape } from "./model.ts";
import { checkVariableShapes } from "./size.ts";
import { BackboneModel, specSource } from "./onnx/backbone.ts";
import type { OnnxSource } from "./onnx/source.ts";

/** The variables a network of architecture `spec` has, in order, before any value exists. */
export function modelVariableShapes(spec: ModelSpec): VariableShape[] {
  if (spec.kind === "mlp") {
    if (spec.sizes.length < 2) {
      throw new MagnetInputError(
        `MLP layer sizes must be at least two positive integers, got [${spec.sizes.join(", ")}]`,
      );
    }
    return mlpVariableShapes(spec.sizes);
  }
  if (spec.kind === "backbone") return backboneVariableShapes(spec);
  return cnnVariableShapes(cnnSpec(spec));
}

/**
 * An imported network's variables: its file's, as the import made them (from the saved structure,
 * whose weights are zeros until restored), and its head's. Their sizes are those of a network
 * file that was read, so they are listed rather than derived.
 */
function backboneVariableShapes(spec: BackboneSpec): VariableShape[] {
  const model = new BackboneModel(spec, specSource(spec), new Map(), 1);
  const head = new Set(model.head === null ? [] : [model.head.weight, model.head.bias]);
  const shape = (role: "parameter" | "state") => (v: Variable): VariableShape => ({
    name: v.name,
    shape: v.shape,
    layer: head.has(v) ? "the embedding head (--embedding-dim)" : `the backbone ${spec.onnx.file}`,
    role,
  });
  return [...model.parameters.map(shape("parameter")), ...model.state.map(shape("state"))];
}

/**
 * A network of architecture `spec` with seeded initial weights; an imported network (a backbone)
 * takes its weights from `source`, the file it was made from (without it, from the spec's
 * structure, whose weights are zeros until restored).
 */
export function createModel(spec: ModelSpec, seed: number, source?: OnnxSource): Model {
  // An imported network's sizes are its file's, which exist already.
  if (spec.kind !== "backbone") checkVariableShapes(modelVariableShapes(spec));
  if (spec.kind === "mlp") return createMlp({ sizes: spec.sizes, seed });
  if (spec.kind === "backbone") {
    return new BackboneModel(spec, source ?? specSource(spec), new Map(), seed);
  }
  const checked = cnnSpec(spec);
  return new Cnn(checked, cnnVariables(checked, seed));
}

/**
 * A network of architecture `spec` holding `values` (by variable name, as a model file or a
 * checkpoint keeps them); `source` names where they came from in errors. Every variable the
 * architecture has must be there with its size and finite values, and nothing else may be.
 */
export function restoreModel(
  spec: ModelSpec,
  values: Readonly<Record<string, Float32Array>>,
  source: string,
): Model {
  const shapes = modelVariableShapes(spec);
  checkVariableShapes(shapes);
  const restored = new Map<string, Variable>();
  for (const v of shapes) {
    const value = values[v.name];
    const size = v.shape.reduce((a, b) => a * b, 1);
    if (value === undefined || value.length !== size) {
      throw new MagnetInputError(
        `${source}: "${v.name}" should hold ${size} values, found ${value?.length ?? "nothing"}`,
      );
    }
    const bad = value.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) {
      throw new MagnetInputError(
        `${source} is damaged: "${v.name}" holds ${value[bad]} at position ${bad}`,
      );
    }
    restored.set(v.name, new Variable(v.name, v.shape, value));
  }
  const unknown = Object.keys(values).filter((name) => !restored.has(name));
  if (unknown.length > 0) {
    throw new MagnetInputError(
      `${source} is damaged: "${unknown[0]}" is not a variable of this ${spec.kind.toUpperCase()}` +
        (unknown.length > 1 ? ` (nor ${unknown.length - 1} more)` : ""),
    );
  }
  if (spec.kind === "backbone") {
    const byName = new Map([...restored].map(([name, v]) => [name, v.initial]));
    return new BackboneModel(spec, specSource(spec), byName);
  }
  if (spec.kind === "mlp") {
    const layers = spec.sizes.length - 1;
    const get = (name: string) => restored.get(name)!;
    return new Mlp(
      spec.sizes,
      Array.from({ length: layers }, (_, i) => get(`mlp.${i}.weight`)),
      Array.from({ length: layers }, (_, i) => get(`mlp.${i}.bias`)),
    );
  }
  return new Cnn(cnnSpec(spec), restored);
}
