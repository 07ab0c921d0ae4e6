import { describe, expect, it } from 'vitest';
import { outageOf, QueueUnavailableError } from '../../bot/core/outage.ts';
import { UserError } from '../../commands/index.ts';
import { StoreUnavailableError } from '../../prisma/errors.ts';

const DATABASE = /^the bot cannot reach its database right now .*try again in a minute$/;
const QUEUE = /^the queue is unavailable right now .*try again in a minute$/;

describe('outageOf', () => {
  it.each([
    [
      'the store unavailable',
      new StoreUnavailableError('The database (postgresql, postgresql://u:***@db/p) is unavailable'),
      DATABASE,
    ],
    ['a Prisma P1001 in the cause chain', new Error('query failed', { cause: { code: 'P1001' } }), DATABASE],
    ['Redis not connected', new QueueUnavailableError('Redis is not connected'), QUEUE],
    [
      'ioredis giving up on a command',
      Object.assign(new Error('Reached the max retries per request limit (which is 20).'), {
        name: 'MaxRetriesPerRequestError',
      }),
      QUEUE,
    ],
    ['ioredis with its connection closed', new Error('Connection is closed.'), QUEUE],
  ])('says what is away for %s, in words safe to show', (_name, error, words) => {
    const answer = outageOf(error);

    expect(answer).toBeInstanceOf(UserError);
    expect(answer).toMatchObject({ code: 'Unavailable' });
    expect(answer?.message).toMatch(words);
    expect(answer?.message).not.toMatch(/postgresql|P1001|ioredis|Connection is closed/);
  });

  it.each([
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['a refusal', new UserError('NotFound', 'clip x was not found')],
    ['a string', 'boom'],
  ])('leaves %s alone (a 500, or the refusal itself)', (_name, error) => {
    expect(outageOf(error)).toBeUndefined();
  });
});
