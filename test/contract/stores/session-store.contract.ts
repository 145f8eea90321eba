import { randomBytes } from 'node:crypto';
import type { SessionKeys } from '../../../libs/coordination/src/sessions/session-keys.js';
import type {
  CreateSessionCommand, CreateSessionResult, SessionFields, SessionStore, UserSessionKeys,
} from '../../../libs/coordination/src/sessions/session-store.interface.js';
import type { KeyBuilder } from '../../support/internals.js';
import { describeSessionStoreIndexContract } from './session-store.contract-index.js';
import { describeSessionStoreRecordsContract } from './session-store.contract-records.js';
import { describeSessionStoreUpdateContract } from './session-store.contract-update.js';

/** One session store under test. */
export interface SessionStoreUnderTest {
  readonly store: SessionStore;
  /** SessionKeys and a KeyBuilder on the store's own prefix: the suite builds every key as the services do. */
  readonly keys: SessionKeys;
  readonly builder: KeyBuilder;
  /** The store's `indexGraceMs`: an index lives until the latest absolute expiry of its sessions plus this. */
  readonly indexGraceMs: number;
  /** The store's clock: the ManualClock in memory, the server's TIME on Redis. */
  now(): Promise<number>;
  /** Lets `ms` pass for the store: memory advances its ManualClock, Redis awaits that much server time. */
  elapse(ms: number): Promise<void>;
  /** When `key` expires (epoch ms; Infinity without a lifetime), null when it does not exist (Redis: PEXPIRETIME). */
  expiryOf(key: string): Promise<number | null>;
  /** How many masters hold the data (1 but on a cluster), and how many of them hold some of `keys`. */
  readonly masters: number;
  mastersHolding(keys: readonly string[]): Promise<number>;
  close(): Promise<void>;
}

/** Long enough that nothing expires while a test relies on it. */
export const LONG = 600_000;
/** A lifetime a test lets run out (Redis: in real time, awaited). */
export const SHORT = 100;

/** A user of the suite: tenant, id and keys. */
export interface TestUser {
  readonly tenant: string;
  readonly userId: string;
  readonly keys: UserSessionKeys;
}

/** A session the suite created: its member, key and the store's answer. */
export interface TestSession {
  readonly member: string;
  readonly key: string;
  readonly result: CreateSessionResult;
  /** The stored record (throws if the store refused the session). */
  readonly fields: SessionFields;
}

/** Users, sessions and field helpers shared by the parts of the suite. */
export interface SessionFixtures {
  user(tenant?: string): TestUser;
  create(user: TestUser, options?: Partial<Pick<CreateSessionCommand, 'idleTtlMs' | 'absoluteTtlMs' | 'maxPerUser' | 'onLimit' | 'fields'>>): Promise<TestSession>;
  /** The service's fields of a session of `userId`, with data fields `d:*`. */
  serviceFields(userId: string, data?: Record<string, string>): SessionFields;
  /** The store's time fields as numbers. */
  times(fields: SessionFields): { t: number; l: number; e: number; x: number; i: number; v: number };
}

/**
 * The SessionStore contract, asserted on the store interface itself with keys from real
 * SessionKeys (several tenants, users on many slots, so on a cluster the scripts run on every
 * master): records and their time fields, sliding and absolute expiry, destroy and rename;
 * (in session-store.contract-update.ts) updates, compare-and-set and extend;
 * (in session-store.contract-index.ts) the per-user index: limits, listing, revoking,
 * pruning; (in session-store.contract-records.ts) scan, dump / restore, the flat records and
 * the pruner's pass lease.
 * Every implementation must pass it unchanged. `exactClock`: the store runs on a ManualClock
 * that `elapse` moves, so lifetime boundaries are asserted to the millisecond (Redis expires
 * in real time: there the suite asserts each key's expiry time instead, and awaits expiry).
 *
 * @example
 * describe.each(DRIVERS)('SessionStore contract ($name)', (driver) =>
 *   describeSessionStoreContract(() => storeFor(driver), { exactClock: driver.name === 'memory' }));
 */
export function describeSessionStoreContract(createStore: () => Promise<SessionStoreUnderTest>, { exactClock }: { exactClock: boolean }): void {
  let s: SessionStoreUnderTest;
  let n = 0;
  beforeAll(async () => {
    s = await createStore();
  });
  afterAll(() => s.close());

  const fixtures: SessionFixtures = {
    user: (tenant = 'acme') => {
      const userId = `user${++n}:${randomBytes(3).toString('hex')}`;
      return { tenant, userId, keys: s.keys.user(tenant, userId) };
    },
    create: async (user, options = {}) => {
      const { member } = s.keys.newId(user.tenant, user.userId);
      const result = await s.store.create({
        ...user.keys, member, fields: options.fields ?? fixtures.serviceFields(user.userId),
        idleTtlMs: options.idleTtlMs ?? LONG, absoluteTtlMs: options.absoluteTtlMs ?? 2 * LONG,
        maxPerUser: options.maxPerUser ?? 0, onLimit: options.onLimit ?? 'reject',
      });
      return {
        member, key: user.keys.sessionPrefix + member, result,
        get fields(): SessionFields {
          if (!result.created) throw new Error(`the store refused the session: ${JSON.stringify(result)}`);
          return result.fields;
        },
      };
    },
    serviceFields: (userId, data = { theme: '"dark"' }) => ({
      u: userId, c: 'acme-co', m: '{"ua":"jest"}', ...Object.fromEntries(Object.entries(data).map(([k, v]) => [`d:${k}`, v])),
    }),
    times: (f) => ({ t: Number(f.t), l: Number(f.l), e: Number(f.e), x: Number(f.x), i: Number(f.i), v: Number(f.v) }),
  };
  const { user, create, serviceFields, times } = fixtures;

  describe('create / read', () => {
    it("stores the service's fields and the time fields from the store's clock; the key expires at e, the index at x + the grace", async () => {
      const u = user();
      const before = await s.now();
      const { key, fields, result } = await create(u, { idleTtlMs: 60_000, absoluteTtlMs: 300_000, fields: serviceFields(u.userId, { a: '1', 'b:c': '"ü ✓"' }) });
      const after = await s.now();
      const { t, l, e, x, i, v } = times(fields);
      expect(t).toBeGreaterThanOrEqual(before);
      expect(t).toBeLessThanOrEqual(after);
      expect([l, e, x, i, v]).toEqual([t, t + 60_000, t + 300_000, 60_000, 1]);
      expect(fields).toEqual({ ...serviceFields(u.userId, { a: '1', 'b:c': '"ü ✓"' }), t: `${t}`, l: `${t}`, e: `${e}`, x: `${x}`, i: '60000', v: '1' });
      expect(result).toMatchObject({ created: true, evicted: [], expired: [] });
      expect(await s.store.read(key, false)).toEqual(fields);
      expect(await s.expiryOf(key)).toBe(e);
      expect(await s.expiryOf(u.keys.index)).toBe(x + s.indexGraceMs);
    });

    it('caps the idle expiry at the absolute one', async () => {
      const { key, fields } = await create(user(), { idleTtlMs: 300_000, absoluteTtlMs: 60_000 });
      const { t, e, x } = times(fields);
      expect([e, x]).toEqual([t + 60_000, t + 60_000]);
      expect(await s.expiryOf(key)).toBe(x);
    });

    it('reads null for a session never written; a read without touch changes nothing', async () => {
      const u = user();
      expect(await s.store.read(u.keys.sessionPrefix + s.keys.newId(u.tenant, u.userId).member, false)).toBeNull();
      expect(await s.store.read(u.keys.sessionPrefix + s.keys.newId(u.tenant, u.userId).member, true)).toBeNull();
      const { key, fields } = await create(u);
      await s.elapse(5);
      expect(await s.store.read(key, false)).toEqual(fields);
      expect(await s.expiryOf(key)).toBe(Number(fields.e));
    });

    it('a read with touch records the activity and restarts the idle lifetime, at most up to x', async () => {
      const { key, fields } = await create(user(), { idleTtlMs: 60_000, absoluteTtlMs: 60_100 });
      await s.elapse(50);
      const before = await s.now();
      const touched = (await s.store.read(key, true))!;
      const after = await s.now();
      const { l, e, x } = times(touched);
      expect(l).toBeGreaterThanOrEqual(before);
      expect(l).toBeLessThanOrEqual(after);
      expect(e).toBe(Math.min(l + 60_000, x));
      expect(l).toBeGreaterThan(Number(fields.l));
      expect(touched).toEqual({ ...fields, l: `${l}`, e: `${e}` });
      expect(await s.store.read(key, false)).toEqual(touched);
      expect(await s.expiryOf(key)).toBe(e);
      // Past x - 60 000 the absolute expiry caps the slide.
      await s.elapse(60);
      const capped = times((await s.store.read(key, true))!);
      expect(capped.e).toBe(capped.x);
      expect(await s.expiryOf(key)).toBe(capped.x);
    });

    it('a session is gone once its idle lifetime passed, for every operation', async () => {
      const u = user();
      const { key, member } = await create(u, { idleTtlMs: SHORT });
      const other = await create(u);
      await s.elapse(SHORT + 1);
      expect(await s.store.read(key, false)).toBeNull();
      expect(await s.store.read(key, true)).toBeNull();
      expect(await s.store.update(key, { set: { 'd:a': '1' }, unset: [], touch: true })).toEqual({ updated: false, reason: 'missing' });
      expect(await s.store.extend(key, LONG)).toBeNull();
      expect(await s.store.rename(u.keys, member, s.keys.newId(u.tenant, u.userId).member)).toBeNull();
      expect(await s.store.read(other.key, false)).toEqual(other.fields);
    });

    it('a session used all along is gone once its absolute lifetime passed', async () => {
      const u = user();
      // 2 s, not a few SHORTs: the session must outlive the round trips before the first read on a loaded cluster.
      const { key } = await create(u, { idleTtlMs: LONG, absoluteTtlMs: 2_000 });
      const keeper = await create(u); // a live session beside the one that ends
      await s.elapse(SHORT);
      expect(await s.store.read(key, true)).not.toBeNull();
      expect(await s.store.extend(key, LONG)).not.toBeNull();
      await s.elapse(2_000 - SHORT + 1);
      expect(await s.store.read(key, true)).toBeNull();
      expect(await s.store.read(key, false)).toBeNull();
      expect(await s.store.list(u.keys)).toEqual({ live: [{ member: keeper.member, fields: keeper.fields }], expired: [key.slice(u.keys.sessionPrefix.length)] });
    });

    // Redis expires in real time: only the ManualClock of the memory store can stop at the boundary.
    if (exactClock) it('the idle lifetime ends exactly at e; each touch moves e to now + i; nothing lives to x', async () => {
      const { key } = await create(user(), { idleTtlMs: 1_000, absoluteTtlMs: 2_500 });
      await s.elapse(999);
      expect(await s.store.read(key, false)).not.toBeNull();
      expect(times((await s.store.read(key, true))!).e - (await s.now())).toBe(1_000);
      await s.elapse(999);
      expect(await s.store.read(key, true)).not.toBeNull(); // 1 998 ms in: alive only because of the touch
      await s.elapse(501);
      expect(await s.store.read(key, true)).not.toBeNull(); // 2 499 ms in
      await s.elapse(1);
      expect(await s.store.read(key, false)).toBeNull(); // 2 500 ms: x
    });
  });

  describe('destroy and rename', () => {
    it('destroy deletes the record and its index entry, returns the record once', async () => {
      const u = user();
      const [a, b] = [await create(u), await create(u)];
      expect(await s.store.destroy(u.keys, a.member)).toEqual({ destroyed: true, fields: a.fields });
      expect(await s.store.read(a.key, false)).toBeNull();
      expect(await s.store.destroy(u.keys, a.member)).toEqual({ destroyed: false, expired: false });
      expect((await s.store.list(u.keys)).live.map((m) => m.member)).toEqual([b.member]);
      expect(await s.store.destroy(u.keys, s.keys.newId(u.tenant, u.userId).member)).toEqual({ destroyed: false, expired: false });
    });

    it('destroy of an expired session still named by the index takes it out and reports it as expired, once', async () => {
      const u = user();
      const { member } = await create(u, { idleTtlMs: SHORT });
      await s.elapse(SHORT + 1);
      expect(await s.store.destroy(u.keys, member)).toEqual({ destroyed: false, expired: true });
      expect(await s.store.prune(u.keys)).toEqual({ expired: [], live: 0 });
      expect(await s.store.destroy(u.keys, member)).toEqual({ destroyed: false, expired: false });
    });

    it('rename moves the record to the new member: same fields and lifetimes, activity recorded, idle lifetime restarted, old key gone, index updated in place', async () => {
      const u = user();
      const a = await create(u, { idleTtlMs: 60_000, absoluteTtlMs: LONG });
      await s.elapse(1);
      const b = await create(u);
      await s.elapse(5);
      const to = s.keys.newId(u.tenant, u.userId).member;
      const renamed = (await s.store.rename(u.keys, a.member, to))!;
      const { l, e, x, i } = times(renamed);
      expect(l).toBeGreaterThan(Number(a.fields.l));
      expect(e).toBe(Math.min(l + i, x)); // the same touch as a sliding read
      expect(e - l).toBe(60_000);
      expect(renamed).toEqual({ ...a.fields, l: renamed.l, e: renamed.e });
      expect(await s.store.read(a.key, false)).toBeNull();
      expect(await s.store.read(u.keys.sessionPrefix + to, false)).toEqual(renamed);
      expect(await s.expiryOf(u.keys.sessionPrefix + to)).toBe(e);
      const listed = await s.store.list(u.keys);
      expect(listed.live.map((m) => m.member)).toEqual([to, b.member]); // the old creation time: still the oldest
      expect(listed.expired).toEqual([]);
    });

    it('rename near the absolute expiry restarts the idle lifetime only up to x', async () => {
      const u = user();
      const a = await create(u, { idleTtlMs: 60_000, absoluteTtlMs: 60_000 + SHORT / 2 });
      await s.elapse(SHORT); // now + i is past x
      const to = s.keys.newId(u.tenant, u.userId).member;
      const renamed = times((await s.store.rename(u.keys, a.member, to))!);
      expect([renamed.e, renamed.x]).toEqual([Number(a.fields.x), Number(a.fields.x)]);
      expect(await s.expiryOf(u.keys.sessionPrefix + to)).toBe(renamed.x);
    });

    it('rename of a session that is gone writes nothing', async () => {
      const u = user();
      const kept = await create(u);
      const gone = await create(u, { idleTtlMs: SHORT });
      await s.elapse(SHORT + 1);
      const to = s.keys.newId(u.tenant, u.userId).member;
      expect(await s.store.rename(u.keys, gone.member, to)).toBeNull();
      expect(await s.expiryOf(u.keys.sessionPrefix + to)).toBeNull();
      expect(await s.store.list(u.keys)).toEqual({ live: [{ member: kept.member, fields: kept.fields }], expired: [gone.member] });
    });

    it('of 10 concurrent renames of one session exactly one moves it', async () => {
      const u = user();
      const { key, member } = await create(u);
      const targets = Array.from({ length: 10 }, () => s.keys.newId(u.tenant, u.userId).member);
      const results = await Promise.all(targets.map((to) => s.store.rename(u.keys, member, to)));
      const moved = targets.filter((_, i) => results[i] !== null);
      expect(moved).toHaveLength(1);
      expect(await s.store.read(key, false)).toBeNull();
      expect((await s.store.list(u.keys)).live.map((m) => m.member)).toEqual(moved);
      const present = await Promise.all(targets.map((to) => s.store.read(u.keys.sessionPrefix + to, false)));
      expect(present.filter((r) => r !== null)).toHaveLength(1);
    });
  });

  describe('update and extend', () => describeSessionStoreUpdateContract(() => s, fixtures));
  describe('the per-user index', () => describeSessionStoreIndexContract(() => s, fixtures));
  describe('scan, dump, restore and flat records', () => describeSessionStoreRecordsContract(() => s, fixtures));
}
