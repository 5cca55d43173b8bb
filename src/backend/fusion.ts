/**
 * Elementwise fusion: a chain of elementwise nodes whose intermediate values have a single reader
 * becomes one kernel that computes the chain per output element, so a backend whose cost is per
 * dispatch (WebGPU) runs far fewer of them and stores no intermediates.
 *
 * A node joins its reader's group when it is elementwise, is read only by that reader (and is no
 * output or update source), and is read either element for element (as many elements as the
 * group's output, read in full, possibly through reshapes that only it reads) or as a scalar
 * (size 1, then computed from element 0 of its inputs).
 */
import { elementwiseExpr, opDefinition } from "../graph/ops.ts";
import { E, type NumExpr } from "../graph/expr.ts";
import type { Tensor } from "../graph/tensor.ts";
import { type Access, elementwiseLayout, stridesOver } from "./layout.ts";

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
          const x = memberBehindViews(n.inputs[k], (t) => context.has(t.id));
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
        const x = elementwiseBehindViews(node.inputs[j], readers);
        if (
          x === null || context.has(x.id) || !stepIds.has(x.id) || pinned.has(x.id) ||
          readers.get(x.id) !== 1 || x.dtype !== "float"
        ) return;
        // A full read by a member read in full is the root's own flat index, through reshapes
        // too (a view changes no element's place).
        let childContext: "full" | "scalar";
        if (nodeContext === "scalar" || layout.access === "scalar") childContext = "scalar";
        else if (layout.access === "full" && x.size === root.size && addressable(x, root)) {
          childContext = "full";
        } else return;
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

/**
 * Whether a node read in full by a group can be computed at the group's output coordinates: its
 * strided (broadcast, permuted) inputs are addressed through the output's shape, so their strides
 * must carry over to it (always, when the shapes agree; through a reshape, when it only splits).
 */
function addressable(x: Tensor, root: Tensor): boolean {
  return elementwiseLayout(x).every((l) =>
    l.access !== "strided" || stridesOver(x.shape, l.strides, root.shape) !== null
  );
}

/**
 * The elementwise node `x` stands for: `x` itself, or the node under a chain of reshapes each read
 * by one reader only (a view changes no element's place). Null when there is none.
 */
function elementwiseBehindViews(x: Tensor, readers: ReadonlyMap<number, number>): Tensor | null {
  while (x.op === "reshape" && readers.get(x.id) === 1) x = x.inputs[0];
  return isElementwise(x) ? x : null;
}

/** The tensor inside a group that an input `x` of a member reads: `x`, or what its views show. */
function memberBehindViews(x: Tensor, inside: (t: Tensor) => boolean): Tensor {
  let t = x;
  while (t.op === "reshape" && !inside(t)) t = t.inputs[0];
  return inside(t) ? t : x;
}

/** The tensors a group reads from outside itself. */
export function externalInputs(group: readonly Tensor[]): Tensor[] {
  const ids = new Set(group.map((t) => t.id));
  const inside = (t: Tensor) => ids.has(t.id);
  const seen = new Set<number>();
  const out: Tensor[] = [];
  for (const t of group) {
    for (const input of t.inputs) {
      const x = memberBehindViews(input, inside);
      if (!inside(x) && !seen.has(x.id)) {
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
  const member = (x: Tensor) => memberBehindViews(x, (t) => position.has(t.id));
  const scalar = new Set<number>();
  // Contexts flow from readers to what they read: walk from the root down.
  for (let i = group.length - 1; i >= 0; i--) {
    const node = group[i];
    const inScalar = node !== root && (scalar.has(node.id) || node.size === 1 && root.size !== 1);
    if (inScalar) scalar.add(node.id);
    elementwiseLayout(node).forEach((layout, j) => {
      const x = member(node.inputs[j]);
      if (position.has(x.id) && (inScalar || layout.access === "scalar")) scalar.add(x.id);
    });
  }
  const inputs: FusedInput[] = [];
  const reads: Tensor[] = [];
  const inputKey = new Map<string, number>();
  const nodes = group.map((node) => {
    const layouts = elementwiseLayout(node);
    const args = node.inputs.map((input, j): FusedArg => {
      const x = member(input);
      const at = position.get(x.id);
      if (at !== undefined) return { kind: "node", index: at };
      const access: Access = scalar.has(node.id) ? "scalar" : layouts[j].access;
      // Strides over the node's shape, carried over to the output's (the same when they agree).
      const strides = access === "strided"
        ? stridesOver(node.shape, layouts[j].strides, root.shape)!
        : [];
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
