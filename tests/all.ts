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
 * Mesa's on-disk shader cache adds a thread of its own (it writes compiled shaders in the
 * background), which Mesa's exit handler stops while the others run: a core dump of a crashed run
 * showed a thread freeing its thread-specific data twice as it ended during the exit handlers, and
 * with the cache off a subset of the WebGPU tests that crashed 3 times in 36 runs did not crash in
 * 24. So the tests (and the commands they start, which inherit the environment) run without it:
 * every shader is compiled again in each process, which a fresh machine does anyway.
 */
Deno.env.set("MESA_SHADER_CACHE_DISABLE", "true");

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
