/**
 * Elementwise fusion: a chain of elementwise nodes whose intermediate values have a single reader
 * becomes one kernel that computes the chain per output element, so a backend whose cost is per
 * dispatch (WebGPU) runs far fewer of them and stores no intermediates.
 *
 * A node joins its reader's group when it is elementwise, is read only by that reader (and is no
 * output or update source), and is read either element for element (same shape as the group's
 * output) or as a scalar (size 1, then computed from element 0 of its inputs).
 */
import { elementwiseExpr, opDefinition } from "../graph/ops.ts";
import { E, type NumExpr } from "../graph/expr.ts";
import type { Tensor } from "../graph/tensor.ts";
import { type Access, elementwiseLayout } from "./layout.ts";

/** External inputs a fused kernel may read (WebGPU guarantees 8 storage buffers per stage). */
export const MAX_FUSED_INPUTS = 6;

/** Where a fused node's argument comes from. */
export type FusedArg = { kind: "input"; index: number } | { kind: "node"; index: number };

/**
 * One node of a fused kernel: its value as an expression over its own arguments (`arg(i)` is its
 * i-th argument), and where each argument comes from.
 */
export interface FusedNode {
  readonly expr: NumExpr;
  readonly args: readonly FusedArg[];
}

/** How one external input of a fused kernel is read, relative to the output's elements. */
export interface FusedInput {
  readonly access: Access;
  /** Element strides per output dimension (strided access only; else empty). */
  readonly strides: readonly number[];
}

/** One fused kernel: its external inputs and the nodes it evaluates, the last being its output. */
export interface FusedProgram {
  /** How each external input is read. */
  readonly inputs: readonly FusedInput[];
  /** Nodes in evaluation order. */
  readonly nodes: readonly FusedNode[];
}

function isElementwise(t: Tensor): boolean {
  return opDefinition(t.op).kind === "elementwise";
}

function sameShape(a: Tensor, b: Tensor): boolean {
  // Leading 1s do not change how a flat index maps to coordinates.
  const x = a.shape.filter((d, i) => d !== 1 || i >= a.rank - b.rank);
  const y = b.shape.filter((d, i) => d !== 1 || i >= b.rank - a.rank);
  return a.size === b.size && x.length === y.length && x.every((d, i) => d === y[i]);
}

/**
 * Groups `steps` (in order): returns, for each step that stays a kernel, the nodes fused into it in
 * evaluation order (itself last). Steps absorbed into another's group are left out. `nodes` are all
 * the nodes the plan needs (views read values too); `pinned` holds ids whose values must be stored
 * (outputs, update sources).
 */
export function fuseElementwise(
  steps: readonly Tensor[],
  nodes: readonly Tensor[],
  pinned: ReadonlySet<number>,
): Map<number, Tensor[]> {
  const readers = new Map<number, number>();
  for (const t of nodes) for (const x of t.inputs) readers.set(x.id, (readers.get(x.id) ?? 0) + 1);
  const stepIds = new Set(steps.map((t) => t.id));
  const absorbed = new Set<number>();
  const groups = new Map<number, Tensor[]>();
  for (let s = steps.length - 1; s >= 0; s--) {
    const root = steps[s];
    if (absorbed.has(root.id)) continue;
    if (!isElementwise(root)) {
      groups.set(root.id, [root]);
      continue;
    }
    const context = new Map<number, "full" | "scalar">([[root.id, "full"]]);
    const members: Tensor[] = [root];
    const externalReads = () => {
      const keys = new Set<string>();
      for (const n of members) {
        elementwiseLayout(n).forEach((l, k) => {
          const x = n.inputs[k];
          if (context.has(x.id)) return;
          keys.add(context.get(n.id) === "scalar" ? `${x.id}:0` : `${x.id}:${l.strides.join(",")}`);
        });
      }
      return keys.size;
    };
    // Breadth-first from the root; a candidate joins if the group's reads still fit the binding limit.
    for (let q = 0; q < members.length; q++) {
      const node = members[q];
      const nodeContext = context.get(node.id)!;
      elementwiseLayout(node).forEach((layout, j) => {
        const x = node.inputs[j];
        if (
          context.has(x.id) || !stepIds.has(x.id) || !isElementwise(x) || pinned.has(x.id) ||
          readers.get(x.id) !== 1 || x.dtype !== "float"
        ) return;
        let childContext: "full" | "scalar";
        if (nodeContext === "scalar" || layout.access === "scalar") childContext = "scalar";
        else if (layout.access === "full" && sameShape(x, root)) childContext = "full";
        else return;
        context.set(x.id, childContext);
        members.push(x);
        if (externalReads() > MAX_FUSED_INPUTS) {
          context.delete(x.id);
          members.pop();
        }
      });
    }
    const group = members.sort((a, b) => a.id - b.id);
    for (const n of group) if (n !== root) absorbed.add(n.id);
    groups.set(root.id, group);
  }
  return groups;
}

/** The tensors a group reads from outside itself. */
export function externalInputs(group: readonly Tensor[]): Tensor[] {
  const inside = new Set(group.map((t) => t.id));
  const seen = new Set<number>();
  const out: Tensor[] = [];
  for (const t of group) {
    for (const x of t.inputs) {
      if (!inside.has(x.id) && !seen.has(x.id)) {
        seen.add(x.id);
        out.push(x);
      }
    }
  }
  return out;
}

/** The fused program of a group (its nodes in id order, the root last), with the tensors it reads. */
export function fusedProgram(
  group: readonly Tensor[],
): { program: FusedProgram; reads: Tensor[] } {
  const root = group[group.length - 1];
  const position = new Map(group.map((t, i) => [t.id, i]));
  const scalar = new Set<number>();
  // Contexts flow from readers to what they read: walk from the root down.
  for (let i = group.length - 1; i >= 0; i--) {
    const node = group[i];
    const inScalar = node !== root && (scalar.has(node.id) || node.size === 1 && root.size !== 1);
    if (inScalar) scalar.add(node.id);
    elementwiseLayout(node).forEach((layout, j) => {
      const x = node.inputs[j];
      if (position.has(x.id) && (inScalar || layout.access === "scalar")) scalar.add(x.id);
    });
  }
  const inputs: FusedInput[] = [];
  const reads: Tensor[] = [];
  const inputKey = new Map<string, number>();
  const nodes = group.map((node) => {
    const layouts = elementwiseLayout(node);
    const args = node.inputs.map((x, j): FusedArg => {
      const at = position.get(x.id);
      if (at !== undefined) return { kind: "node", index: at };
      const access: Access = scalar.has(node.id) ? "scalar" : layouts[j].access;
      const strides = access === "strided" ? layouts[j].strides : [];
      const key = `${x.id}:${access}:${strides.join(",")}`;
      let index = inputKey.get(key);
      if (index === undefined) {
        index = inputs.length;
        inputs.push({ access, strides });
        reads.push(x);
        inputKey.set(key, index);
      }
      return { kind: "input", index };
    });
    const expr = elementwiseExpr(node.op)(...node.inputs.map((_, i) => E.arg(i)));
    return { expr, args };
  });
  return { program: { inputs, nodes }, reads };
}
