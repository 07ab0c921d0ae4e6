import { describe, expect, it } from 'vitest';
import { createMessageEdits } from '../../bot/slack/edits.ts';

/** An edit that records itself and finishes only when released, like a chat.update waiting out a Retry-After. */
function gate(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((r) => {
    release = r;
  });
  return {
    run: async () => {
      log.push(`${name}:start`);
      await done;
      log.push(`${name}:end`);
    },
    release: () => release(),
  };
}

describe('message edits', () => {
  it('runs the edits of one message one after another, in the order they were queued', async () => {
    const edits = createMessageEdits();
    const log: string[] = [];
    const progress = gate(log, 'progress');
    const first = edits.edit('C1/1', progress.run);
    const result = edits.edit('C1/1', async () => log.push('result'));
    await Promise.resolve();
    expect(log).toEqual(['progress:start']);
    progress.release();
    await Promise.all([first, result]);
    expect(log).toEqual(['progress:start', 'progress:end', 'result']);
  });

  it('skips a supersedable edit overtaken by a newer one or gone stale, never a final one', async () => {
    const edits = createMessageEdits();
    const log: string[] = [];
    const busy = gate(log, 'busy');
    let finished = false;
    const queued = [
      edits.edit('C1/1', busy.run),
      edits.edit('C1/1', async () => log.push('old progress'), { supersedable: true }),
      edits.edit('C1/1', async () => log.push('new progress'), { supersedable: true, stale: () => finished }),
      edits.edit('C1/1', async () => log.push('result')),
      edits.edit('C1/1', async () => log.push('late progress'), { supersedable: true, stale: () => finished }),
    ];
    finished = true;
    busy.release();
    await Promise.all(queued);
    expect(log).toEqual(['busy:start', 'busy:end', 'result']);
  });

  it('keeps other messages independent and goes on after an edit fails', async () => {
    const edits = createMessageEdits();
    const log: string[] = [];
    const slow = gate(log, 'slow');
    const a = edits.edit('C1/1', slow.run);
    await edits.edit('C1/2', async () => log.push('other message'));
    const failing = edits.edit('C1/1', async () => {
      throw new Error('ratelimited');
    });
    const after = edits.edit('C1/1', async () => log.push('after the failure'));
    slow.release();
    await expect(failing).rejects.toThrow('ratelimited');
    await Promise.all([a, after]);
    expect(log).toEqual(['slow:start', 'other message', 'slow:end', 'after the failure']);
  });
});
