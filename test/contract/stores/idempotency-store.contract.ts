import { randomBytes } from 'node:crypto';
import type { IdempotencyStore } from '../../../libs/coordination/src/idempotency/idempotency-store.interface.js';
import { Serializer } from '../../../libs/coordination/src/serialization/serializer.js';
import type { KeyBuilder } from '../../support/internals.js';

/** One idempotency store under test. */
export interface IdempotencyStoreUnderTest {
  readonly store: IdempotencyStore;
  /** A KeyBuilder on the store's own prefix: the suite builds keys as IdempotencyService does. */
  readonly builder: KeyBuilder;
  /** The store's clock: the ManualClock in memory, the server's TIME on Redis. */
  now(): Promise<number>;
  /** Lets `ms` pass for the store: memory advances its ManualClock, Redis awaits that much server time. */
  elapse(ms: number): Promise<void>;
  /** When `key` expires (epoch ms; Infinity without a lifetime), null when it does not exist (Redis: PEXPIRETIME). */
  expiryOf(key: string): Promise<number | null>;
  close(): Promise<void>;
}

/** Long enough that nothing expires while a test relies on it. */
const LONG = 600_000;
/** A lifetime a test lets run out (Redis: in real time, awaited). */
const SHORT = 100;
/** A lease that must outlive a few round trips on a loaded machine. */
const SAFE = 2_000;

/**
 * The IdempotencyStore contract, asserted on the store interface itself with keys built as
 * IdempotencyService builds them (several tenants, resources on many slots): check-and-lock,
 * replay, mismatch, leases (expiry, renewal, takeover), completion and abandon only by the
 * owner, the replay ttl, large and binary outcomes, and concurrent begins. Every implementation
 * must pass it unchanged. `exactClock`: the store runs on a ManualClock that `elapse` moves, so
 * lifetimes are asserted to the millisecond (Redis expires in real time: there the suite bounds
 * each lifetime by the clock read before and after, and awaits expiry).
 *
 * @example
 * describe.each(DRIVERS)('IdempotencyStore contract ($name)', (driver) =>
 *   describeIdempotencyStoreContract(() => storeFor(driver), { exactClock: driver.name === 'memory' }));
 */
export function describeIdempotencyStoreContract(createStore: () => Promise<IdempotencyStoreUnderTest>, { exactClock }: { exactClock: boolean }): void {
  let s: IdempotencyStoreUnderTest;
  let n = 0;
  beforeAll(async () => {
    s = await createStore();
  });
  afterAll(() => s.close());

  /** A fresh record key: `<namespace>\n<key>` with characters a key builder must encode. */
  const key = (tenant = 'acme'): string => s.builder.key(tenant, 'idempotency', `u:ada {x}\n${++n}:${randomBytes(4).toString('hex')}`);
  const owner = (): string => `instance-1:${randomBytes(6).toString('hex')}`;
  const FP = 'f'.repeat(64);
  const OTHER_FP = 'e'.repeat(64);

  describe('begin / complete / replay', () => {
    it('acquires a free key, answers in-flight to the same fingerprint, and replays the outcome once completed', async () => {
      const k = key();
      const a = owner();
      expect(await s.store.begin(k, FP, a, LONG)).toEqual({ kind: 'acquired' });
      expect(await s.store.begin(k, FP, owner(), LONG)).toMatchObject({ kind: 'in-flight' });
      expect(await s.store.begin(k, FP, a, LONG)).toMatchObject({ kind: 'in-flight' }); // the owner itself gets no second claim
      expect(await s.store.complete(k, a, '1J{"paid":42}', LONG)).toBe(true);
      expect(await s.store.begin(k, FP, owner(), LONG)).toEqual({ kind: 'completed', outcome: '1J{"paid":42}' });
      expect(await s.store.begin(k, FP, owner(), LONG)).toEqual({ kind: 'completed', outcome: '1J{"paid":42}' });
    });

    it('replays an empty outcome as the empty string', async () => {
      const k = key();
      const a = owner();
      await s.store.begin(k, FP, a, LONG);
      expect(await s.store.complete(k, a, '', LONG)).toBe(true);
      expect(await s.store.begin(k, FP, owner(), LONG)).toEqual({ kind: 'completed', outcome: '' });
    });

    it('keeps the same resource of two tenants apart', async () => {
      const resource = `u:ada\nsame-${randomBytes(4).toString('hex')}`;
      const k1 = s.builder.key('acme', 'idempotency', resource);
      const k2 = s.builder.key('globex', 'idempotency', resource);
      expect(await s.store.begin(k1, FP, owner(), LONG)).toEqual({ kind: 'acquired' });
      expect(await s.store.begin(k2, OTHER_FP, owner(), LONG)).toEqual({ kind: 'acquired' });
    });

    it('the empty fingerprint is a fingerprint like another: it mismatches a non-empty one', async () => {
      const k = key();
      await s.store.begin(k, '', owner(), LONG);
      expect(await s.store.begin(k, '', owner(), LONG)).toMatchObject({ kind: 'in-flight' });
      expect(await s.store.begin(k, FP, owner(), LONG)).toEqual({ kind: 'mismatch' });
    });
  });

  describe('mismatch', () => {
    it('answers mismatch for another fingerprint while the first attempt is in flight, and changes nothing', async () => {
      const k = key();
      const a = owner();
      await s.store.begin(k, FP, a, LONG);
      expect(await s.store.begin(k, OTHER_FP, owner(), LONG)).toEqual({ kind: 'mismatch' });
      expect(await s.store.begin(k, FP, owner(), LONG)).toMatchObject({ kind: 'in-flight' });
      expect(await s.store.complete(k, a, 'first', LONG)).toBe(true); // still owned by the first attempt
    });

    it('answers mismatch for another fingerprint after completion, and never gives its outcome', async () => {
      const k = key();
      const a = owner();
      await s.store.begin(k, FP, a, LONG);
      await s.store.complete(k, a, 'secret', LONG);
      expect(await s.store.begin(k, OTHER_FP, owner(), LONG)).toEqual({ kind: 'mismatch' });
      expect(await s.store.begin(k, FP, owner(), LONG)).toEqual({ kind: 'completed', outcome: 'secret' });
    });
  });

  describe('leases', () => {
    it('tells an in-flight duplicate when the lease ends: 0 < retryAfterMs <= leaseMs', async () => {
      const k = key();
      await s.store.begin(k, FP, owner(), 30_000);
      const begun = await s.store.begin(k, FP, owner(), LONG);
      if (begun.kind !== 'in-flight') throw new Error(`expected in-flight, got ${JSON.stringify(begun)}`);
      expect(begun.retryAfterMs).toBeGreaterThan(0);
      expect(begun.retryAfterMs).toBeLessThanOrEqual(30_000);
      if (exactClock) expect(begun.retryAfterMs).toBe(30_000);
      await s.elapse(exactClock ? 10_000 : 50);
      const later = await s.store.begin(k, FP, owner(), LONG);
      if (later.kind !== 'in-flight') throw new Error(`expected in-flight, got ${JSON.stringify(later)}`);
      expect(later.retryAfterMs).toBeLessThan(begun.retryAfterMs);
      if (exactClock) expect(later.retryAfterMs).toBe(20_000);
    });

    it('writes the in-flight record with a lifetime of leaseMs', async () => {
      const k = key();
      const before = await s.now();
      await s.store.begin(k, FP, owner(), 45_000);
      const after = await s.now();
      const expiry = await s.expiryOf(k);
      expect(expiry).toBeGreaterThanOrEqual(before + 45_000);
      expect(expiry).toBeLessThanOrEqual(after + 45_000);
    });

    it('frees the key when the lease expires: the next begin acquires it (even with another fingerprint)', async () => {
      const k = key();
      await s.store.begin(k, FP, owner(), SHORT);
      if (exactClock) {
        await s.elapse(SHORT - 1);
        expect(await s.store.begin(k, FP, owner(), LONG)).toEqual({ kind: 'in-flight', retryAfterMs: 1 });
        await s.elapse(1);
      } else {
        await s.elapse(SHORT + 1);
      }
      expect(await s.store.begin(k, OTHER_FP, owner(), LONG)).toEqual({ kind: 'acquired' });
      expect(await s.store.begin(k, FP, owner(), LONG)).toEqual({ kind: 'mismatch' });
    });

    it('renew extends the lease of the owner', async () => {
      const k = key();
      const a = owner();
      await s.store.begin(k, FP, a, SAFE);
      expect(await s.store.renew(k, a, LONG)).toBe(true);
      const begun = await s.store.begin(k, FP, owner(), LONG);
      if (begun.kind !== 'in-flight') throw new Error(`expected in-flight, got ${JSON.stringify(begun)}`);
      expect(begun.retryAfterMs).toBeGreaterThan(SAFE);
      expect(begun.retryAfterMs).toBeLessThanOrEqual(LONG);
      if (exactClock) expect(begun.retryAfterMs).toBe(LONG);
      expect(await s.store.renew(k, a, SAFE)).toBe(true); // a renewal sets the lease, it may shorten it
      const shortened = await s.store.begin(k, FP, owner(), LONG);
      expect(shortened).toMatchObject({ kind: 'in-flight' });
      expect((shortened as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(SAFE);
    });

    it('renew keeps a record alive past its first lease', async () => {
      const k = key();
      const a = owner();
      await s.store.begin(k, FP, a, SAFE);
      expect(await s.store.renew(k, a, LONG)).toBe(true);
      await s.elapse(SAFE + 1);
      expect(await s.store.begin(k, FP, owner(), LONG)).toMatchObject({ kind: 'in-flight' });
      expect(await s.store.complete(k, a, 'done', LONG)).toBe(true);
    });

    it('renew fails for a non-owner, after expiry, after completion and on a key never begun; nothing changes', async () => {
      const k = key();
      const a = owner();
      await s.store.begin(k, FP, a, SAFE);
      expect(await s.store.renew(k, owner(), LONG)).toBe(false);
      const begun = await s.store.begin(k, FP, owner(), LONG);
      expect((begun as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(SAFE);

      const expiring = key();
      const b = owner();
      await s.store.begin(expiring, FP, b, SHORT);
      await s.elapse(SHORT + 1);
      expect(await s.store.renew(expiring, b, LONG)).toBe(false);
      expect(await s.store.begin(expiring, FP, owner(), LONG)).toEqual({ kind: 'acquired' }); // the renewal wrote nothing

      const completed = key();
      const c = owner();
      await s.store.begin(completed, FP, c, LONG);
      await s.store.complete(completed, c, 'out', SAFE);
      expect(await s.store.renew(completed, c, LONG)).toBe(false);
      expect((await s.expiryOf(completed))!).toBeLessThanOrEqual((await s.now()) + SAFE);

      expect(await s.store.renew(key(), owner(), LONG)).toBe(false);
    });

    it('complete after the lease expired and another attempt took the key returns false and does not overwrite', async () => {
      const k = key();
      const late = owner();
      const next = owner();
      await s.store.begin(k, FP, late, SHORT);
      await s.elapse(SHORT + 1);
      expect(await s.store.begin(k, FP, next, LONG)).toEqual({ kind: 'acquired' });
      expect(await s.store.complete(k, late, 'late outcome', LONG)).toBe(false);
      expect(await s.store.begin(k, FP, owner(), LONG)).toMatchObject({ kind: 'in-flight' });
      expect(await s.store.abandon(k, late)).toBe(false);
      expect(await s.store.renew(k, late, LONG)).toBe(false);
      expect(await s.store.complete(k, next, 'next outcome', LONG)).toBe(true);
      expect(await s.store.begin(k, FP, owner(), LONG)).toEqual({ kind: 'completed', outcome: 'next outcome' });
    });

    it('complete after the lease expired (no other attempt) returns false and writes nothing', async () => {
      const k = key();
      const a = owner();
      await s.store.begin(k, FP, a, SHORT);
      await s.elapse(SHORT + 1);
      expect(await s.store.complete(k, a, 'late', LONG)).toBe(false);
      expect(await s.expiryOf(k)).toBeNull();
      expect(await s.store.begin(k, FP, owner(), LONG)).toEqual({ kind: 'acquired' });
    });
  });

  describe('complete / abandon are owner-only', () => {
    it('complete by a non-owner returns false and changes nothing; a second complete by the owner too', async () => {
      const k = key();
      const a = owner();
      await s.store.begin(k, FP, a, LONG);
      expect(await s.store.complete(k, owner(), 'intruder', LONG)).toBe(false);
      expect(await s.store.begin(k, FP, owner(), LONG)).toMatchObject({ kind: 'in-flight' });
      expect(await s.store.complete(k, a, 'first', LONG)).toBe(true);
      expect(await s.store.complete(k, a, 'second', LONG)).toBe(false);
      expect(await s.store.begin(k, FP, owner(), LONG)).toEqual({ kind: 'completed', outcome: 'first' });
      expect(await s.store.complete(key(), a, 'never begun', LONG)).toBe(false);
    });

    it('abandon by the owner frees the key at once (the next begin acquires it); by anyone else it returns false', async () => {
      const k = key();
      const a = owner();
      await s.store.begin(k, FP, a, LONG);
      expect(await s.store.abandon(k, owner())).toBe(false);
      expect(await s.store.begin(k, FP, owner(), LONG)).toMatchObject({ kind: 'in-flight' });
      expect(await s.store.abandon(k, a)).toBe(true);
      expect(await s.expiryOf(k)).toBeNull();
      expect(await s.store.abandon(k, a)).toBe(false);
      const b = owner();
      expect(await s.store.begin(k, OTHER_FP, b, LONG)).toEqual({ kind: 'acquired' });
      expect(await s.store.complete(k, a, 'stale', LONG)).toBe(false);
      expect(await s.store.abandon(key(), b)).toBe(false);
    });

    it('abandon cannot delete a completed record', async () => {
      const k = key();
      const a = owner();
      await s.store.begin(k, FP, a, LONG);
      await s.store.complete(k, a, 'kept', LONG);
      expect(await s.store.abandon(k, a)).toBe(false);
      expect(await s.store.begin(k, FP, owner(), LONG)).toEqual({ kind: 'completed', outcome: 'kept' });
    });
  });

  describe('completed records', () => {
    it('live ttlMs from completion, then the key is free again', async () => {
      const k = key();
      const a = owner();
      await s.store.begin(k, FP, a, LONG);
      const before = await s.now();
      expect(await s.store.complete(k, a, 'out', 1_000)).toBe(true);
      const after = await s.now();
      const expiry = await s.expiryOf(k);
      expect(expiry).toBeGreaterThanOrEqual(before + 1_000);
      expect(expiry).toBeLessThanOrEqual(after + 1_000);
      if (exactClock) {
        await s.elapse(999);
        expect(await s.store.begin(k, FP, owner(), LONG)).toEqual({ kind: 'completed', outcome: 'out' });
        await s.elapse(1);
      } else {
        await s.elapse(1_001);
      }
      expect(await s.store.begin(k, FP, owner(), LONG)).toEqual({ kind: 'acquired' });
    });
  });

  describe('outcomes', () => {
    it('stores and replays a 1 MB outcome', async () => {
      const k = key();
      const a = owner();
      const outcome = `1J"${randomBytes(600_000).toString('base64')}ü✓"`;
      expect(outcome.length).toBeGreaterThan(800_000);
      await s.store.begin(k, FP, a, LONG);
      expect(await s.store.complete(k, a, outcome, LONG)).toBe(true);
      const replayed = await s.store.begin(k, FP, owner(), LONG);
      expect(replayed.kind).toBe('completed');
      expect((replayed as { outcome: string }).outcome === outcome).toBe(true); // no 1 MB diff on failure
    });

    it('is binary-safe for whatever the serializer produces: NUL, control characters, any Unicode, compressed forms', async () => {
      const serializer = new Serializer();
      const codeUnits = (from: number, to: number): string => Array.from({ length: to - from }, (_, c) => String.fromCharCode(from + c)).join('');
      const everyCodeUnit = `${codeUnits(0, 0xd800)}${codeUnits(0xe000, 0x10000)}😀\u{10ffff}`; // every BMP character but the surrogates, and pairs
      const outcomes = [
        '\u0000a\u0000\r\n\t\u001b\u007f\u0080\u00ff',
        everyCodeUnit,
        serializer.encode({ bytes: randomBytes(4096), text: everyCodeUnit.slice(0, 2000), lone: '\ud800', when: new Date(0) }),
        serializer.encode(Buffer.from(Array.from({ length: 256 }, (_, b) => b))),
      ];
      for (const outcome of outcomes) {
        const k = key();
        const a = owner();
        await s.store.begin(k, FP, a, LONG);
        expect(await s.store.complete(k, a, outcome, LONG)).toBe(true);
        const replayed = await s.store.begin(k, FP, owner(), LONG);
        expect((replayed as { outcome: string }).outcome === outcome).toBe(true);
      }
      // And back through the serializer: the values survive.
      const k = key();
      const a = owner();
      const value = { bytes: Buffer.from([0, 1, 2, 254, 255]), text: 'ü ✓ 😀 \u0000', lone: '\udc00' };
      await s.store.begin(k, FP, a, LONG);
      await s.store.complete(k, a, serializer.encode(value), LONG);
      const replayed = await s.store.begin(k, FP, owner(), LONG);
      expect(serializer.decode((replayed as { outcome: string }).outcome)).toEqual(value);
    });

    it('fingerprints and owners of any characters compare exactly', async () => {
      const k = key();
      const fp = 'ü\u0000✓ {tag}\n';
      const a = 'owner\u0000ü';
      await s.store.begin(k, fp, a, LONG);
      expect(await s.store.begin(k, 'ü\u0000✓ {tag}', owner(), LONG)).toEqual({ kind: 'mismatch' });
      expect(await s.store.complete(k, 'owner\u0000', 'x', LONG)).toBe(false);
      expect(await s.store.complete(k, a, 'x', LONG)).toBe(true);
      expect(await s.store.begin(k, fp, owner(), LONG)).toEqual({ kind: 'completed', outcome: 'x' });
    });
  });

  describe('bad input', () => {
    it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('refuses a lifetime of %p before writing anything', async (ms) => {
      const k = key();
      const a = owner();
      await expect(s.store.begin(k, FP, a, ms)).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
      expect(await s.expiryOf(k)).toBeNull();
      await s.store.begin(k, FP, a, LONG);
      await expect(s.store.renew(k, a, ms)).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
      await expect(s.store.complete(k, a, 'x', ms)).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
      expect(await s.store.begin(k, FP, owner(), LONG)).toMatchObject({ kind: 'in-flight' });
    });
  });

  describe('concurrency', () => {
    it('of 20 concurrent begins exactly one acquires; the others see it in flight', async () => {
      const k = key();
      const owners = Array.from({ length: 20 }, owner);
      const results = await Promise.all(owners.map((o) => s.store.begin(k, FP, o, LONG)));
      const acquired = results.flatMap((r, i) => (r.kind === 'acquired' ? [owners[i]] : []));
      expect(acquired).toHaveLength(1);
      expect(results.filter((r) => r.kind === 'in-flight')).toHaveLength(19);
      const others = owners.filter((o) => o !== acquired[0]);
      expect(await Promise.all(others.map((o) => s.store.complete(k, o, 'not mine', LONG)))).toEqual(others.map(() => false));
      expect(await s.store.complete(k, acquired[0], 'mine', LONG)).toBe(true);
      expect(await s.store.begin(k, FP, owner(), LONG)).toEqual({ kind: 'completed', outcome: 'mine' });
    });

    it('of 20 concurrent begins on 20 keys each acquires its own', async () => {
      const keys = Array.from({ length: 20 }, () => key());
      const results = await Promise.all(keys.map((k) => s.store.begin(k, FP, owner(), LONG)));
      expect(results).toEqual(keys.map(() => ({ kind: 'acquired' })));
    });
  });
}
