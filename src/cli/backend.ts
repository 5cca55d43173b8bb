/**
 * The backend a command opens: {@link createBackend}, with Mesa's Vulkan device-selection layer
 * kept quiet where it can only complain.
 *
 * That layer comes with Mesa's Vulkan drivers (lavapipe, which wgpu finds on machines without a
 * GPU) and, outside a desktop session, writes "XDG_RUNTIME_DIR is invalid or not set in the
 * environment" twice to stderr whenever WebGPU is opened, which reads like an error of the command.
 * Without XDG_RUNTIME_DIR there is no display whose GPU it could choose, so the commands turn it
 * off with its own switch (NODEVICE_SELECT) unless the user set that, or chose a device for it
 * (MESA_VK_DEVICE_SELECT). The library itself leaves the environment alone.
 */
import type { Backend } from "../backend/backend.ts";
import { type BackendOptions, createBackend } from "../backend/create.ts";

/** {@link createBackend} for a command (see the module's note). */
export function openBackend(options: BackendOptions): Promise<Backend> {
  const env = Deno.env;
  if (
    env.get("XDG_RUNTIME_DIR") === undefined && env.get("NODEVICE_SELECT") === undefined &&
    env.get("MESA_VK_DEVICE_SELECT") === undefined
  ) {
    env.set("NODEVICE_SELECT", "1");
  }
  return createBackend(options);
}
