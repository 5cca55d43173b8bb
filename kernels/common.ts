/** Helpers shared by the WGSL kernel generators. */

/** Invocations per workgroup of the one-thread-per-element kernels. */
export const LINEAR_WORKGROUP = 256;

/** The largest workgroup count WebGPU allows in one dimension. */
export const MAX_WORKGROUPS_PER_DIMENSION = 65535;

/** Workgroup counts covering `count` invocations of `workgroupSize`, folded into y past the limit. */
export function linearWorkgroups(
  count: number,
  workgroupSize: number = LINEAR_WORKGROUP,
): [number, number, number] {
  const groups = Math.max(1, Math.ceil(count / workgroupSize));
  if (groups <= MAX_WORKGROUPS_PER_DIMENSION) return [groups, 1, 1];
  const y = Math.ceil(groups / MAX_WORKGROUPS_PER_DIMENSION);
  return [Math.ceil(groups / y), y, 1];
}

/**
 * WGSL for the flat index of this invocation in a {@link linearWorkgroups} dispatch, as `let i`.
 * The entry point must declare `wid`, `nwg` and `lid` builtins as in {@link LINEAR_ENTRY_PARAMS}.
 */
export function linearIndex(workgroupSize: number = LINEAR_WORKGROUP): string {
  return `let i = (wid.y * nwg.x + wid.x) * ${workgroupSize}u + lid;`;
}

/** The builtin parameters {@link linearIndex} reads. */
export const LINEAR_ENTRY_PARAMS =
  "@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, " +
  "@builtin(local_invocation_index) lid: u32";
