import {
  defineStream,
  CacheService, CoordinationKeyvStore, EmbeddingCache, EventBus, InvalidArgumentError, InvalidKeyError, LeaderService, RateLimitService, SessionCookies, SessionRecords, SessionService,
} from '@nest-coordination/core';
import { bootModule, type BootedModule } from '../support/boot.js';
import { DRIVERS } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { cyclicObject, RejectionWatch } from './fuzz-support.js';

/**
 * The counterexamples the property fuzzing suites (test/fuzz/*.fuzz.e2e-spec.ts) found, shrunk,
 * kept as example tests: each failed before its fix.
 */
describe.each(DRIVERS.filter((d) => d.name !== 'cluster'))('fuzzing counterexamples ($name)', (driver) => {
  let booted: BootedModule;
  const watch = new RejectionWatch();
  beforeAll(async () => {
    booted = await bootModule({ ...driver.options(), tenancy: { required: true }, health: { pingIntervalMs: 0 }, sessions: { cookie: { secret: 's'.repeat(32) } } });
    watch.start();
  });
  afterAll(async () => {
    watch.stop();
    await booted?.close();
  });

  // Found by events.emit: the failure was counted with the channel as a metric label, and a
  // label that JSON cannot encode (a cycle, a BigInt) or a symbol in the log line threw a
  // TypeError in emit's rejection handler: an unhandled rejection instead of "never throws".
  it.each([
    ['a cyclic object', cyclicObject(), 'an object'],
    ['a symbol', Symbol('channel'), 'a symbol'],
    ['a bigint', 10n, 'a bigint'],
  ])('events.emit with %s as the channel counts the failure under the channel\'s type, with no unhandled rejection', async (_, channel, kind) => {
    const metrics = booted.core.metrics;
    const before = metrics.counter('events_emit_failed_total', { channel: kind });
    booted.get(EventBus).emit(channel as never, {}, { tenant: 'acme' });
    await until(() => metrics.counter('events_emit_failed_total', { channel: kind }) > before, { timeoutMs: 5_000, message: `the failed emit counted under "${kind}"` });
    await watch.assertNone('events.emit');
  });

  // Found by rateLimit.consumeMany: a check whose policy is not an object was refused naming
  // "checks[0].policy." (the prefix of its fields' names) instead of the argument itself.
  it.each(['consumeMany', 'enforceMany'] as const)('rateLimit.%s names a policy that is not an object as checks[i].policy', async (method) => {
    const error = await booted.get(RateLimitService)[method]([{ key: 'k', policy: { limit: 1, windowMs: 1_000 } }, { key: 'k', policy: null as never }], { tenant: 'acme' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).argument).toBe('checks[1].policy');
  });

  /** The error `call` fails with (sync or async), or 'no error'. */
  async function failure(call: () => unknown): Promise<unknown> {
    try {
      await call();
    } catch (error) {
      return error;
    }
    return 'no error';
  }

  // Found by keyv.setMany: entries that are not an array, or an entry that is not an object,
  // failed with "entries.map is not a function" / a destructuring TypeError.
  it.each([['0', 0], ['a string', 'entries'], ['an array holding null', [null]]])('keyv setMany refuses %s as the entries with InvalidArgumentError', async (_, entries) => {
    const store = new CoordinationKeyvStore(booted.get(CacheService), { tenant: 'acme' });
    const error = await failure(() => store.setMany(entries as never));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).argument).toMatch(/^entries/);
  });

  // Found by sessionRecords.delete: sids neither a string nor an array failed with "list.map is not a function".
  it.each([['an object', {}], ['a number', 7], ['null', null]])('sessionRecords.delete refuses %s as the sids with InvalidKeyError naming sids', async (_, sids) => {
    const error = await failure(() => booted.get(SessionRecords).delete(sids as never, { tenant: 'acme' }));
    expect(error).toBeInstanceOf(InvalidKeyError);
    expect((error as InvalidKeyError).part).toBe('sids');
  });

  // Found by sessionCookies.sign / verify / read: a value that is not a string failed with
  // cookie-signature's TypeError, "signed.startsWith is not a function", "header.split is not a function".
  it.each([['an object', Object.create(null)], ['a number', 0]])('sessionCookies.sign and verify refuse %s with InvalidArgumentError', async (_, value) => {
    const cookies = booted.get(SessionCookies);
    for (const [argument, call] of [['value', () => cookies.sign(value as never)], ['signed', () => cookies.verify(value as never)]] as const) {
      const error = await failure(call);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).argument).toBe(argument);
    }
  });

  it.each([
    ['a Cookie header that is an object', { headers: { cookie: Object.create(null) } }, 'request.headers.cookie'],
    ['a Cookie header array holding a number', { headers: { cookie: ['sid=a', 7] } }, 'request.headers.cookie'],
    ['null', null, 'request'],
  ])('sessionCookies.read refuses a request with %s with InvalidArgumentError naming it', async (_, request, argument) => {
    const error = await failure(() => booted.get(SessionCookies).read(request as never));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).argument).toBe(argument);
  });

  // Found by leaderCampaign.elected: a signal that is not an AbortSignal made elected() reject
  // with its `reason` (undefined here), and null options failed destructuring with a TypeError.
  it.each([
    ['a signal that is not an AbortSignal', { signal: { aborted: true, addEventListener() {}, removeEventListener() {} } }, 'options.signal'],
    ['null options', null, 'options'],
  ])('a campaign\'s elected() refuses %s with InvalidArgumentError naming it', async (_, options, argument) => {
    const campaign = booted.get(LeaderService).campaign('elected-checks', { tenant: 'acme' });
    try {
      const error = await failure(() => campaign.elected(options as never));
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).argument).toBe(argument);
    } finally {
      await campaign.resign();
    }
  });

  // Found by embeddings.store: a ttlMs that is an object was echoed with String(), which throws
  // for an object without a prototype or with a throwing toString, instead of the typed error.
  it.each([
    ['an object without a prototype', Object.create(null)],
    ['an object whose toString throws', { toString: () => { throw new Error('toString is hostile'); } }],
  ])('embeddings.store refuses %s as the ttlMs with InvalidArgumentError', async (_, ttlMs) => {
    const error = await failure(() => booted.get(EmbeddingCache).store('text', [1.5], { tenant: 'acme', model: 'm', ttlMs }));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).argument).toBe('ttlMs');
  });

  // Found by sessions.update on Redis: a session whose data had a field name holding a lone UTF-16
  // surrogate was stored, then every update failed with Redis's raw "invalid unicode escape code"
  // (the update script's cjson refuses the `\ud800` escape JSON.stringify writes for it).
  it.each([['a lone high surrogate', '\ud800'], ['a lone low surrogate', 'x\udc00']])('sessions refuse a data field name with %s, on create and update, before storing anything', async (_, name) => {
    const sessions = booted.get(SessionService);
    const created = await failure(() => sessions.create('u-1', { [name]: 1 }, { tenant: 'acme' }));
    expect(created).toBeInstanceOf(InvalidArgumentError);
    expect((created as InvalidArgumentError).argument).toBe('data');
    const session = await sessions.create('u-1', { ok: 1 }, { tenant: 'acme' });
    const updated = await failure(() => sessions.update(session.id, { [name]: 1 }, { tenant: 'acme' }));
    expect(updated).toBeInstanceOf(InvalidArgumentError);
    expect((updated as InvalidArgumentError).argument).toBe('patch');
    expect((await sessions.update(session.id, { more: 2 }, { tenant: 'acme' })).data).toEqual({ ok: 1, more: 2 });
  });

  // Found by the CI run of the sessions.update property: a session whose user, company or crew id
  // held a lone surrogate was created, then every update of it failed with Redis's raw "invalid
  // unicode escape code" (those ids are fields of the record body the update script decodes).
  it.each([
    ['userId', (id: string) => ['u' + id, {}, { tenant: 'acme' }]],
    ['options.companyId', (id: string) => ['u-1', {}, { tenant: 'acme', companyId: id }]],
    ['options.crewId', (id: string) => ['u-1', {}, { tenant: 'acme', crewId: id }]],
  ] as const)('sessions refuse a lone surrogate in %s on create, so no stored session can become impossible to update', async (argument, args) => {
    const sessions = booted.get(SessionService);
    for (const id of ['\ud800', 'x\udc00']) {
      const created = await failure(() => sessions.create(...(args(id) as unknown as Parameters<SessionService["create"]>)));
      expect(created).toBeInstanceOf(InvalidArgumentError);
      expect((created as InvalidArgumentError).argument).toBe(argument);
    }
  });

  // Found by a CI run of the defineStream property: null options threw "Cannot read properties of null".
  it('defineStream refuses options that are not an object with InvalidArgumentError naming options', () => {
    for (const options of [null, 5, 'x']) {
      let error: unknown;
      try {
        defineStream('a', options as never);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).argument).toBe('options');
    }
  });

  // Found by sessionCookies.issue: a session whose absoluteExpiresAt is not a valid Date failed with
  // "getTime is not a function" or the cookie library's "option maxAge is invalid: NaN", and a
  // response that is null with "Cannot read properties of null".
  it.each([
    ['a session whose absoluteExpiresAt is a string', { append() {} }, { id: 'sid', absoluteExpiresAt: '' }, 'session.absoluteExpiresAt'],
    ['a session whose absoluteExpiresAt is an invalid Date', { append() {} }, { id: 'sid', absoluteExpiresAt: new Date(NaN) }, 'session.absoluteExpiresAt'],
    ['a null session', { append() {} }, null, 'session'],
    ['a null response', null, { id: 'sid', absoluteExpiresAt: new Date(Date.now() + 60_000) }, 'response'],
    ['a session id with a lone surrogate (URIError from the cookie encoding)', { append() {} }, { id: '\ud800', absoluteExpiresAt: new Date(Date.now() + 60_000) }, 'session.id'],
    ['a response whose getHeader returns an object without a prototype', { getHeader: () => Object.create(null), setHeader() {} }, { id: 'sid', absoluteExpiresAt: new Date(Date.now() + 60_000) }, 'response'],
  ])('sessionCookies.issue refuses %s with InvalidArgumentError naming it', async (_, response, session, argument) => {
    const error = await failure(() => booted.get(SessionCookies).issue(response as never, session as never));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).argument).toBe(argument);
  });
});
