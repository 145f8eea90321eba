import { randomBytes } from 'node:crypto';
import type { CacheStore } from '../../../libs/coordination/src/cache/cache-store.interface.js';
import type { KeyBuilder } from '../../support/internals.js';
import { describeCacheStoreMatchingContract } from './cache-store.contract-matching.js';

/** One cache store under test. */
export interface CacheStoreUnderTest {
  readonly store: CacheStore;
  /** A real KeyBuilder on the store's own prefix: the suite builds every key as the services do. */
  readonly keys: KeyBuilder;
  /** Lets `ms` pass for the store: memory advances its ManualClock, Redis awaits that much server time. */
  elapse(ms: number): Promise<void>;
  /** How many masters hold the data (1 but on a cluster), and how many of them hold some of `keys`. */
  readonly masters: number;
  mastersHolding(keys: readonly string[]): Promise<number>;
  close(): Promise<void>;
}

/** Long enough that nothing expires while a test relies on it. */
const LONG = 60_000;
/** A lifetime a test lets run out (Redis: in real time, awaited). */
const SHORT = 100;

/**
 * The CacheStore contract, asserted on the store interface itself with keys from a real
 * KeyBuilder (several tenants, many slots): reads and writes with lifetimes, fills under a
 * lease, leases, tag counters under concurrency, binary values, memory usage, and (in
 * cache-store.contract-matching.ts) pattern deletion. Every implementation must pass it unchanged.
 * `exactClock`: the store runs on a ManualClock that `elapse` moves, so lifetime boundaries are
 * asserted to the millisecond (Redis expires in real time: there the suite only awaits expiry).
 * `manyKeys`: how many keys one call gets in the large-call test (200 000 where a multi-key
 * command is built from them, which once overflowed the call stack; fewer on a cluster, where
 * every key is its own command and the count only costs time).
 *
 * @example
 * describe.each(DRIVERS)('CacheStore contract ($name)', (driver) =>
 *   describeCacheStoreContract(() => storeFor(driver), { exactClock: driver.name === 'memory' }));
 */
export function describeCacheStoreContract(
  createStore: () => Promise<CacheStoreUnderTest>, { exactClock, manyKeys }: { exactClock: boolean; manyKeys: number },
): void {
  let s: CacheStoreUnderTest;
  let n = 0;
  beforeAll(async () => {
    s = await createStore();
  });
  afterAll(() => s.close());

  /** A fresh entry key (and its lease) of `tenant`, on its own slot. */
  const entry = (tenant = 'acme') => {
    const resource = `k${++n}:${randomBytes(3).toString('hex')}`;
    return { key: s.keys.key(tenant, 'cache', resource), lease: s.keys.key(tenant, 'cache', resource, { suffix: 'lease' }) };
  };
  const counter = (tenant = 'acme') => s.keys.key(tenant, 'cache-tag', `tag${++n}`);

  describe('get / set / lifetimes', () => {
    it('reads what was written, null for a key never written; set replaces the value', async () => {
      const { key } = entry();
      expect(await s.store.get(key)).toBeNull();
      await s.store.set(key, 'v1 ✓ ünïcode', LONG);
      expect(await s.store.get(key)).toBe('v1 ✓ ünïcode');
      expect(await s.store.exists(key)).toBe(true);
      await s.store.set(key, '', LONG);
      expect(await s.store.get(key)).toBe('');
      expect(await s.store.exists(entry().key)).toBe(false);
    });

    it('an entry is gone once its lifetime passed; set starts a new lifetime', async () => {
      const { key } = entry();
      const other = entry().key;
      await s.store.set(key, 'short', SHORT);
      await s.store.set(other, 'long', LONG);
      await s.elapse(SHORT + 1);
      expect(await s.store.get(key)).toBeNull();
      expect(await s.store.exists(key)).toBe(false);
      expect(await s.store.get(other)).toBe('long');
      await s.store.set(key, 'again', LONG);
      await s.elapse(SHORT + 1);
      expect(await s.store.get(key)).toBe('again');
    });

    // Redis expires in real time: only the ManualClock of the memory store can stop at the boundary.
    if (exactClock) it('the lifetime ends exactly ttlMs after the write, fractions rounded up', async () => {
      const { key } = entry();
      await s.store.set(key, 'v', 1_000.2);
      await s.elapse(1_000);
      expect(await s.store.get(key)).toBe('v');
      await s.elapse(1);
      expect(await s.store.get(key)).toBeNull();
    });

    it('refuses a lifetime that is not a finite number > 0 up to Number.MAX_SAFE_INTEGER, naming ttlMs, before writing anything', async () => {
      const { key, lease } = entry();
      // Past MAX_SAFE_INTEGER a number no longer prints as an integer (1e21 -> "1e+21"), which Redis refuses.
      for (const bad of [0, -1, NaN, Infinity, 1e21, Number.MAX_SAFE_INTEGER + 2]) {
        await expect(s.store.set(key, 'v', bad)).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT', argument: 'ttlMs' });
        await expect(s.store.setMany([{ key, value: 'v', ttlMs: bad }])).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT', argument: 'ttlMs' });
        await expect(s.store.setBuffers([{ key, value: Buffer.from('v'), ttlMs: bad }])).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT', argument: 'ttlMs' });
        await expect(s.store.tryLease(lease, 't', bad)).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT', argument: 'ttlMs' });
        await expect(s.store.takeLease(lease, 't', bad)).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT', argument: 'ttlMs' });
        await expect(s.store.fill(key, 'v', bad, { key: lease, token: 't' })).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT', argument: 'ttlMs' });
      }
      await expect(s.store.setMany([{ key, value: 'a', ttlMs: LONG }, { key: entry().key, value: 'b', ttlMs: 0 }])).rejects.toMatchObject({ argument: 'ttlMs' });
      expect(await s.store.exists(key)).toBe(false);
      expect(await s.store.exists(lease)).toBe(false);
      // The largest lifetime accepted is stored as such by every store.
      await s.store.set(key, 'v', Number.MAX_SAFE_INTEGER);
      expect(await s.store.get(key)).toBe('v');
    });

    it('getMany answers in order, null for misses, across tenants and slots; empty in, empty out', async () => {
      const written = Array.from({ length: 40 }, (_, i) => entry(['acme', 'globex', 'initech'][i % 3]).key);
      await s.store.setMany(written.map((key, i) => ({ key, value: `v${i}`, ttlMs: LONG })));
      const asked = written.flatMap((key, i) => (i % 4 === 0 ? [key, entry().key] : [key]));
      const expected = written.flatMap((_, i) => (i % 4 === 0 ? [`v${i}`, null] : [`v${i}`]));
      expect(await s.store.getMany(asked)).toEqual(expected);
      expect(await s.store.getMany([])).toEqual([]);
      await s.store.setMany([]);
      expect(await s.mastersHolding(written)).toBe(s.masters);
    });

    it(`getMany, readCounters, getBuffers and delete take ${manyKeys} keys in one call`, async () => {
      const many = Array.from({ length: manyKeys }, (_, i) => s.keys.key('acme', 'cache', `many${n}:${i}`));
      const [first, last] = [many[0], many[many.length - 1]];
      await s.store.setMany([{ key: first, value: '7', ttlMs: LONG }, { key: last, value: '9', ttlMs: LONG }]);
      const values = await s.store.getMany(many);
      expect([values.length, values[0], values[1], values.at(-1)]).toEqual([many.length, '7', null, '9']);
      const counters = await s.store.readCounters(many);
      expect([counters.length, counters[0], counters[1], counters.at(-1)]).toEqual([many.length, 7, 0, 9]);
      const buffers = await s.store.getBuffers(many);
      expect([buffers.length, buffers[0]?.toString(), buffers[1], buffers.at(-1)?.toString()]).toEqual([many.length, '7', null, '9']);
      expect(await s.store.delete(many)).toBe(2);
    }, 60_000); // 200 000 keys in chunked multi-key commands: seconds, not a timing assertion

    it('setMany gives each entry its own lifetime', async () => {
      const [short, long] = [entry().key, entry().key];
      await s.store.setMany([{ key: short, value: 's', ttlMs: SHORT }, { key: long, value: 'l', ttlMs: LONG }]);
      await s.elapse(SHORT + 1);
      expect(await s.store.getMany([short, long])).toEqual([null, 'l']);
    });

    it('delete counts the keys that existed (a key named twice once)', async () => {
      const [a, b, missing] = [entry().key, entry('globex').key, entry().key];
      await s.store.setMany([{ key: a, value: 'a', ttlMs: LONG }, { key: b, value: 'b', ttlMs: LONG }]);
      expect(await s.store.delete([a, b, missing, a])).toBe(2);
      expect(await s.store.getMany([a, b])).toEqual([null, null]);
      expect(await s.store.delete([a, b])).toBe(0);
      expect(await s.store.delete([])).toBe(0);
    });
  });

  describe('leases and fill', () => {
    it('of many concurrent tryLease calls exactly one wins; the lease holds its token until it expires', async () => {
      const { lease } = entry();
      const tokens = Array.from({ length: 50 }, (_, i) => `token-${i}`);
      const won = await Promise.all(tokens.map((t) => s.store.tryLease(lease, t, SHORT)));
      expect(won.filter(Boolean)).toHaveLength(1);
      const winner = tokens[won.indexOf(true)];
      expect(await s.store.get(lease)).toBe(winner);
      expect(await s.store.tryLease(lease, winner, LONG)).toBe(false); // SET NX: not even the holder renews
      await s.elapse(SHORT + 1);
      expect(await s.store.tryLease(lease, 'late', LONG)).toBe(true);
    });

    it('releaseLease drops the lease only for its holder', async () => {
      const { lease } = entry();
      await s.store.tryLease(lease, 'holder', LONG);
      expect(await s.store.releaseLease(lease, 'intruder')).toBe(false);
      expect(await s.store.get(lease)).toBe('holder');
      expect(await s.store.releaseLease(lease, 'holder')).toBe(true);
      expect(await s.store.exists(lease)).toBe(false);
      expect(await s.store.releaseLease(lease, 'holder')).toBe(false);
      expect(await s.store.tryLease(lease, 'next', LONG)).toBe(true);
    });

    it('fill by the holder writes the entry with its lifetime and drops the lease', async () => {
      const { key, lease } = entry();
      await s.store.tryLease(lease, 'mine', LONG);
      expect(await s.store.fill(key, 'loaded', SHORT, { key: lease, token: 'mine' })).toBe(true);
      expect(await s.store.get(key)).toBe('loaded');
      expect(await s.store.exists(lease)).toBe(false);
      await s.elapse(SHORT + 1);
      expect(await s.store.get(key)).toBeNull();
    });

    it('fill under a foreign lease writes nothing and leaves the lease to its holder', async () => {
      const { key, lease } = entry();
      await s.store.set(key, 'old', LONG);
      await s.store.tryLease(lease, 'theirs', LONG);
      expect(await s.store.fill(key, 'mine', LONG, { key: lease, token: 'mine' })).toBe(false);
      expect(await s.store.get(key)).toBe('old');
      expect(await s.store.get(lease)).toBe('theirs');
    });

    it('fill after the lease expired (or without one) writes nothing', async () => {
      const { key, lease } = entry();
      await s.store.tryLease(lease, 'mine', SHORT);
      await s.elapse(SHORT + 1);
      expect(await s.store.fill(key, 'late', LONG, { key: lease, token: 'mine' })).toBe(false);
      expect(await s.store.exists(key)).toBe(false);
      expect(await s.store.exists(lease)).toBe(false);
      const other = entry();
      expect(await s.store.fill(other.key, 'no lease', LONG, { key: other.lease, token: 'mine' })).toBe(false);
      expect(await s.store.exists(other.key)).toBe(false);
    });

    it('set, setMany and delete given the entry\'s lease drop it first: its holder\'s fill writes nothing', async () => {
      const [a, b, c, d] = [entry(), entry(), entry('globex'), entry()];
      for (const { lease } of [a, b, c, d]) expect(await s.store.tryLease(lease, 'loader', LONG)).toBe(true);
      await s.store.set(a.key, 'written', LONG, a.lease);
      await s.store.setMany([{ key: b.key, value: 'written', ttlMs: LONG, lease: b.lease }, { key: c.key, value: 'written', ttlMs: LONG, lease: c.lease }]);
      await s.store.set(d.key, 'to delete', LONG);
      expect(await s.store.delete([d.key, entry().key], [d.lease])).toBe(1); // leases are not counted
      for (const { key, lease } of [a, b, c, d]) {
        expect(await s.store.exists(lease)).toBe(false);
        expect(await s.store.fill(key, 'loaded before the write', LONG, { key: lease, token: 'loader' })).toBe(false);
      }
      expect(await s.store.getMany([a.key, b.key, c.key, d.key])).toEqual(['written', 'written', 'written', null]);
      expect(await s.store.delete([a.key], [a.lease])).toBe(1);
    });

    it('takeLease takes the lease whoever holds it: the previous holder can neither fill nor release it', async () => {
      const { key, lease } = entry();
      await s.store.tryLease(lease, 'stuck', LONG);
      await s.store.takeLease(lease, 'fallback', LONG);
      expect(await s.store.get(lease)).toBe('fallback');
      expect(await s.store.fill(key, 'stuck value', LONG, { key: lease, token: 'stuck' })).toBe(false);
      expect(await s.store.releaseLease(lease, 'stuck')).toBe(false);
      expect(await s.store.fill(key, 'fallback value', LONG, { key: lease, token: 'fallback' })).toBe(true);
      expect(await s.store.get(key)).toBe('fallback value');
      expect(await s.store.exists(lease)).toBe(false);
      await s.store.takeLease(lease, 'short', SHORT); // takes a free lease too, with its lifetime
      await s.elapse(SHORT + 1);
      expect(await s.store.tryLease(lease, 'next', LONG)).toBe(true);
      await expect(s.store.takeLease(lease, 't', 0)).rejects.toMatchObject({ argument: 'ttlMs' });
    });
  });

  describe('tag counters', () => {
    it('read 0 when absent, in the order asked; bump returns the new values in order', async () => {
      const [a, b, c] = [counter(), counter('globex'), counter()];
      expect(await s.store.readCounters([a, b, c])).toEqual([0, 0, 0]);
      expect(await s.store.bumpCounters([a, b])).toEqual([1, 1]);
      expect(await s.store.bumpCounters([a])).toEqual([2]);
      expect(await s.store.readCounters([c, b, a])).toEqual([0, 1, 2]);
      expect(await s.store.readCounters([])).toEqual([]);
      expect(await s.store.bumpCounters([])).toEqual([]);
    });

    it('N concurrent bumps of one counter leave it at N, each bump seeing its own value', async () => {
      const [tag, other] = [counter(), counter('initech')];
      const bumps = await Promise.all(Array.from({ length: 100 }, (_, i) => s.store.bumpCounters(i % 2 ? [tag, other] : [tag])));
      expect(bumps.map((values) => values[0]).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(await s.store.readCounters([tag, other])).toEqual([100, 50]);
    });

    it('counters have no lifetime', async () => {
      const tag = counter();
      await s.store.bumpCounters([tag]);
      await s.elapse(SHORT + 1);
      expect(await s.store.readCounters([tag])).toEqual([1]);
    });
  });

  describe('binary values and memory usage', () => {
    const bytes = (length: number) => {
      const b = randomBytes(length);
      for (let i = 0; i < length; i += 7) b[i] = 0; // zero bytes, and invalid UTF-8 from the random ones
      return b;
    };

    it('buffers round-trip bit-exact, in order with misses, each with its lifetime', async () => {
      const keys = Array.from({ length: 12 }, (_, i) => s.keys.key(i % 2 ? 'acme' : 'globex', 'embedding', randomBytes(32).toString('base64url')));
      const values = keys.map((_, i) => bytes(i === 0 ? 0 : 1_536 * 4 + i));
      values[1] = Buffer.from(new Float32Array([0, -0, NaN, Infinity, 1e-45, 3.4e38]).buffer);
      // Long enough to outlive the round trips before the first read on a loaded machine (SHORT,
      // 100 ms, once expired before it on the redis drivers).
      const brief = 1_000;
      await s.store.setBuffers(keys.map((key, i) => ({ key, value: values[i], ttlMs: i === 2 ? brief : LONG })));
      const read = await s.store.getBuffers([...keys, entry().key]);
      expect(read.at(-1)).toBeNull();
      read.slice(0, -1).forEach((b, i) => expect(Buffer.isBuffer(b) && b.equals(values[i])).toBe(true));
      expect(await s.store.getBuffers([])).toEqual([]);
      await s.elapse(brief + 1);
      expect((await s.store.getBuffers([keys[2], keys[3]])).map((b) => b?.length ?? null)).toEqual([null, values[3].length]);
    });

    it('a stored buffer shares no bytes with the caller: neither the one written nor the ones read', async () => {
      const key = s.keys.key('acme', 'embedding', randomBytes(32).toString('base64url'));
      const value = bytes(64);
      const original = Buffer.from(value);
      await s.store.setBuffers([{ key, value, ttlMs: LONG }]);
      value.fill(1);
      const [first] = await s.store.getBuffers([key]);
      first!.fill(2);
      const [second] = await s.store.getBuffers([key]);
      expect(second!.equals(original)).toBe(true);
    });

    it('memoryUsage is about the size of key and value; null when absent', async () => {
      const { key } = entry();
      await s.store.set(key, 'x'.repeat(1_000), LONG);
      const usage = await s.store.memoryUsage(key);
      expect(usage).toBeGreaterThanOrEqual(1_000 + Buffer.byteLength(key));
      expect(usage).toBeLessThanOrEqual(1_000 + Buffer.byteLength(key) + 100);
      expect(await s.store.memoryUsage(entry().key)).toBeNull();
    });
  });

  describe('deleteMatching', () => describeCacheStoreMatchingContract(() => s));
}
