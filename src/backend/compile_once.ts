/**
 * Compiled executables kept per backend, so a graph built for a shape is compiled once however often
 * it runs. A scope object (a model, or a module's own token) keeps unrelated users' keys apart and
 * lets entries go with it; a failed compile is not kept, so the next call reports its own error.
 */
import type { Backend } from "./backend.ts";

const caches = new WeakMap<Backend, WeakMap<object, Map<string, Promise<unknown>>>>();

/** The value `build` gives for (backend, scope, key), building it on first request. */
export function compileOnce<T>(
  backend: Backend,
  scope: object,
  key: string,
  build: () => Promise<T>,
): Promise<T> {
  let byScope = caches.get(backend);
  if (byScope === undefined) caches.set(backend, byScope = new WeakMap());
  let byKey = byScope.get(scope);
  if (byKey === undefined) byScope.set(scope, byKey = new Map());
  let value = byKey.get(key) as Promise<T> | undefined;
  if (value === undefined) {
    value = build();
    value.catch(() => byKey!.delete(key));
    byKey.set(key, value);
  }
  return value;
}

/**
 * Forgets every entry of `scope` on `backend` and disposes those that can be (a compiled graph, or
 * an entry holding one as `executable`), so their device memory is free now.
 */
export async function releaseScope(backend: Backend, scope: object): Promise<void> {
  const byKey = caches.get(backend)?.get(scope);
  if (byKey === undefined) return;
  caches.get(backend)!.delete(scope);
  for (const pending of byKey.values()) {
    const value = await pending.catch(() => null) as
      | { dispose?: () => void; executable?: { dispose?: () => void } }
      | null;
    value?.dispose?.();
    value?.executable?.dispose?.();
  }
}
