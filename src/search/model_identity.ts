/**
 * A model's identity for a table of its embeddings: a SHA-256 of everything that decides which
 * embedding a row gets (the architecture, the feature columns, the standardisation and every
 * variable's value), and nothing that does not (the classifier, the loss, the class names). Two
 * models with one identity embed every row alike, so their embeddings may share a table.
 */
import type { Backend } from "../backend/backend.ts";
import type { ModelSpec } from "../nn/model.ts";
import type { SavedModel } from "../train/saved_model.ts";

/** JSON with object keys sorted, so that equal architectures give equal text. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function bytesOf(values: ArrayLike<number>): Uint8Array<ArrayBuffer> {
  const floats = Float32Array.from(values);
  return new Uint8Array(floats.buffer);
}

/**
 * The identity (64 hex digits) of `saved` with its variables' current values on `backend` (a
 * model loaded from a file, or one just trained there).
 */
export async function modelIdentity(backend: Backend, saved: SavedModel): Promise<string> {
  const { model } = saved;
  const variables = [...model.parameters, ...model.state]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header = canonical({
    spec: model.spec,
    featureNames: saved.featureNames,
    variables: variables.map((v) => [v.name, v.shape]),
    standardized: saved.standardization !== null,
  });
  const parts: Uint8Array<ArrayBuffer>[] = [new TextEncoder().encode(header)];
  if (saved.standardization !== null) {
    parts.push(bytesOf(saved.standardization.mean), bytesOf(saved.standardization.scale));
  }
  for (const v of variables) parts.push(bytesOf(await backend.readVariable(v)));
  // One digest per part, then a digest of those: no copy of all the weights is needed.
  const digests = await Promise.all(parts.map((p) => crypto.subtle.digest("SHA-256", p)));
  const all = new Uint8Array(digests.length * 32);
  digests.forEach((d, i) => all.set(new Uint8Array(d), i * 32));
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * An architecture in words ("mlp 784-256-128-64", "cnn 28x28x1 conv 32,64 dense 256,128 -> 64",
 * "backbone resnet18.onnx (28x28x1 as 64x64x3) -> 64").
 */
export function describeModel(spec: ModelSpec): string {
  if (spec.kind === "mlp") return `mlp ${spec.sizes.join("-")}`;
  if (spec.kind === "backbone") {
    const file = spec.onnx.file.split(/[\\/]/).pop();
    const input = spec.input.kind === "table"
      ? `${spec.input.features} features`
      : `${spec.input.rows.join("x")} as ${spec.input.network.join("x")}`;
    const head = spec.embeddingDim === null ? "" : ` -> ${spec.embeddingDim}`;
    return `backbone ${file} (${input})${spec.frozen ? " frozen" : ""}${head}`;
  }
  const dense = spec.dense.length > 0 ? ` dense ${spec.dense.join(",")}` : "";
  return `cnn ${spec.input.join("x")} conv ${spec.conv.join(",")}${dense} -> ${spec.embeddingDim}`;
}
