/**
 * Group commit: calls that arrive while a batch is in the database wait and go together in the next one, so a burst
 * of N calls costs a handful of transactions instead of N. SQLite's one connection (and the write lock, on PostgreSQL
 * the workspace row lock) serialised every reservation; each caller then waited for all the transactions ahead of it,
 * and at 200 concurrent submits every answer took seconds (docs/benchmarks.md, service).
 *
 * A call alone waits for nothing but one `setImmediate` (the calls of the same turn of the event loop join it).
 * `run` answers each item on its own: an error for one item (`Error` in its slot) does not fail the others; a throw
 * from `run` fails the whole batch.
 */
export function groupCommit<TItem, TResult>(
  run: (items: readonly TItem[]) => Promise<(TResult | Error)[]>,
  options: { maxBatch?: number } = {},
): (item: TItem) => Promise<TResult> {
  const maxBatch = options.maxBatch ?? 500;
  let waiting: { item: TItem; resolve: (value: TResult) => void; reject: (error: unknown) => void }[] = [];
  let draining = false;

  const drain = async () => {
    while (waiting.length > 0) {
      const batch = waiting.slice(0, maxBatch);
      waiting = waiting.slice(maxBatch);
      try {
        const results = await run(batch.map((entry) => entry.item));
        for (const [i, entry] of batch.entries()) {
          const result = results[i] as TResult | Error;
          if (result instanceof Error) entry.reject(result);
          else entry.resolve(result);
        }
      } catch (error) {
        for (const entry of batch) entry.reject(error);
      }
    }
    draining = false;
  };

  return (item) =>
    new Promise<TResult>((resolve, reject) => {
      waiting.push({ item, resolve, reject });
      if (draining) return;
      draining = true;
      setImmediate(() => void drain());
    });
}
