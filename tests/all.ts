/**
 * The entry of `deno task test`: every `*_test.ts` under tests/, imported into one isolate.
 *
 * `deno test tests/` gives each file its own isolate on its own worker thread, and every isolate
 * that opens WebGPU makes its own wgpu instance. On the GL backend (Mesa llvmpipe through glvnd's
 * libEGL) each of those threads keeps an EGL thread state. At exit the threads end while libEGL's
 * destructor frees every thread state without waiting for them, so a state can be freed twice:
 * "corrupted size vs. prev_size" or "double free" and exit code 134 after every test passed. In one
 * isolate the WebGPU work runs on one thread.
 *
 * With Mesa installed, wgpu finds llvmpipe twice: through GL (glvnd's libEGL) and, when Mesa's
 * Vulkan driver lavapipe is installed (Debian's mesa-vulkan-drivers), through Vulkan. Even on one
 * thread the GL path crashed at exit now and then (a core dump: the main thread in the libraries'
 * exit handlers while another thread, ending, freed its thread-specific data twice), and Mesa's
 * on-disk shader cache made it likelier: a WebGPU subset crashed 3 times in 36 runs with it and not
 * in 24 without it. Through Vulkan libEGL is never loaded and the same subset ran 40 times without a
 * crash with the cache on. So where lavapipe is installed (`.ci/run` installs it) the tests and the
 * commands they start (which inherit the environment) use Vulkan with the cache; otherwise they use
 * GL without the cache, which is slower (every process compiles its shaders again) but safe.
 */
const lavapipe = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"].some((dir) => {
  try {
    return [...Deno.readDirSync(dir)].some((entry) => entry.name.startsWith("lvp_icd."));
  } catch {
    return false;
  }
});
if (Deno.env.get("DENO_WEBGPU_BACKEND") === undefined && lavapipe) {
  Deno.env.set("DENO_WEBGPU_BACKEND", "vulkan");
}
// Mesa's device-selection layer (installed with lavapipe) writes "XDG_RUNTIME_DIR is invalid or not
// set" to stderr where there is no desktop session; the tests read stderr line by line. Its own
// switch turns it off: with one adapter there is nothing to select.
if (Deno.env.get("DENO_WEBGPU_BACKEND") === "vulkan") Deno.env.set("NODEVICE_SELECT", "1");
if (Deno.env.get("DENO_WEBGPU_BACKEND") !== "vulkan") {
  Deno.env.set("MESA_SHADER_CACHE_DISABLE", "true");
}

async function testFiles(dir: URL): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) found.push(...await testFiles(url));
    else if (entry.isFile && entry.name.endsWith("_test.ts")) found.push(url.href);
  }
  return found.sort();
}

for (const file of await testFiles(new URL("./", import.meta.url))) await import(file);
