import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  DeliverJobData,
  type GenerateJobData,
  type GenerateProgress,
  type GenerateResult,
  type JobDataMap,
  JobName,
  type JobProgressMap,
  type JobResultMap,
  type Origin,
  type OriginAddress,
  parseJobData,
  parseJobProgress,
  parseOrigin,
  parseStoredJobExtras,
  salvageJobData,
} from '../../commands/index.ts';
import type { ContractJob, ContractQueue } from '../../queue/contract.ts';

const owner = { workspaceId: 'w1', userId: 'u1' };

describe('Origin', () => {
  it.each([
    [{ platform: 'discord', ...owner, channelId: 'c', messageId: 'm', ephemeral: true }],
    [{ platform: 'slack', ...owner, channelId: 'C1', messageId: '1.2', threadId: '1.1', ephemeral: false }],
    [{ platform: 'local', ...owner, channelId: 'playground:abc', ephemeral: false }],
  ])('reads each front end’s origin as written: %j', (origin) => {
    expect(parseOrigin(origin)).toEqual(origin);
  });

  it('fills in ephemeral and drops what another platform’s origin would carry', () => {
    const parsed = parseOrigin({ platform: 'discord', ...owner, channelId: 'c', threadId: 't' });

    expect(parsed).toEqual({ platform: 'discord', ...owner, channelId: 'c', ephemeral: false });
  });

  it.each([
    [{ platform: 'cli', ...owner }],
    [{ platform: 'telegram', ...owner, channelId: 'c' }],
    [{ platform: 'slack', userId: 'u1' }],
    [{ platform: 'local', ...owner, ephemeral: 'yes' }],
    [null],
    ['discord'],
  ])('refuses %j', (value) => {
    expect(parseOrigin(value)).toBeUndefined();
  });

  it('narrows by platform, and a front end’s address cannot carry another platform’s fields', () => {
    const origin = parseOrigin({ platform: 'slack', ...owner, messageId: '1.2', threadId: '1.1' });

    if (origin?.platform === 'slack') expectTypeOf(origin.threadId).toEqualTypeOf<string | undefined>();
    expectTypeOf<Extract<Origin, { platform: 'local' }>>().not.toHaveProperty('messageId');
    // @ts-expect-error: a playground origin has no message to edit
    const web: OriginAddress = { platform: 'local', messageId: 'm' };
    expect(web.platform).toBe('local');
  });
});

describe('the queue contract', () => {
  it('gives producers and consumers the same types from one map', () => {
    expectTypeOf<JobDataMap['generate']>().toEqualTypeOf<GenerateJobData>();
    expectTypeOf<JobDataMap['deliver']>().toEqualTypeOf<DeliverJobData>();
    expectTypeOf<JobResultMap['generate']>().toEqualTypeOf<GenerateResult>();
    expectTypeOf<JobProgressMap['generate']>().toEqualTypeOf<GenerateProgress>();
    expectTypeOf<Parameters<ContractQueue<'generate'>['add']>[1]>().toEqualTypeOf<GenerateJobData>();
    expectTypeOf<Parameters<ContractQueue<'deliver'>['add']>[0]>().toEqualTypeOf<'deliver'>();
    // A consumer's job data is unknown until parseJobData has checked it.
    expectTypeOf<ContractJob<'generate'>['data']>().toBeUnknown();
    expectTypeOf(parseJobData(JobName.Deliver, {})).toEqualTypeOf<
      { ok: true; value: DeliverJobData } | { ok: false; reason: string }
    >();
  });

  it('reads a worker’s progress, and nothing else, as generate progress', () => {
    const progress = { step: 3, total: 8, etaMs: 1500, workerId: 'w-1' };
    const preview = { width: 4, height: 2, rgbBase64: 'AAAA' };

    expect(parseJobProgress(JobName.Generate, progress)).toEqual(progress);
    expect(parseJobProgress(JobName.Generate, { ...progress, preview })).toEqual({ ...progress, preview });
    // BullMQ's progress before the first update, and shapes no worker of ours publishes.
    expect(parseJobProgress(JobName.Generate, 0)).toBeUndefined();
    expect(parseJobProgress(JobName.Generate, { step: 3, total: 8 })).toBeUndefined();
    expect(parseJobProgress(JobName.Generate, { ...progress, total: 0 })).toBeUndefined();
    expect(parseJobProgress(JobName.Generate, { ...progress, step: '3' })).toBeUndefined();
    expect(parseJobProgress(JobName.Deliver, progress)).toBeUndefined();
  });

  it('requires a succeeded delivery to say the clip’s size, fps and seed', () => {
    const succeeded = {
      status: 'succeeded',
      mp4Key: 'm',
      latentsKey: 'l',
      parameters: { width: 64, height: 48, fps: 8, seed: 7, prompt: 'p' },
      gpuSeconds: 2,
      frames: 17,
      bytes: 100,
      workerId: 'w',
    };
    const base = { v: 1, jobId: 'j', requestId: 'r', origin: { platform: 'local', ...owner } };

    const parsed = parseJobData(JobName.Deliver, { ...base, outcome: succeeded });
    expect(parsed.ok && parsed.value.outcome.status === 'succeeded' && parsed.value.outcome.parameters).toEqual(
      succeeded.parameters,
    );
    const { seed: _seed, ...unseeded } = succeeded.parameters;
    expect(DeliverJobData.safeParse({ ...base, outcome: { ...succeeded, parameters: unseeded } }).success).toBe(false);
  });
});

describe('salvageJobData', () => {
  it('keeps the ids and a well-formed origin of a refused payload', () => {
    const origin = { platform: 'discord', ...owner, messageId: 'm', ephemeral: false };

    expect(salvageJobData({ v: 2, jobId: 'j', requestId: 'r', origin, request: 'whatever' })).toEqual({
      jobId: 'j',
      requestId: 'r',
      origin,
    });
  });

  it.each([
    [{ jobId: 'j', origin: { platform: 'discord' } }, { jobId: 'j' }],
    [{ jobId: 7, requestId: '', origin: 'c' }, {}],
    [null, {}],
    ['garbage', {}],
  ])('leaves out what is not well formed: %j', (data, expected) => {
    expect(salvageJobData(data)).toEqual(expected);
  });
});

describe('parseStoredJobExtras', () => {
  it('reads what the core stores beside the request', () => {
    const parameters = { task: 'extend', prompt: 'p', requestId: 'r', maxBytes: 8_000_000, parentClipId: 'c1' };

    expect(parseStoredJobExtras(parameters)).toEqual({ requestId: 'r', maxBytes: 8_000_000, parentClipId: 'c1' });
  });

  it('drops malformed fields and reads rows without any', () => {
    expect(parseStoredJobExtras({ requestId: 5, maxBytes: -1, secondParentClipId: 'c2' })).toEqual({
      secondParentClipId: 'c2',
    });
    expect(parseStoredJobExtras({ task: 't2v' })).toEqual({});
    expect(parseStoredJobExtras(null)).toEqual({});
  });
});
