/**
 * The entry of `deno task test`: every `*_test.ts` under tests/, imported into one isolate.
 *
 * `deno test tests/` gives each file its own isolate on its own worker thread, and every isolate
 * that opens WebGPU makes its own wgpu instance. On the GL backend (Mesa llvmpipe through glvnd's
 * libEGL) each of those threads keeps an EGL thread state. At exit the threads end while libEGL's
 * destructor frees every thread state without waiting for them, so a state can be freed twice:
 * "corrupted size vs. prev_size" or "double free" and exit code 134 after every test passed. In one
 * isolate the WebGPU work runs on one thread.
 */
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
