import { describe, expect, it } from 'vitest';
import { groupCommit } from '../../prisma/group-commit.ts';

/** A batch runner that records each batch and answers when `release` is called (or at once). */
function recorder(answer: (item: number) => number | Error = (item) => item * 10) {
  const batches: number[][] = [];
  const held: (() => void)[] = [];
  let hold = false;
  const run = async (items: readonly number[]) => {
    batches.push([...items]);
    if (hold) await new Promise<void>((resolve) => held.push(resolve));
    return items.map(answer);
  };
  return {
    batches,
    run,
    hold: () => {
      hold = true;
    },
    release: () => {
      hold = false;
      for (const resolve of held.splice(0)) resolve();
    },
  };
}

describe('group commit', () => {
  it('runs the calls of one turn of the event loop as one batch, in call order', async () => {
    const r = recorder();
    const call = groupCommit(r.run);

    const results = await Promise.all([1, 2, 3, 4, 5].map(call));

    expect(results).toEqual([10, 20, 30, 40, 50]);
    expect(r.batches).toEqual([[1, 2, 3, 4, 5]]);
  });

  it('gathers the calls that arrive while a batch is running into the next batch', async () => {
    const r = recorder();
    const call = groupCommit(r.run);
    r.hold();
    const first = call(1);
    await new Promise((resolve) => setImmediate(resolve));
    const later = [call(2), call(3), call(4)];
    r.release();

    expect(await Promise.all([first, ...later])).toEqual([10, 20, 30, 40]);
    expect(r.batches).toEqual([[1], [2, 3, 4]]);
  });

  it('fails only the items answered with an Error', async () => {
    const r = recorder((item) => (item === 2 ? new Error('no room for 2') : item));
    const call = groupCommit(r.run);

    const settled = await Promise.allSettled([1, 2, 3].map(call));

    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toEqual(new Error('no room for 2'));
  });

  it('fails the whole batch when the run throws, and runs the next batch all the same', async () => {
    let calls = 0;
    const call = groupCommit(async (items: readonly number[]) => {
      calls += 1;
      if (calls === 1) throw new Error('database away');
      return [...items];
    });

    const first = await Promise.allSettled([call(1), call(2)]);
    const second = await Promise.all([call(3)]);

    expect(first.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(second).toEqual([3]);
  });

  it('splits a queue longer than maxBatch', async () => {
    const r = recorder();
    const call = groupCommit(r.run, { maxBatch: 2 });

    await Promise.all([1, 2, 3, 4, 5].map(call));

    expect(r.batches).toEqual([[1, 2], [3, 4], [5]]);
  });
});
