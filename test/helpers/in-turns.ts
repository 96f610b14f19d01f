// A bounded pool for tests that run many independent steps (each mostly a Wireshark tool starting
// up): `width` at a time keeps the cores busy without starting them all at once.

/** `work` on every item, `width` at a time; the results in the items' order. */
export async function inTurns<T, R>(
  items: readonly T[],
  width: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) results[i] = await work(items[i] as T);
  };
  await Promise.all(Array.from({ length: width }, worker));
  return results;
}
