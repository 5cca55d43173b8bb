/** Building a network from its architecture: fresh (seeded) or from saved variable values. */
import { MagnetInputError } from "../errors.ts";
import { Variable } from "../graph/tensor.ts";
import { Cnn, cnnSpec, cnnVariables } from "./cnn.ts";
import { createMlp, Mlp } from "./mlp.ts";
import type { Model, ModelSpec } from "./model.ts";
import { BackboneModel, specSource } from "./onnx/backbone.ts";
import type { OnnxSource } from "./onnx/source.ts";

/**
 * A network of architecture `spec` with seeded initial weights; an imported network (a backbone)
 * takes its weights from `source`, the file it was made from (without it, from the spec's
 * structure, whose weights are zeros until restored).
 */
export function createModel(spec: ModelSpec, seed: number, source?: OnnxSource): Model {
  if (spec.kind === "mlp") return createMlp({ sizes: spec.sizes, seed });
  if (spec.kind === "backbone") {
    return new BackboneModel(spec, source ?? specSource(spec), new Map(), seed);
  }
  const checked = cnnSpec(spec);
  return new Cnn(checked, cnnVariables(checked, seed));
}

/**
 * A network of architecture `spec` holding `values` (by variable name, as a model file or a
 * checkpoint keeps them); `source` names where they came from in errors.
 */
export function restoreModel(
  spec: ModelSpec,
  values: Readonly<Record<string, Float32Array>>,
  source: string,
): Model {
  // The fresh model says which variables there are and their shapes; the values replace them.
  const fresh = createModel(spec, 1);
  const restored = new Map<string, Variable>();
  for (const v of [...fresh.parameters, ...fresh.state]) {
    const value = values[v.name];
    if (value === undefined || value.length !== v.size) {
      throw new MagnetInputError(
        `${source}: "${v.name}" should hold ${v.size} values, found ${value?.length ?? "nothing"}`,
      );
    }
    restored.set(v.name, new Variable(v.name, v.shape, value));
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
