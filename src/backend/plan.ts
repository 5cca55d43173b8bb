/**
 * The backend-independent half of compiling: which nodes to compute and in what order, and which
 * storage slot holds each value. Temporary slots are reused once their last reader has run, so a
 * training step needs a few buffers rather than one per node.
 */
import { MagnetInputError, ShapeError } from "../errors.ts";
import { opDefinition } from "../graph/ops.ts";
import { type DType, formatShape, type Tensor, type Variable } from "../graph/tensor.ts";
import type { CompileRequest, Feeds, Update } from "./backend.ts";
import { externalInputs, fuseElementwise } from "./fusion.ts";
import { storageBase } from "./layout.ts";
import { type ConvolutionFilter, fuseConvolutions, type PoolingFilter } from "./conv_fusion.ts";

/** Where a value lives. */
export interface Slot {
  /** Position in {@link Plan.slots}. */
  readonly index: number;
  /** Capacity in elements (the largest tensor it holds). */
  size: number;
  readonly dtype: DType;
  /** temp: reused between nodes; input: written by each run's feeds; constant: uploaded once. */
  readonly role: "temp" | "input" | "constant" | "variable";
  /** The input or constant node of an input or constant slot. */
  readonly source?: Tensor;
  /** The values of a constant slot. */
  readonly data?: Float64Array;
  /** The variable of a variable slot. */
  readonly variable?: Variable;
}

/** Fed int32 indices that must lie in [0, bound) because an op indexes with them. */
export interface IndexCheck {
  readonly input: Tensor;
  readonly bound: number;
  readonly op: string;
}

/** The compiled order and storage of a request. */
export interface Plan {
  /** Nodes to compute, in order: no sources and no views. */
  readonly steps: readonly Tensor[];
  readonly slots: readonly Slot[];
  /** The slot holding each needed tensor (views share their base's slot), by tensor id. */
  readonly slotOf: ReadonlyMap<number, Slot>;
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  readonly updates: readonly Update[];
  /** The scalar that decides whether the updates apply (see {@link CompileRequest.guard}). */
  readonly guard: Tensor | null;
  readonly indexChecks: readonly IndexCheck[];
  /**
   * With fusion: for each step, the elementwise nodes it computes (in order, itself last); their
   * intermediate values get no storage. Null without fusion (every step computes only itself).
   */
  readonly groups: ReadonlyMap<number, readonly Tensor[]> | null;
}

/** Options of {@link makePlan}. */
export interface PlanOptions {
  /** Fuse chains of elementwise nodes into single steps (see fusion.ts). Default false. */
  readonly fuse?: boolean;
  /**
   * With `fuse`: the convolutions to run as single kernels (see conv_fusion.ts); by default none,
   * every convolution runs as its composition.
   */
  readonly convolution?: ConvolutionFilter;
  /** With `fuse`: the poolings to run as single kernels (see conv_fusion.ts); by default none. */
  readonly pooling?: PoolingFilter;
}

/** Plans `request`: finds the needed nodes, orders them, and assigns slots with reuse. */
export function makePlan(request: CompileRequest, options: PlanOptions = {}): Plan {
  const outputs = request.outputs ?? [];
  const updates = request.updates ?? [];
  const guard = request.guard ?? null;
  if (guard !== null && (guard.size !== 1 || guard.dtype !== "float")) {
    throw new ShapeError("compile", `the update guard must be a float scalar, got ${guard}`);
  }
  const roots = [...outputs, ...updates.map(([, t]) => t), ...(guard === null ? [] : [guard])];
  if (roots.length === 0) {
    throw new ShapeError("compile", "nothing to compute: no outputs or updates");
  }
  const graph = roots[0].graph;
  for (const t of roots) {
    if (t.graph !== graph) throw new ShapeError("compile", `${t} belongs to another graph`);
  }
  for (const [v, t] of updates) {
    if (t.dtype !== "float" || t.size !== v.size) {
      throw new ShapeError(
        "compile",
        `update of variable "${v.name}" ${formatShape(v.shape)} from ${t} has the wrong size`,
      );
    }
  }

  // Needed nodes, in id (topological) order.
  const needed = new Uint8Array(graph.nodes.length);
  const stack = roots.map((t) => t.id);
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (needed[id]) continue;
    needed[id] = 1;
    for (const input of graph.nodes[id].inputs) stack.push(input.id);
  }
  const nodes = graph.nodes.filter((t) => needed[t.id]);

  // Last step reading each base; outputs and update sources live to the end.
  const computed = nodes.filter((t) => {
    const kind = opDefinition(t.op).kind;
    return kind !== "source" && kind !== "view";
  });
  let groups: Map<number, Tensor[]> | null = null;
  let steps = computed;
  if (options.fuse) {
    const pinned = new Set(roots.map((t) => storageBase(t).id));
    const convs = options.convolution === undefined && options.pooling === undefined
      ? null
      : fuseConvolutions(
        computed,
        nodes,
        pinned,
        options.convolution ?? (() => false),
        options.pooling,
      );
    const remaining = convs === null ? computed : computed.filter((t) => !convs.absorbed.has(t.id));
    groups = fuseElementwise(remaining, nodes, pinned);
    for (const [id, group] of convs?.groups ?? []) groups.set(id, group);
    steps = remaining.filter((t) => groups!.has(t.id));
  }
  const reads = (t: Tensor) => (groups === null ? t.inputs : externalInputs(groups.get(t.id)!));
  const lastUse = new Map<number, number>();
  steps.forEach((t, i) => {
    for (const input of reads(t)) lastUse.set(storageBase(input).id, i);
  });
  for (const t of roots) lastUse.set(storageBase(t).id, Infinity);

  const slots: Slot[] = [];
  const slotOf = new Map<number, Slot>();
  const newSlot = (size: number, dtype: DType, role: Slot["role"], extra: Partial<Slot> = {}) => {
    const slot: Slot = { index: slots.length, size, dtype, role, ...extra };
    slots.push(slot);
    return slot;
  };
  const inputs: Tensor[] = [];
  const variableSlots = new Map<Variable, Slot>();
  for (const t of nodes) {
    const spec = t.spec;
    if (spec.op === "input") {
      inputs.push(t);
      slotOf.set(t.id, newSlot(t.size, t.dtype, "input", { source: t }));
    } else if (spec.op === "constant") {
      slotOf.set(t.id, newSlot(t.size, t.dtype, "constant", { source: t, data: spec.data }));
    } else if (spec.op === "variable") {
      const v = spec.variable;
      let slot = variableSlots.get(v);
      if (slot === undefined) {
        slot = newSlot(v.size, "float", "variable", { variable: v });
        variableSlots.set(v, slot);
      }
      slotOf.set(t.id, slot);
    }
  }
  for (const [v] of updates) {
    if (!variableSlots.has(v)) {
      variableSlots.set(v, newSlot(v.size, "float", "variable", { variable: v }));
    }
  }

  // Temporary slots: best fit among free ones of the same dtype (capacity within 2x), else a new one.
  const free: Slot[] = [];
  const releaseAfter = new Map<number, Slot[]>();
  steps.forEach((t, i) => {
    let best = -1;
    for (let j = 0; j < free.length; j++) {
      const s = free[j];
      if (s.dtype !== t.dtype || s.size > 2 * t.size + 64) continue;
      if (best < 0 || Math.abs(s.size - t.size) < Math.abs(free[best].size - t.size)) best = j;
    }
    let slot: Slot;
    if (best >= 0) {
      slot = free.splice(best, 1)[0];
      slot.size = Math.max(slot.size, t.size);
    } else {
      slot = newSlot(t.size, t.dtype, "temp");
    }
    slotOf.set(t.id, slot);
    const last = lastUse.get(t.id) ?? i; // a value nobody reads is freed right away
    if (last !== Infinity) {
      const list = releaseAfter.get(last) ?? [];
      list.push(slot);
      releaseAfter.set(last, list);
    }
    for (const s of releaseAfter.get(i) ?? []) free.push(s);
  });
  for (const t of nodes) {
    const base = slotOf.get(storageBase(t).id);
    if (!slotOf.has(t.id) && base !== undefined) slotOf.set(t.id, base); // fused-away nodes have none
  }

  const indexChecks: IndexCheck[] = [];
  for (const t of steps) {
    const spec = t.spec;
    if (spec.op !== "gather" && spec.op !== "segmentSum") continue;
    const indices = storageBase(t.inputs[1]);
    const bound = spec.op === "gather" ? t.inputs[0].shape[0] : spec.numSegments;
    const source = indices.spec;
    if (source.op === "input") indexChecks.push({ input: indices, bound, op: spec.op });
    if (source.op === "constant") {
      checkIndexValues(source.data, bound, spec.op, `constant ${indices}`);
    }
  }
  return { steps, slots, slotOf, inputs, outputs, updates, guard, indexChecks, groups };
}

function checkIndexValues(values: ArrayLike<number>, bound: number, op: string, what: string) {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= 0 && v < bound)) {
      throw new MagnetInputError(
        `${op}: ${what} has index ${v} at position ${i}, outside [0, ${bound})`,
      );
    }
  }
}

/**
 * Checks `feeds` against the plan's inputs (every input fed, right length, integers for int32 inputs,
 * indices in range) and returns each input's data, in plan order.
 */
export function checkFeeds(plan: Plan, feeds: Feeds): ArrayLike<number>[] {
  const missing = plan.inputs.filter((t) => !(t.name! in feeds));
  if (missing.length > 0) {
    throw new MagnetInputError(
      `missing feeds for input(s) ${
        missing.map((t) => `"${t.name}" ${formatShape(t.shape)}`).join(", ")
      }`,
    );
  }
  const data = plan.inputs.map((t) => {
    const values = feeds[t.name!];
    if (values.length !== t.size) {
      throw new MagnetInputError(
        `input "${t.name}" needs ${t.size} values for shape ${
          formatShape(t.shape)
        }, got ${values.length}`,
      );
    }
    if (t.dtype === "int32" && !(values instanceof Int32Array)) {
      for (let i = 0; i < values.length; i++) {
        if (!Number.isInteger(values[i])) {
          throw new MagnetInputError(
            `input "${t.name}" is int32 but holds ${values[i]} at position ${i}`,
          );
        }
      }
    }
    return values;
  });
  for (const check of plan.indexChecks) {
    checkIndexValues(
      feeds[check.input.name!],
      check.bound,
      check.op,
      `input "${check.input.name}"`,
    );
  }
  return data;
}
