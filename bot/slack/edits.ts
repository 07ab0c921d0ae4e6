/**
 * Serialises the edits of each Slack message. Slack applies `chat.update` calls in the order they arrive, and the
 * Web API client retries a rate-limited call after its Retry-After on its own: without a queue, a progress edit
 * refused with 429 lands after the result and puts a progress bar back over a finished clip.
 */
export interface MessageEdits {
  /**
   * Runs `edit` once every earlier edit of `key` has settled. A `supersedable` edit (progress, "queued") is skipped
   * when a newer edit of the same message was queued before its turn came, or when `stale()` says it no longer
   * applies; a final edit (the result) is never skipped. Rejects with the edit's own error.
   */
  edit(
    key: string,
    edit: () => Promise<unknown>,
    options?: { supersedable?: boolean; stale?: () => boolean },
  ): Promise<void>;
}

export function createMessageEdits(): MessageEdits {
  const tails = new Map<string, Promise<void>>();
  const newest = new Map<string, number>();
  let counter = 0;
  return {
    edit(key, edit, options = {}) {
      const mine = ++counter;
      newest.set(key, mine);
      const run = async () => {
        if (options.supersedable === true && (newest.get(key) !== mine || options.stale?.() === true)) return;
        await edit();
      };
      const result = (tails.get(key) ?? Promise.resolve()).then(run);
      const tail = result.catch(() => undefined);
      tails.set(key, tail);
      void tail.then(() => {
        // The last edit of a message forgets it, so the maps hold only messages with edits in flight.
        if (tails.get(key) !== tail) return;
        tails.delete(key);
        newest.delete(key);
      });
      return result;
    },
  };
}
