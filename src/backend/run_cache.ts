/**
 * Compiled executables for `Backend.run`, one per graph and list of outputs, so evaluating the same
 * outputs again does not compile again.
 */
import type { Graph, Tensor } from "../graph/tensor.ts";
import type { Backend, Executable } from "./backend.ts";

/** A per-backend cache of executables keyed by graph and output ids. */
export class RunCache {
  #byGraph = new WeakMap<Graph, Map<string, Promise<Executable>>>();

  /** The executable computing `outputs`, compiled on first request. */
  get(backend: Backend, outputs: readonly Tensor[]): Promise<Executable> {
    if (outputs.length === 0) return backend.compile({ outputs });
    const graph = outputs[0].graph;
    let byKey = this.#byGraph.get(graph);
    if (byKey === undefined) {
      byKey = new Map();
      this.#byGraph.set(graph, byKey);
    }
    const key = outputs.map((t) => t.id).join(",");
    let exe = byKey.get(key);
    if (exe === undefined) {
      exe = backend.compile({ outputs });
      byKey.set(key, exe);
    }
    return exe;
  }
}
