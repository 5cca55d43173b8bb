/** Running an async function over many items, a bounded number at a time. */

/** `f` of every item, at most `limit` at once, results in order; the first failure stops it. */
export async function mapLimited<T, U>(
  items: readonly T[],
  limit: number,
  f: (item: T, index: number) => Promise<U>,
): Promise<U[]> {
  const out = new Array<U>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = await f(items[i], i);
      } catch (error) {
        next = items.length; // the others stop after their current item
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
