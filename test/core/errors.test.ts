import { describe, expect, it } from 'vitest';
import { classify, FAILED_MESSAGE, UNAVAILABLE_MESSAGE, unavailableMessage } from '../../bot/core/errors.ts';
import type { InfrastructureErrorCode } from '../../commands/index.ts';
import { InfrastructureError, UserError } from '../../commands/index.ts';
import { StoreUnavailableError } from '../../prisma/errors.ts';

/** An error shaped as a library throws it: a name, a code, a status or Slack's `data`. */
const shaped = (message: string, fields: Record<string, unknown>) => Object.assign(new Error(message), fields);

describe('classify', () => {
  it('refuses a UserError with its own message and code, and does not retry it', () => {
    const verdict = classify(new UserError('QuotaExceeded', 'you have 0 GPU s left today'), 'id-1');

    expect(verdict).toEqual({
      kind: 'refused',
      code: 'QuotaExceeded',
      message: 'you have 0 GPU s left today',
      retry: false,
      errorId: 'id-1',
    });
  });

  it("keeps the core's own try-again answers (UserError Unavailable) as they are, retryable", () => {
    expect(classify(new UserError('Unavailable', 'the job queue is unreachable right now'))).toMatchObject({
      kind: 'refused',
      message: 'the job queue is unreachable right now',
      retry: true,
    });
  });

  it.each([
    ['an InfrastructureError', new InfrastructureError('QueueUnavailable', 'redis down'), 'QueueUnavailable'],
    ["the store's StoreUnavailableError", new StoreUnavailableError('SQLITE_BUSY'), 'DatabaseUnavailable'],
    [
      'an error caused by one',
      new Error('submit failed', { cause: new StoreUnavailableError('gone') }),
      'DatabaseUnavailable',
    ],
    [
      'a Slack network failure',
      shaped('socket hang up', { code: 'slack_webapi_request_error' }),
      'PlatformUnavailable',
    ],
    [
      "Slack's internal_error",
      shaped('An API error occurred: internal_error', {
        code: 'slack_webapi_platform_error',
        data: { ok: false, error: 'internal_error' },
      }),
      'PlatformUnavailable',
    ],
    ['a Slack 503', shaped('HTTP 503', { code: 'slack_webapi_http_error', statusCode: 503 }), 'PlatformUnavailable'],
    ['a Discord 502', shaped('Bad Gateway', { name: 'DiscordAPIError', status: 502 }), 'PlatformUnavailable'],
    ['ioredis closed', new Error('Connection is closed.'), 'QueueUnavailable'],
    [
      'a refused connection',
      shaped('connect ECONNREFUSED 127.0.0.1:6379', { code: 'ECONNREFUSED' }),
      'NetworkUnavailable',
    ],
  ])('answers %s as temporarily unavailable, retryable', (_what, error, code) => {
    const verdict = classify(error);
    // the queue's and the database's outages say which part is away; the rest the general words
    if (code === 'NetworkUnavailable' || code === 'PlatformUnavailable')
      expect(verdict.message).toBe(UNAVAILABLE_MESSAGE);

    expect(verdict).toMatchObject({
      kind: 'unavailable',
      code,
      message: unavailableMessage(code as InfrastructureErrorCode),
      retry: true,
    });
  });

  it.each([
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
    [
      "Slack's refusal of a bad request",
      shaped('An API error occurred: invalid_blocks', {
        code: 'slack_webapi_platform_error',
        data: { ok: false, error: 'invalid_blocks' },
      }),
    ],
    ['a Discord 400', shaped('Invalid Form Body', { name: 'DiscordAPIError', status: 400 })],
    ['a thrown string', 'boom'],
  ])('answers %s with the generic message and a fresh error id', (_what, error) => {
    const first = classify(error);
    const second = classify(error);

    expect(first).toMatchObject({ kind: 'failed', message: FAILED_MESSAGE, retry: true });
    expect(first.errorId).toMatch(/^[0-9a-f-]{36}$/);
    expect(second.errorId).not.toBe(first.errorId);
  });

  it('reads the first UserError or InfrastructureError down the cause chain, not what wraps it', () => {
    const wrapped = new Error('listener failed', { cause: new UserError('NotFound', 'no such clip') });

    expect(classify(wrapped)).toMatchObject({ kind: 'refused', code: 'NotFound', message: 'no such clip' });
  });
});
