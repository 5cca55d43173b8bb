/**
 * Whether a plan fits its device, checked before anything is allocated: no tensor beyond the
 * largest buffer the device has, and no more memory than it has left. A refusal names the tensor
 * by its layer (see `Graph.inLayer`) and its size, so a model too large for the device is one clear
 * sentence rather than an allocation failure after minutes, and the backend keeps working.
 */
import { TooLargeError } from "../errors.ts";
import { formatShape, type Tensor, type Variable } from "../graph/tensor.ts";
import type { DeviceLimits, Precision } from "./backend.ts";
import type { Plan } from "./plan.ts";
import { storageBase } from "./layout.ts";

/** Bytes in words: "1.50 GiB", "96.0 MiB", "512 KiB". */
export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${Math.ceil(bytes / 1024)} KiB`;
}

/** What a tensor is, for a person: its layer, what the op makes, and its shape. */
export function describeTensor(t: Tensor): string {
  const spec = t.spec;
  const what = spec.op === "variable"
    ? `variable "${spec.variable.name}"`
    : spec.op === "input"
    ? `input "${spec.name}"`
    : spec.op === "patches"
    ? "image windows"
    : spec.op === "unpatches"
    ? "gradient of its image windows"
    : spec.op === "matmul"
    ? "matrix product"
    : `${spec.op} result`;
  return `${t.layer === undefined ? "" : `${t.layer}: `}${what} ${formatShape(t.shape)}`;
}

/**
 * Throws a {@link TooLargeError} unless every tensor of `plan` with storage fits one buffer of the
 * device and everything it would allocate (its slots, and the variables not yet on the device)
 * fits in what the device has left.
 */
export function checkCapacity(
  plan: Plan,
  limits: DeviceLimits,
  precision: Precision,
  onDevice: (v: Variable) => boolean,
): void {
  const bytesPer = (
    t: { dtype: string },
  ) => (t.dtype === "float" && precision === "float64" ? 8 : 4);
  // Every tensor with storage of its own (views share their base's).
  const root = plan.outputs[0] ?? plan.updates[0]?.[1] ?? plan.guard;
  const stored = root === undefined || root === null
    ? []
    : [...plan.slotOf.keys()].map((id) => root.graph.nodes[id]).filter((t) => storageBase(t) === t);
  let largest: Tensor | null = null;
  for (const t of stored) {
    if (largest === null || t.size * bytesPer(t) > largest.size * bytesPer(largest)) largest = t;
    const bytes = t.size * bytesPer(t);
    if (bytes > limits.maxBufferBytes) {
      throw new TooLargeError(
        bytes,
        limits.maxBufferBytes,
        `${describeTensor(t)} would take ${formatBytes(bytes)}, more than the largest buffer ` +
          `this device holds (${formatBytes(limits.maxBufferBytes)}): make that layer smaller or ` +
          "the batch (--m x --d) smaller",
      );
    }
  }
  let total = 0;
  for (const slot of plan.slots) {
    if (slot.role === "variable" && onDevice(slot.variable!)) continue;
    total += slot.size * bytesPer(slot);
  }
  if (total > limits.availableBytes) {
    throw new TooLargeError(
      total,
      limits.availableBytes,
      `this graph needs ${formatBytes(total)} of device memory, but only ` +
        `${formatBytes(limits.availableBytes)} are left${
          largest === null ? "" : ` (its largest tensor: ${describeTensor(largest)})`
        }: use a smaller model or batch (--m x --d)`,
    );
  }
}
