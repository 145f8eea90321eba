import fc from 'fast-check';
import {
  CacheService, EmbeddingCache, EventBus, IdempotencyService, LockService, RateLimitService, SessionRecords, SessionService, StreamService, TaskService,
  type CoordinationEvent, type Lock,
} from '@nest-coordination/core';
import { bootModule, type BootedModule } from '../support/boot.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';
import { scanKeys } from '../support/scan-keys.js';
import { until } from '../support/wait.js';
import { assertNoPollution, fuzzParameters, ownProtoKeysKept, prototypeSnapshot, RejectionWatch, roundTripPayload } from './fuzz-support.js';

/**
 * Tenant isolation and value round trips, by model: random sequences of writes and reads over
 * tenants and keys crafted to collide once encoded (`a` + `b:c` against `a.b` + `c`, `%3a`
 * against `:`, globs and hash-tag characters in keys) must read back exactly what the same
 * tenant wrote under the same key, never another tenant's or another key's value; payloads with
 * `__proto__` / `constructor` own keys come back as own keys, with no prototype polluted; and
 * every key the runs leave under the prefix (SCAN, cluster included) is in a tenant they used.
 */
const TENANTS = ['a', 'a.b', 'a-b', 'a_b', 'ab', 'b'];
/** Keys from pieces that collide when joined naively, or when encoded carelessly. */
const collidingKey = fc.oneof(
  // Pairs whose encodings would meet if one character were left unencoded.
  fc.constantFrom('b:c', 'b%3ac', ':', '%3a', '%', '%25', '{a}', '%7ba%7d', 'a*', 'a%2a', 'a?', 'a%3f', '[a]', '%5ba%5d', 'a b', 'a%20b', '\ud800', '%ud800', '\ufffd'),
  fc.array(fc.constantFrom('a', 'b', 'c', ':', '.', '%', '3a', '25', '{', '}', '*', '?', '[', ']', '\\', ' ', '\n', 'é', '\ud800'), { minLength: 1, maxLength: 4 }).map((parts) => parts.join('')),
);
/** Keys of the stricter capabilities (locks, rate limits, session records): no glob, tag, control or space characters. */
const safeKey = fc.oneof(
  fc.constantFrom('b:c', 'b%3ac', ':', '%3a', '%', '%25', 'a.b', 'a%2eb'),
  fc.array(fc.constantFrom('a', 'b', 'c', ':', '.', '%', '3a', '25', '-', '_', 'é'), { minLength: 1, maxLength: 4 }).map((parts) => parts.join('')),
);
const tenant = fc.constantFrom(...TENANTS);

/** A fresh id per property run, so runs never see each other's keys. */
let runs = 0;
const runId = () => `r${++runs}-`;

/** Whether `key` matches `glob` where `*` is the only wildcard (what invalidatePattern documents). */
function globMatches(glob: string, key: string): boolean {
  const source = glob.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')).join('[\\s\\S]*');
  return new RegExp(`^${source}$`).test(key);
}

describe.each(DRIVERS)('fuzz: tenant isolation and round trips ($name)', (driver) => {
  const prefix = uniquePrefix('fzi');
  const prototypes = prototypeSnapshot();
  const watch = new RejectionWatch();
  let booted: BootedModule;
  beforeAll(async () => {
    booted = await bootModule({ ...driver.options(), prefix, tenancy: { required: true }, health: { pingIntervalMs: 0 } });
    watch.start();
  });
  afterAll(async () => {
    watch.stop();
    await booted?.close();
  });

  it('cache: every read returns what its own tenant last wrote under that key (sets, deletes, pattern invalidations)', async () => {
    const cache = booted.get(CacheService);
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), tenant, key: collidingKey }),
      fc.record({ kind: fc.constant('delete' as const), tenant, key: collidingKey }),
      fc.record({ kind: fc.constant('invalidate' as const), tenant, glob: fc.oneof(collidingKey, collidingKey.map((k) => `${k}*`), fc.constant('*')) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), fc.array(fc.tuple(tenant, collidingKey), { maxLength: 10 }), async (ops, probes) => {
        const run = runId();
        const model = new Map<string, string>();
        let n = 0;
        for (const o of ops) {
          if (o.kind === 'set') {
            const value = `${o.tenant}|${o.key}|${n++}`;
            await cache.set(run + o.key, value, { tenant: o.tenant, l1: false });
            model.set(`${o.tenant}\n${o.key}`, value);
          } else if (o.kind === 'delete') {
            await cache.delete(run + o.key, { tenant: o.tenant });
            model.delete(`${o.tenant}\n${o.key}`);
          } else {
            await cache.invalidatePattern(run + o.glob, { tenant: o.tenant });
            for (const id of [...model.keys()]) if (id.startsWith(`${o.tenant}\n`) && globMatches(o.glob, id.slice(o.tenant.length + 1))) model.delete(id);
          }
        }
        const written = ops.flatMap((o) => (o.kind === 'invalidate' ? [] : [[o.tenant, o.key] as const]));
        for (const [t, k] of [...written, ...probes]) {
          expect({ tenant: t, key: k, value: await cache.get(run + k, { tenant: t, l1: false }) }).toEqual({ tenant: t, key: k, value: model.get(`${t}\n${k}`) });
        }
      }),
      fuzzParameters(25),
    );
  });

  it('rate limits: each tenant and key has its own counter', async () => {
    const limits = booted.get(RateLimitService);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(tenant, safeKey), { minLength: 1, maxLength: 20 }), async (calls) => {
        const run = runId();
        const counts = new Map<string, number>();
        for (const [t, k] of calls) {
          const result = await limits.consume(run + k, { limit: 100, windowMs: 60_000, tenant: t });
          const id = `${t}\n${k}`;
          counts.set(id, (counts.get(id) ?? 0) + 1);
          expect({ t, k, remaining: result.remaining }).toEqual({ t, k, remaining: 100 - counts.get(id)! });
        }
      }),
      fuzzParameters(15),
    );
  });

  it('locks: a lock one tenant holds never blocks another tenant, nor another key', async () => {
    const locks = booted.get(LockService);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(tenant, safeKey), { minLength: 1, maxLength: 12 }), async (calls) => {
        const run = runId();
        const held = new Map<string, Lock>();
        try {
          for (const [t, k] of calls) {
            const id = `${t}\n${k}`;
            const lock = await locks.tryAcquire(run + k, { tenant: t, ttlMs: 30_000 });
            expect({ t, k, acquired: lock !== null }).toEqual({ t, k, acquired: !held.has(id) });
            if (lock) held.set(id, lock);
          }
        } finally {
          await Promise.all([...held.values()].map((lock) => lock.release()));
        }
      }),
      fuzzParameters(15),
    );
  });

  it('session records, embeddings and idempotency: reads see only their own tenant\'s writes', async () => {
    const records = booted.get(SessionRecords);
    const embeddings = booted.get(EmbeddingCache);
    const idempotency = booted.get(IdempotencyService);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(tenant, safeKey), { minLength: 1, maxLength: 12 }), async (writes) => {
        const run = runId();
        const model = new Map<string, number>();
        for (const [i, [t, k]] of writes.entries()) {
          model.set(`${t}\n${k}`, i);
          await records.set(run + k.replace(/[:%]/g, '-'), i, { tenant: t });
          await embeddings.store(run + k, [i], { tenant: t, model: 'm:1' });
          const ran = await idempotency.run(run + k.replace(/[^A-Za-z0-9-]/g, '-'), () => i, { tenant: t });
          // The first run of a tenant's key stores its value; later ones replay it.
          expect(ran).toBeLessThanOrEqual(i);
        }
        for (const t of TENANTS) {
          for (const [, k] of writes) {
            const expected = model.get(`${t}\n${k}`);
            // Session record ids cannot hold ':' or '%': keys that differ only there share a record, by the test's own mapping.
            const sameRecord = writes.map(([wt, wk], i) => [wt, wk.replace(/[:%]/g, '-'), i] as const).filter(([wt, wk]) => wt === t && wk === k.replace(/[:%]/g, '-'));
            expect({ t, k, record: await records.get(run + k.replace(/[:%]/g, '-'), { tenant: t }) }).toEqual({ t, k, record: sameRecord.at(-1)?.[2] });
            const vector = await embeddings.retrieve(run + k, { tenant: t, model: 'm:1' });
            expect({ t, k, vector: vector === undefined ? undefined : [...vector] }).toEqual({ t, k, vector: expected === undefined ? undefined : [expected] });
          }
        }
      }),
      fuzzParameters(10),
    );
  });

  it('streams: a tenant reads only its own entries of a stream name', async () => {
    const streams = booted.get(StreamService);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(tenant, fc.constantFrom('s', 's.a', 'a.s')), { minLength: 1, maxLength: 12 }), async (appends) => {
        const run = `r${++runs}`;
        for (const [i, [t, s]] of appends.entries()) await streams.append(`${run}.${s}`, { i }, { tenant: t });
        for (const t of TENANTS) {
          for (const s of ['s', 's.a', 'a.s']) {
            const read = (await streams.read(`${run}.${s}`, { tenant: t, count: 100 })).map((e) => (e.payload as { i: number }).i);
            const expected = appends.flatMap(([wt, ws], i) => (wt === t && ws === s ? [i] : []));
            expect({ t, s, read }).toEqual({ t, s, read: expected });
          }
        }
      }),
      fuzzParameters(8),
    );
  });

  it('values with __proto__, constructor and prototype own keys round-trip as own keys through every store, and pollute nothing', async () => {
    const cache = booted.get(CacheService);
    const sessions = booted.get(SessionService);
    const records = booted.get(SessionRecords);
    const streams = booted.get(StreamService);
    const tasks = booted.get(TaskService);
    const idempotency = booted.get(IdempotencyService);
    const bus = booted.get(EventBus);
    await fc.assert(
      fc.asyncProperty(roundTripPayload, tenant, async (value, t) => {
        const run = runId();
        const received: Array<CoordinationEvent> = [];
        const events = bus.on(`${run}*`, { tenant: t });
        const subscription = events.subscribe((event) => received.push(event));
        try {
          await events.ready();
          const reads: Array<[string, unknown]> = [];
          await cache.set(`${run}k`, value, { tenant: t, l1: false });
          reads.push(['cache.get', await cache.get(`${run}k`, { tenant: t, l1: false })]);
          await cache.set(`${run}l1`, value, { tenant: t, l1: true });
          reads.push(['cache.get (l1)', await cache.get(`${run}l1`, { tenant: t, l1: true })]);
          await cache.mset([{ key: `${run}m`, value }], { tenant: t });
          reads.push(['cache.mget', (await cache.mget([`${run}m`], { tenant: t }))[0]]);
          const session = await sessions.create('u-1', { value } as never, { tenant: t, metadata: value as Record<string, unknown> });
          reads.push(['sessions.create data', (session.data as { value: unknown }).value], ['sessions.create metadata', session.metadata]);
          const updated = await sessions.update(session.id, value as never, { tenant: t });
          reads.push(['sessions.update patch', pick(updated.data, value)]);
          const loaded = await sessions.get(session.id, { tenant: t });
          reads.push(['sessions.get data', (loaded!.data as { value: unknown }).value], ['sessions.get metadata', loaded!.metadata], ['sessions.get patch', pick(loaded!.data, value)]);
          await records.set(`${run}r`, value, { tenant: t });
          reads.push(['sessionRecords.get', await records.get(`${run}r`, { tenant: t })]);
          await streams.append(`${run}s`, value, { tenant: t });
          reads.push(['streams.read', (await streams.read(`${run}s`, { tenant: t }))[0]?.payload]);
          const task = await tasks.enqueue(`${run}t`, value, { tenant: t, delayMs: 60_000 });
          reads.push(['tasks.enqueue', task.payload], ['tasks.get', (await tasks.get(task.id, { tenant: t }))?.payload]);
          await idempotency.run(`${run}i`, () => value, { tenant: t });
          reads.push(['idempotency.run replay', await idempotency.run(`${run}i`, () => 'ran twice', { tenant: t })]);
          await bus.publish(`${run}e`, value, { tenant: t });
          await until(() => received.length > 0, { timeoutMs: 5_000, message: 'the published event' });
          reads.push(['events.on payload', received[0].payload]);

          for (const [where, read] of reads) {
            expect({ where, json: JSON.stringify(read), ownKeys: ownProtoKeysKept(value, read) }).toEqual({ where, json: JSON.stringify(value), ownKeys: true });
          }
          assertNoPollution(prototypes);
          await watch.assertNone('round trips');
        } finally {
          subscription.unsubscribe();
        }
      }),
      fuzzParameters(12),
    );
  });

  if (driver.name !== 'memory') {
    it('leaves every key under the prefix in a tenant the runs used (SCAN of every master)', async () => {
      const keys = await scanKeys(booted.core, `${prefix}:*`);
      const shared = new Set(['ratelimit-fleet', 'session-prune', 'tasks-bullmq']);
      const strays = keys.filter((key) => {
        const [, t, capability] = key.split(':');
        return !(TENANTS.includes(t) || (t === '_shared' && shared.has(capability)));
      });
      expect({ keys: keys.length > 0, strays: strays.slice(0, 10) }).toEqual({ keys: true, strays: [] });
    });
  }
});

/** The fields of `patch` as `data` holds them, in `patch`'s order (own keys only, `__proto__` too). */
function pick(data: unknown, patch: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(patch as object)) {
    Object.defineProperty(out, key, { value: Object.getOwnPropertyDescriptor(data, key)?.value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
