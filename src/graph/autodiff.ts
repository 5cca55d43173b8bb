/**
 * Reverse-mode automatic differentiation over a {@link Graph}: adds the backward nodes, built from the
 * ops' declared gradients, and returns them. Running them is the backend's business.
 */
import { ShapeError } from "../errors.ts";
import { add, broadcastTo, opDefinition } from "./ops.ts";
import { formatShape, type Tensor } from "./tensor.ts";

/**
 * The gradients of `y` with respect to each of `xs`, as new nodes of y's graph. `y` must be a scalar
 * unless `dy` (the gradient flowing into `y`, shaped like it) is given. An `x` that `y` does not depend
 * on gets zeros.
 */
export function gradients(y: Tensor, xs: readonly Tensor[], dy?: Tensor): Tensor[] {
  const graph = y.graph;
  if (dy === undefined) {
    if (y.size !== 1) {
      throw new ShapeError(
        "gradients",
        `y must be a scalar (or pass dy), got shape ${formatShape(y.shape)}`,
      );
    }
    dy = broadcastTo(graph.scalar(1), y.shape);
  } else if (dy.size !== y.size || dy.rank !== y.rank) {
    throw new ShapeError(
      "gradients",
      `dy has shape ${formatShape(dy.shape)} but y has ${formatShape(y.shape)}`,
    );
  }
  for (const x of xs) {
    if (x.graph !== graph) throw new ShapeError("gradients", `${x} belongs to another graph`);
    if (x.dtype !== "float") throw new ShapeError("gradients", `${x} is not a float tensor`);
  }

  // Only nodes on a path from some x to y take part.
  const nodes = graph.nodes;
  const dependsOnX = new Uint8Array(y.id + 1);
  for (const x of xs) if (x.id <= y.id) dependsOnX[x.id] = 1;
  for (let id = 0; id <= y.id; id++) {
    if (dependsOnX[id]) continue;
    const node = nodes[id];
    if (node.dtype === "float" && node.inputs.some((t) => dependsOnX[t.id])) dependsOnX[id] = 1;
  }

  const grads = new Map<number, Tensor>([[y.id, dy]]);
  for (let id = y.id; id >= 0; id--) {
    const g = grads.get(id);
    const node = nodes[id];
    if (g === undefined || node.inputs.length === 0) continue;
    const def = opDefinition(node.op);
    if (def?.grad === undefined) continue; // piecewise-constant ops pass no gradient
    if (!node.inputs.some((t) => dependsOnX[t.id])) continue;
    // The backward nodes belong to the layer of the node they differentiate.
    graph.inLayer(node.layer, () => {
      const inputGrads = def.grad!(g, node);
      node.inputs.forEach((input, i) => {
        const gi = inputGrads[i];
        if (gi === null || gi === undefined || !dependsOnX[input.id]) return;
        const previous = grads.get(input.id);
        grads.set(input.id, previous === undefined ? gi : add(previous, gi));
      });
    });
  }
  return xs.map((x) => grads.get(x.id) ?? broadcastTo(graph.scalar(0), x.shape));
}
