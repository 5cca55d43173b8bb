/**
 * Convolutions as single kernels, where the device asks for them: a convolution is composed of
 * image windows and a product (conv.ts in the graph), and its gradients of a product with the
 * windows (the kernel's) and of the windows' adjoint of a product (the image's). A device that
 * computes some convolutions directly says which (Device.directConvolution); this pass finds the
 * three compositions in a plan and makes each one step reading the composition's own inputs. The
 * composed graph stays the reference: every other device, and every convolution a device declines
 * (other geometries, dilations, groups), runs the composition.
 *
 *   forward  matmul(patches(x), W)               reads x, W
 *   filter   matmul(patches(x), dY, transposeA)  reads x, dY
 *   data     unpatches(matmul(dY, W, transposeB)) reads dY, W
 *
 * Poolings likewise: a sum or max of windows along their taps (pooling.ts and conv.ts in the
 * graph), reading x, when the device computes that shape itself (Device.directPooling).
 *
 * The windows are then computed only if something else reads them (in training, the gradient of
 * a max pooling reads them, so there they stay).
 */
import type { Tensor } from "../graph/tensor.ts";
import { opDefinition } from "../graph/ops.ts";
import type { ConvShape, PoolShape } from "./kernel.ts";
import { reductionExtents, storageBase } from "./layout.ts";

/** A device's answer to whether it computes a convolution of this shape itself. */
export type ConvolutionFilter = (shape: ConvShape) => boolean;

/** A device's answer to whether it computes a pooling of this shape itself. */
export type PoolingFilter = (shape: PoolShape) => boolean;

/** The pooling a fused group computes (the windows, then the reduction), or null. */
export function poolingOf(node: Tensor, group: readonly Tensor[]): PoolShape | null {
  if (group.length !== 2 || group[1] !== node) return null;
  const spec = node.spec, windows = group[0], inner = windows.spec;
  if ((spec.op !== "max" && spec.op !== "sum") || inner.op !== "patches") return null;
  if (storageBase(node.inputs[0]) !== windows) return null;
  const [n, , , c] = windows.inputs[0].shape;
  const [outer, length, along] = reductionExtents(node.inputs[0], spec.axis);
  // The reduction must run along the taps of each window, channel by channel.
  if (outer !== windows.shape[0] || length !== inner.kh * inner.kw || along !== c) return null;
  return { ...geometry(inner), op: spec.op, n, c };
}

/** The convolution a fused group computes, or null when the group is no convolution. */
export function convolutionOf(node: Tensor, group: readonly Tensor[]): ConvShape | null {
  if (group.length !== 2) return null;
  const [first, root] = group;
  if (root !== node) return null;
  const spec = root.spec, inner = first.spec;
  if (spec.op === "matmul" && inner.op === "patches" && root.inputs[0] === first) {
    const [n, , , cin] = first.inputs[0].shape;
    const mode = spec.transposeA ? "filter" : "forward";
    return { ...geometry(inner), mode, n, cin, cout: root.shape[1] };
  }
  if (spec.op === "unpatches" && inner.op === "matmul" && root.inputs[0] === first) {
    const [n, , , cin] = root.shape;
    return { ...geometry(spec), mode: "data", n, cin, cout: first.inputs[0].shape[1] };
  }
  return null;
}

function geometry(spec: Tensor["spec"]): Omit<ConvShape, "mode" | "n" | "cin" | "cout"> {
  if (spec.op !== "patches" && spec.op !== "unpatches") {
    throw new Error(`${spec.op} has no windows`);
  }
  const { height, width, kh, kw, stride, padTop, padLeft, outHeight, outWidth } = spec;
  return { height, width, kh, kw, stride, padTop, padLeft, outHeight, outWidth };
}

/**
 * The convolutions among `steps` that `accepts` takes: each as a group (the fused nodes, the step
 * last) keyed by the step's id, and the ids of the nodes no longer computed on their own.
 * `nodes` are all the plan's nodes (to count readers); `pinned` ids must stay stored.
 */
export function fuseConvolutions(
  steps: readonly Tensor[],
  nodes: readonly Tensor[],
  pinned: ReadonlySet<number>,
  accepts: ConvolutionFilter,
  acceptsPooling: PoolingFilter = () => false,
): { groups: Map<number, Tensor[]>; absorbed: Set<number> } {
  const readers = new Map<number, Tensor[]>();
  for (const t of nodes) {
    for (const x of t.inputs) readers.set(x.id, [...(readers.get(x.id) ?? []), t]);
  }
  const groups = new Map<number, Tensor[]>();
  const absorbed = new Set<number>();
  for (const t of steps) {
    const spec = t.spec;
    if (spec.op === "matmul" && !spec.transposeB && t.inputs[0].op === "patches") {
      const group = [t.inputs[0], t];
      const shape = convolutionOf(t, group);
      if (shape !== null && accepts(shape)) groups.set(t.id, group);
    }
    if (spec.op === "max" || spec.op === "sum") {
      const windows = storageBase(t.inputs[0]);
      if (windows.op === "patches") {
        const group = [windows, t];
        const shape = poolingOf(t, group);
        if (shape !== null && acceptsPooling(shape)) groups.set(t.id, group);
      }
    }
    if (spec.op === "unpatches") {
      const product = t.inputs[0];
      const p = product.spec;
      if (
        p.op === "matmul" && !p.transposeA && p.transposeB && !pinned.has(product.id) &&
        readers.get(product.id)?.length === 1
      ) {
        const group = [product, t];
        if (accepts(convolutionOf(t, group)!)) {
          groups.set(t.id, group);
          absorbed.add(product.id);
        }
      }
    }
  }
  // Windows every reader of which (through views) computes them itself need no step of their own.
  const computedReaders = (t: Tensor): Tensor[] | null => {
    const out: Tensor[] = [];
    for (const r of readers.get(t.id) ?? []) {
      if (opDefinition(r.op).kind !== "view") out.push(r);
      else if (pinned.has(r.id)) return null;
      else {
        const further = computedReaders(r);
        if (further === null) return null;
        out.push(...further);
      }
    }
    return out;
  };
  for (const t of steps) {
    if (t.op !== "patches" || pinned.has(t.id)) continue;
    const own = computedReaders(t);
    if (own !== null && own.length > 0 && own.every((r) => groups.get(r.id)?.[0] === t)) {
      absorbed.add(t.id);
    }
  }
  return { groups, absorbed };
}
