import fc from 'fast-check';
import {
  CacheService, CoordinationKeyvStore, EmbeddingCache, MAX_EMBEDDING_DIMENSIONS, SessionCookies, SessionRecords, SessionService,
} from '@nest-coordination/core';
import type { BootedModule } from '../support/boot.js';
import { DRIVERS } from '../support/drivers.js';
import { IdPool, arrayArg, callbackArg, isCallbackFailure, tenantOnly, ttlMs } from './fuzz-args.js';
import { fuzzSuite, type FuzzMethod } from './fuzz-runner.js';
import { anyValue, hostileNumber, hostilePayload, hostileString, idArg, notAString, optionsArg, tenantOption, validTenant } from './fuzz-support.js';

/**
 * Property fuzzing of CacheService, EmbeddingCache, the Keyv adapter, SessionService,
 * SessionRecords and SessionCookies: every public method. See fuzz-runner.ts for the properties.
 */
const cache = (b: BootedModule) => b.get(CacheService);
const embeddings = (b: BootedModule) => b.get(EmbeddingCache);
const sessions = (b: BootedModule) => b.get(SessionService);
const records = (b: BootedModule) => b.get(SessionRecords);
const cookies = (b: BootedModule) => b.get(SessionCookies);

const tags = arrayArg(fc.oneof(fc.stringMatching(/^[a-z][a-z0-9:-]{0,8}$/) as fc.Arbitrary<unknown>, idArg), 3);
const getOptions = optionsArg({ tenant: tenantOption, l1: fc.boolean() });
const setShape = { tenant: tenantOption, ttlMs, tags, l1: fc.boolean(), staleMs: ttlMs };
const setOptions = optionsArg(setShape);
const entry = optionsArg({ key: idArg, value: hostilePayload, ttlMs, tags, staleMs: ttlMs }, ['key', 'value']);
const globArg = fc.oneof(idArg, fc.constantFrom('*', 'user:*', '*:*', 'a*b', '**', '\\*', '[*]', '{*}'));

/** A vector: the right kind mostly (Float32Array or numbers), with NaN, infinities, wrong lengths. */
const vector: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 8 }).map((v) => Float32Array.from(v)) as fc.Arbitrary<unknown> },
  { weight: 2, arbitrary: fc.array(hostileNumber, { minLength: 0, maxLength: 8 }) },
  { weight: 1, arbitrary: fc.constantFrom(MAX_EMBEDDING_DIMENSIONS + 1, 0).map((n) => new Float32Array(n)) },
  { weight: 1, arbitrary: fc.constant(null).map(() => new Float64Array([1, 2])) },
  { weight: 1, arbitrary: anyValue },
);
const embeddingOptions = optionsArg({ model: fc.oneof(fc.constantFrom('text-embedding-3-small', 'm:1', 'gpt/4'), idArg), tenant: tenantOption, ttlMs }, ['model']);
const item = optionsArg({ text: fc.oneof(hostileString, notAString), vector }, ['text', 'vector']);

/** Sessions successful creates returned, so later calls find real ones. */
const pool = new IdPool(idArg, 'none');
const sessionId = pool.arg;
const sid = (value: unknown) => pool.idOf(value);
/** The id `value` stands for; `{ fresh: tenant }` (the examples): a session created now in that tenant. */
async function sessionIdOf(b: BootedModule, value: unknown): Promise<string> {
  const fresh = (value as { fresh?: string } | null)?.fresh;
  if (typeof fresh !== 'string') return sid(value);
  return (await sessions(b).create('u-example', { n: 1 }, { tenant: fresh })).id;
}
const optionsFor = (value: unknown, options: unknown) => pool.optionsFor(value, options);
const userId = fc.oneof(fc.constantFrom('u-1', 'u-2', 'user:1'), idArg);
const createOptions = optionsArg({
  tenant: tenantOption, ttlMs, absoluteTtlMs: fc.integer({ min: 60_000, max: 3_600_000 }), companyId: idArg, crewId: idArg,
  metadata: fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }) as fc.Arbitrary<unknown>, hostilePayload),
});
const sessionData = fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }) as fc.Arbitrary<unknown>, hostilePayload);

/** A request with a Cookie header: a signed session cookie, junk, or no string at all. */
const cookieRequest: fc.Arbitrary<unknown> = fc.oneof(
  fc.record({ headers: fc.record({ cookie: fc.oneof(hostileString, hostileString.map((v) => `sid=${v}`), fc.array(hostileString, { maxLength: 3 }), notAString) }) }),
  fc.record({ headers: anyValue }),
  anyValue,
);

/** A response to write a cookie on: Express's append, Node's setHeader (with headers already set), or not a response. */
const cookieResponse: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null).map(() => ({ append() {} })),
  fc.oneof(fc.constant(undefined), hostileString, fc.array(hostileString, { maxLength: 2 }), anyValue).map((existing) => ({ getHeader: () => existing, setHeader() {} })),
  anyValue,
);

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of iterable) lines.push(line);
  return lines;
}

async function drain(iterable: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const _ of iterable) n++;
  return n;
}

const keyvOptions = optionsArg({ tenant: fc.oneof(tenantOption, validTenant.map((t) => () => t)), ttlMs, l1: fc.boolean() });
/** A Keyv adapter made with fuzzed options (its constructor is fuzzed too), then `run` on it. */
function keyv(b: BootedModule, options: unknown, run: (store: CoordinationKeyvStore) => unknown): unknown {
  return run(new CoordinationKeyvStore(cache(b), options as never));
}
const keyvTenants = ([options]: unknown[]) => {
  const tenant = (options as { tenant?: unknown } | null)?.tenant;
  return typeof tenant === 'function' ? [String((tenant as () => unknown)())] : [];
};

const METHODS: FuzzMethod[] = [
  { example: ['ex', { tenant: 'acme' }], name: 'cache.get', args: fc.tuple(idArg, getOptions), call: (b, [k, o]) => cache(b).get(k as string, o as never) },
  { example: ['ex', { tenant: 'acme' }], name: 'cache.has', args: fc.tuple(idArg, getOptions), call: (b, [k, o]) => cache(b).has(k as string, o as never) },
  { example: ['ex', { tenant: 'acme' }], name: 'cache.lookup', args: fc.tuple(idArg, getOptions), call: (b, [k, o]) => cache(b).lookup(k as string, o as never) },
  { example: [['ex', 'ex2'], { tenant: 'acme' }], name: 'cache.mget', args: fc.tuple(arrayArg(idArg), getOptions), call: (b, [k, o]) => cache(b).mget(k as string[], o as never) },
  { example: ['ex', { a: 1 }, { tenant: 'acme' }], name: 'cache.set', args: fc.tuple(idArg, hostilePayload, setOptions), call: (b, [k, v, o]) => cache(b).set(k as string, v, o as never) },
  { example: [[{ key: 'ex', value: 1 }], { tenant: 'acme' }], name: 'cache.mset', args: fc.tuple(arrayArg(entry, 3), getOptions), call: (b, [e, o]) => cache(b).mset(e as never, o as never) },
  { example: ['ex', { tenant: 'acme' }], name: 'cache.delete', args: fc.tuple(fc.oneof(idArg, arrayArg(idArg)), tenantOnly), call: (b, [k, o]) => cache(b).delete(k as string, o as never) },
  {
    example: ['ex-gos', () => 1, { tenant: 'acme' }], name: 'cache.getOrSet', args: fc.tuple(idArg, callbackArg, setOptions), passesThrough: isCallbackFailure,
    call: (b, [k, fn, o]) => cache(b).getOrSet(k as string, fn as () => unknown, o as never),
  },
  {
    example: ['ex-goss', () => 1, { tenant: 'acme' }], name: 'cache.getOrSetState', args: fc.tuple(idArg, callbackArg, optionsArg({ ...setShape, xfetch: fc.boolean(), refresh: fc.boolean() })),
    passesThrough: isCallbackFailure, call: (b, [k, fn, o]) => cache(b).getOrSetState(k as string, fn as () => unknown, o as never),
  },
  { example: [['t1'], { tenant: 'acme' }], name: 'cache.invalidateTags', args: fc.tuple(tags, tenantOnly), call: (b, [t, o]) => cache(b).invalidateTags(t as string[], o as never) },
  { example: ['ex*', { tenant: 'acme' }], name: 'cache.invalidatePattern', args: fc.tuple(globArg, tenantOnly), call: (b, [p, o]) => cache(b).invalidatePattern(p as string, o as never) },
  { example: [{ tenant: 'acme' }], name: 'cache.clear', args: fc.tuple(tenantOnly), runs: 15, call: (b, [o]) => cache(b).clear(o as never) },

  { example: ['hello', [0.5, 1], { tenant: 'acme', model: 'm' }], name: 'embeddings.store', args: fc.tuple(fc.oneof(hostileString, notAString), vector, embeddingOptions), call: (b, [t, v, o]) => embeddings(b).store(t as string, v as never, o as never) },
  { example: [[{ text: 'hello', vector: [0.5, 1] }], { tenant: 'acme', model: 'm' }], name: 'embeddings.storeMany', args: fc.tuple(arrayArg(item, 3), embeddingOptions), call: (b, [i, o]) => embeddings(b).storeMany(i as never, o as never) },
  { example: ['hello', { tenant: 'acme', model: 'm' }], name: 'embeddings.retrieve', args: fc.tuple(fc.oneof(hostileString, notAString), embeddingOptions), call: (b, [t, o]) => embeddings(b).retrieve(t as string, o as never) },
  { example: [['hello'], { tenant: 'acme', model: 'm' }], name: 'embeddings.retrieveMany', args: fc.tuple(arrayArg(hostileString), embeddingOptions), call: (b, [t, o]) => embeddings(b).retrieveMany(t as string[], o as never) },
  { example: ['hello', { tenant: 'acme', model: 'm' }], name: 'embeddings.memoryUsage', args: fc.tuple(fc.oneof(hostileString, notAString), embeddingOptions), call: (b, [t, o]) => embeddings(b).memoryUsage(t as string, o as never) },

  { example: [{ tenant: 'acme' }], name: 'keyv.constructor', args: fc.tuple(keyvOptions), tenants: keyvTenants, call: (b, [o]) => keyv(b, o, (s) => s.namespace) },
  { example: [{ tenant: 'acme' }, 'ex'], name: 'keyv.get', args: fc.tuple(keyvOptions, idArg), tenants: keyvTenants, call: (b, [o, k]) => keyv(b, o, (s) => s.get(k as string)) },
  { example: [{ tenant: 'acme' }, ['ex']], name: 'keyv.getMany', args: fc.tuple(keyvOptions, arrayArg(idArg)), tenants: keyvTenants, call: (b, [o, k]) => keyv(b, o, (s) => s.getMany(k as string[])) },
  { example: [{ tenant: 'acme' }, 'ex'], name: 'keyv.has', args: fc.tuple(keyvOptions, idArg), tenants: keyvTenants, call: (b, [o, k]) => keyv(b, o, (s) => s.has(k as string)) },
  {
    example: [{ tenant: 'acme' }, 'ex', 1, 1_000], name: 'keyv.set', args: fc.tuple(keyvOptions, idArg, hostilePayload, fc.oneof(fc.constant(undefined), ttlMs, hostileNumber, anyValue)), tenants: keyvTenants,
    call: (b, [o, k, v, ttl]) => keyv(b, o, (s) => s.set(k as string, v, ttl as number)),
  },
  {
    example: [{ tenant: 'acme' }, [{ key: 'ex', value: 1 }]], name: 'keyv.setMany', args: fc.tuple(keyvOptions, arrayArg(optionsArg({ key: idArg, value: hostilePayload, ttl: ttlMs }, ['key', 'value']))), tenants: keyvTenants,
    call: (b, [o, e]) => keyv(b, o, (s) => s.setMany(e as never)),
  },
  { example: [{ tenant: 'acme' }, 'ex'], name: 'keyv.delete', args: fc.tuple(keyvOptions, idArg), tenants: keyvTenants, call: (b, [o, k]) => keyv(b, o, (s) => s.delete(k as string)) },
  { example: [{ tenant: 'acme' }, ['ex']], name: 'keyv.deleteMany', args: fc.tuple(keyvOptions, arrayArg(idArg)), tenants: keyvTenants, call: (b, [o, k]) => keyv(b, o, (s) => s.deleteMany(k as string[])) },
  { example: [{ tenant: 'acme' }], name: 'keyv.clear', args: fc.tuple(keyvOptions), runs: 15, tenants: keyvTenants, call: (b, [o]) => keyv(b, o, (s) => s.clear()) },

  {
    example: ['u-1', { a: 1 }, { tenant: 'acme' }], name: 'sessions.create', args: fc.tuple(userId, sessionData, createOptions), runs: 60,
    call: async (b, [u, d, o]) => {
      const session = await sessions(b).create(u as string, d as never, o as never);
      pool.add(session.id, session.tenant);
      return session;
    },
  },
  { example: [{ fresh: 'acme' }, { tenant: 'acme' }], name: 'sessions.get', args: fc.tuple(sessionId, optionsArg({ tenant: tenantOption, touch: fc.boolean() })), call: async (b, [id, o]) => sessions(b).get(await sessionIdOf(b, id), optionsFor(id, o) as never) },
  {
    example: [{ fresh: 'acme' }, { b: 2 }, { tenant: 'acme' }], name: 'sessions.update', args: fc.tuple(sessionId, sessionData, optionsArg({ tenant: tenantOption, ifVersion: fc.integer({ min: 0, max: 3 }) })),
    call: async (b, [id, p, o]) => sessions(b).update(await sessionIdOf(b, id), p as never, optionsFor(id, o) as never),
  },
  { example: [{ fresh: 'acme' }, { tenant: 'acme' }], name: 'sessions.extend', args: fc.tuple(sessionId, optionsArg({ tenant: tenantOption, ttlMs })), call: async (b, [id, o]) => sessions(b).extend(await sessionIdOf(b, id), optionsFor(id, o) as never) },
  { example: [{ fresh: 'acme' }, { tenant: 'acme' }], name: 'sessions.destroy', args: fc.tuple(sessionId, tenantOnly), call: async (b, [id, o]) => sessions(b).destroy(await sessionIdOf(b, id), optionsFor(id, o) as never) },
  { example: ['u-1', { tenant: 'acme' }], name: 'sessions.listForUser', args: fc.tuple(userId, tenantOnly), call: (b, [u, o]) => sessions(b).listForUser(u as string, o as never) },
  { example: ['u-1', 'h', { tenant: 'acme' }], name: 'sessions.destroyByHandle', args: fc.tuple(userId, idArg, tenantOnly), call: (b, [u, h, o]) => sessions(b).destroyByHandle(u as string, h as string, o as never) },
  {
    example: ['u-none', { tenant: 'acme' }], name: 'sessions.destroyAllForUser', args: fc.tuple(userId, optionsArg({ tenant: tenantOption, except: fc.oneof(idArg, fc.constant('none')) })),
    call: (b, [u, o]) => sessions(b).destroyAllForUser(u as string, o as never),
  },
  {
    example: [{ fresh: 'acme' }, { tenant: 'acme' }], name: 'sessions.regenerate', args: fc.tuple(sessionId, tenantOnly),
    call: async (b, [id, o]) => {
      const session = await sessions(b).regenerate(await sessionIdOf(b, id), optionsFor(id, o) as never);
      pool.add(session.id, session.tenant);
      return session;
    },
  },
  { example: [{ tenant: 'acme' }], name: 'sessions.countForTenant', args: fc.tuple(tenantOnly), call: (b, [o]) => sessions(b).countForTenant(o as never) },
  { example: [{ tenant: 'acme' }], name: 'sessions.exportSessions', args: fc.tuple(tenantOnly), runs: 15, call: (b, [o]) => drain(sessions(b).exportSessions(o as never)) },
  {
    example: [{ exportOf: 'acme' }, { tenant: 'globex' }], name: 'sessions.importSessions',
    args: fc.tuple(
      fc.oneof(
        arrayArg(fc.oneof(hostileString, hostilePayload.map((p) => { try { return JSON.stringify(p); } catch { return '{'; } }), notAString)),
        validTenant.map((tenant) => ({ exportOf: tenant })),
        anyValue,
      ),
      tenantOnly,
    ),
    call: async (b, [lines, o]) => {
      // `{ exportOf }`: the lines another tenant's export wrote, imported into the call's tenant.
      const exportOf = (lines as { exportOf?: string } | null)?.exportOf;
      if (typeof exportOf === 'string') lines = await collect(sessions(b).exportSessions({ tenant: exportOf }));
      return sessions(b).importSessions(lines as string[], o as never);
    },
    tenants: ([lines]) => (typeof (lines as { exportOf?: string } | null)?.exportOf === 'string' ? [(lines as { exportOf: string }).exportOf] : []),
  },

  { example: ['ex', { tenant: 'acme' }], name: 'sessionRecords.get', args: fc.tuple(idArg, tenantOnly), call: (b, [s, o]) => records(b).get(s as string, o as never) },
  { example: ['ex', { a: 1 }, { tenant: 'acme' }], name: 'sessionRecords.set', args: fc.tuple(idArg, hostilePayload, optionsArg({ tenant: tenantOption, ttlMs })), call: (b, [s, v, o]) => records(b).set(s as string, v, o as never) },
  { example: ['ex', { tenant: 'acme' }], name: 'sessionRecords.touch', args: fc.tuple(idArg, optionsArg({ tenant: tenantOption, ttlMs })), call: (b, [s, o]) => records(b).touch(s as string, o as never) },
  { example: ['ex', { tenant: 'acme' }], name: 'sessionRecords.delete', args: fc.tuple(fc.oneof(idArg, arrayArg(idArg)), tenantOnly), call: (b, [s, o]) => records(b).delete(s as string, o as never) },
  { example: [{ tenant: 'acme' }], name: 'sessionRecords.count', args: fc.tuple(tenantOnly), runs: 15, call: (b, [o]) => records(b).count(o as never) },
  { example: [{ tenant: 'acme' }], name: 'sessionRecords.clear', args: fc.tuple(tenantOnly), runs: 15, call: (b, [o]) => records(b).clear(o as never) },

  { example: ['sid'], name: 'sessionCookies.sign', args: fc.tuple(fc.oneof(hostileString, notAString)), call: (b, [v]) => cookies(b).sign(v as string) },
  {
    example: ['s:sid.x'], name: 'sessionCookies.verify', args: fc.tuple(fc.oneof(hostileString, hostileString.map((v) => `s:${v}`), notAString)),
    call: (b, [v]) => cookies(b).verify(v as string),
  },
  {
    example: [{ append() {} }, { id: 'sid', absoluteExpiresAt: new Date(Date.now() + 60_000) }], name: 'sessionCookies.issue',
    args: fc.tuple(cookieResponse, optionsArg({ id: idArg, absoluteExpiresAt: fc.oneof(fc.date(), fc.constant(new Date(NaN))) }, ['id', 'absoluteExpiresAt'])),
    call: (b, [r, session]) => cookies(b).issue(r as never, session as never),
  },
  { example: [{ append() {} }], name: 'sessionCookies.clear', args: fc.tuple(cookieResponse), call: (b, [r]) => cookies(b).clear(r as never) },
  { example: [{ headers: { cookie: 'sid=s%3Aabc.def' } }], name: 'sessionCookies.read', args: fc.tuple(cookieRequest), call: (b, [r]) => cookies(b).read(r as never) },
];

describe.each(DRIVERS.filter((d) => d.name !== 'cluster'))('fuzz: cache, embeddings, Keyv, sessions ($name)', (driver) => {
  fuzzSuite(driver, METHODS, { options: { sessions: { cookie: { secret: 's'.repeat(32) } } } });
});
