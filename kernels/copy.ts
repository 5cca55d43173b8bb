/**
 * A copy that happens only when a guard value is positive: how a WebGPU run applies variable updates
 * that a guard may veto (a copy command cannot be made conditional on data without a readback).
 */
import { LINEAR_ENTRY_PARAMS, linearIndex } from "./common.ts";

/** Copies `src` to `dst` (p.size elements) when `guard[0] > 0`. */
export const GUARDED_COPY_SHADER = `
struct Params { size: u32, pad0: u32, pad1: u32, pad2: u32 }
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> guard: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(${LINEAR_ENTRY_PARAMS}) {
  ${linearIndex()}
  if (i >= p.size || !(guard[0] > 0.0)) { return; }
  dst[i] = src[i];
}
`;
