import { randomBytes } from 'node:crypto';
import type { SessionFixtures, SessionStoreUnderTest } from './session-store.contract.js';
import { LONG, SHORT } from './session-store.contract.js';

/**
 * The scan, backup and flat-record part of the SessionStore contract (see
 * session-store.contract.ts): `scan` finds exactly the matching keys on every master, in
 * batches; `dump` reads records across slots; `restore` writes them back with their own
 * expiries, idempotently, never over a newer stored version (a higher `v`, or the same `v` with
 * activity `l` at least as recent), never a record created in the future, and skips the expired ones; the
 * flat records of the express-session store live and die by their lifetimes; of concurrent
 * claims of a pass lease exactly one wins, until it lapses.
 *
 * @example
 * describe('scan, dump, restore and flat records', () => describeSessionStoreRecordsContract(() => storeUnderTest, fixtures));
 */
export function describeSessionStoreRecordsContract(current: () => SessionStoreUnderTest, { user, create }: SessionFixtures): void {
  /** A tenant no other test uses, so a scan sees only this test's keys. */
  const freshTenant = () => `t${randomBytes(4).toString('hex')}`;
  const scanAll = async (pattern: string) => {
    const batches: string[][] = [];
    for await (const batch of current().store.scan(pattern)) batches.push(batch);
    return { batches, keys: new Set(batches.flat()) };
  };
  const recordKey = (tenant = 'acme') => current().builder.key(tenant, 'session-record', `sid-${randomBytes(8).toString('base64url')}`);

  describe('scan', () => {
    it("finds exactly a tenant's session keys, on every master, in several batches", async () => {
      const s = current();
      const [tenant, other] = [freshTenant(), freshTenant()];
      const users = Array.from({ length: 300 }, () => user(tenant));
      const sessions = (await Promise.all(users.flatMap((u) => [create(u), create(u), create(u), create(u)]))).map((x) => x.key);
      const foreign = await create(user(other));
      const { batches, keys } = await scanAll(s.keys.sessionPattern(tenant));
      expect([...keys].sort()).toEqual([...sessions].sort()); // a key SCAN returns twice counts once
      expect(keys.has(foreign.key)).toBe(false);
      expect(batches.length).toBeGreaterThan(1);
      expect(batches.every((batch) => batch.length > 0)).toBe(true);
      expect(await s.mastersHolding(sessions)).toBe(s.masters);
    }, 60_000); // 1 200 sessions: seconds on a busy cluster, not a timing assertion

    it("finds every tenant's sessions with '*', and the user indexes with indexPattern", async () => {
      const s = current();
      const [a, b] = [user(freshTenant()), user(freshTenant())];
      const [sa, sb] = [await create(a), await create(b)];
      const all = (await scanAll(s.keys.sessionPattern('*'))).keys;
      expect([all.has(sa.key), all.has(sb.key), all.has(a.keys.index)]).toEqual([true, true, false]);
      const indexes = (await scanAll(s.keys.indexPattern())).keys;
      expect([indexes.has(a.keys.index), indexes.has(b.keys.index), indexes.has(sa.key)]).toEqual([true, true, false]);
      expect(s.keys.parseIndexKey(a.keys.index)).toEqual({ tenant: a.tenant, userId: a.userId, keys: a.keys });
    });

    it('finds the flat records of a tenant, and nothing when nothing matches', async () => {
      const s = current();
      const tenant = freshTenant();
      const records = Array.from({ length: 30 }, () => recordKey(tenant));
      await Promise.all(records.map((key) => s.store.putRecord(key, 'v', LONG)));
      expect([...(await scanAll(s.builder.pattern(tenant, 'session-record'))).keys].sort()).toEqual(records.sort());
      expect((await scanAll(s.keys.sessionPattern(freshTenant()))).batches).toEqual([]);
    });
  });

  describe('dump and restore', () => {
    it('dump returns the records of the keys that exist, in order, across slots', async () => {
      const s = current();
      const sessions = await Promise.all(Array.from({ length: 20 }, (_, i) => create(user(i % 2 ? 'acme' : 'globex'))));
      const missing = s.keys.session('acme', s.keys.newId('acme', 'nobody').member);
      const asked = sessions.flatMap((x, i) => (i % 5 === 0 ? [x.key, missing] : [x.key]));
      expect(await s.store.dump(asked)).toEqual(sessions.map((x) => ({ key: x.key, fields: x.fields })));
      expect(await s.store.dump([])).toEqual([]);
    });

    it('restore writes dumped sessions back as they were: fields, expiries, creation order in the index', async () => {
      const s = current();
      const u = user();
      const a = await create(u, { idleTtlMs: 60_000, absoluteTtlMs: 300_000 });
      await s.elapse(1);
      const b = await create(u, { idleTtlMs: 90_000, absoluteTtlMs: 200_000 });
      const dumped = await s.store.dump([a.key, b.key]);
      await s.store.destroyAll(u.keys);
      expect(await s.expiryOf(u.keys.index)).toBeNull();
      await s.elapse(5);
      expect(await s.store.restore(u.keys, b.member, dumped[1].fields)).toBe('restored');
      expect(await s.store.restore(u.keys, a.member, dumped[0].fields)).toBe('restored');
      expect(await s.store.list(u.keys)).toEqual({ live: [{ member: a.member, fields: a.fields }, { member: b.member, fields: b.fields }], expired: [] });
      expect(await s.expiryOf(a.key)).toBe(Number(a.fields.e));
      expect(await s.expiryOf(b.key)).toBe(Number(b.fields.e));
      expect(await s.expiryOf(u.keys.index)).toBe(Number(a.fields.x) + s.indexGraceMs);
    });

    it('restore is idempotent: the dumped record, once written, is kept as it is', async () => {
      const s = current();
      const u = user();
      const { key, member, fields } = await create(u);
      const [dumped] = await s.store.dump([key]);
      await s.store.destroy(u.keys, member);
      expect(await s.store.restore(u.keys, member, dumped.fields)).toBe('restored');
      for (let i = 0; i < 3; i++) expect(await s.store.restore(u.keys, member, dumped.fields)).toBe('kept');
      expect(await s.store.list(u.keys)).toEqual({ live: [{ member, fields }], expired: [] });
    });

    it('restore keeps a stored record of the same version with activity at least as recent (an extend or a use since the export is not undone)', async () => {
      const s = current();
      const u = user();
      const { key, member } = await create(u, { idleTtlMs: 60_000 });
      const [older] = await s.store.dump([key]);
      await s.elapse(5);
      const extended = (await s.store.extend(key, 120_000))!;
      expect(Number(extended.l)).toBeGreaterThan(Number(older.fields.l));
      const expiry = await s.expiryOf(key);
      expect(await s.store.restore(u.keys, member, older.fields)).toBe('kept');
      expect(await s.store.read(key, false)).toEqual(extended);
      expect(await s.expiryOf(key)).toBe(expiry);
      // A dump of the same version with more recent activity than the stored record is written over it.
      const [newer] = await s.store.dump([key]);
      await s.store.destroy(u.keys, member);
      expect(await s.store.restore(u.keys, member, older.fields)).toBe('restored');
      expect(await s.store.restore(u.keys, member, newer.fields)).toBe('restored');
      expect(await s.store.read(key, false)).toEqual(extended);
    });

    it('restore keeps a stored record newer than the dump (a higher v): an update since the export is not undone', async () => {
      const s = current();
      const u = user();
      const { key, member } = await create(u);
      const [older] = await s.store.dump([key]);
      const updated = await s.store.update(key, { set: { 'd:later': '1' }, unset: [], touch: true });
      if (!updated.updated) throw new Error('not updated');
      const expiry = await s.expiryOf(key);
      expect(await s.store.restore(u.keys, member, older.fields)).toBe('kept');
      expect(await s.store.read(key, false)).toEqual(updated.fields);
      expect(await s.expiryOf(key)).toBe(expiry);
      // A dump at least as new as the stored record is written over it.
      const [newer] = await s.store.dump([key]);
      await s.store.destroy(u.keys, member);
      expect(await s.store.restore(u.keys, member, older.fields)).toBe('restored');
      expect(await s.store.restore(u.keys, member, newer.fields)).toBe('restored');
      expect(await s.store.list(u.keys)).toEqual({ live: [{ member, fields: updated.fields }], expired: [] });
      expect(await s.store.restore(u.keys, member, older.fields)).toBe('kept');
    });

    it('restore skips a session whose idle or absolute expiry has passed, writing nothing', async () => {
      const s = current();
      const u = user();
      const idle = await create(u, { idleTtlMs: SHORT });
      const [dumped] = await s.store.dump([idle.key]);
      await s.store.destroy(u.keys, idle.member);
      await s.elapse(SHORT + 1);
      expect(await s.store.restore(u.keys, idle.member, dumped.fields)).toBe('expired');
      const live = await create(user());
      const pastAbsolute = { ...live.fields, x: `${(await s.now()) - 1}` };
      expect(await s.store.restore(u.keys, live.member, pastAbsolute)).toBe('expired');
      expect(await s.store.read(idle.key, false)).toBeNull();
      expect(await s.expiryOf(u.keys.index)).toBeNull();
    });

    it("restore lengthens the index's lifetime to the session's absolute expiry plus the grace, never shortens it", async () => {
      const s = current();
      const u = user();
      const short = await create(u, { absoluteTtlMs: 100_000 });
      const long = await create(user(), { absoluteTtlMs: 900_000 });
      const member = s.keys.newId(u.tenant, u.userId).member;
      expect(await s.store.restore(u.keys, member, long.fields)).toBe('restored');
      expect(await s.expiryOf(u.keys.index)).toBe(Number(long.fields.x) + s.indexGraceMs);
      await s.store.destroy(u.keys, short.member);
      expect(await s.store.restore(u.keys, short.member, short.fields)).toBe('restored');
      expect(await s.expiryOf(u.keys.index)).toBe(Number(long.fields.x) + s.indexGraceMs);
    });

    it('keeps any field name as a field, `__proto__` included', async () => {
      const s = current();
      const u = user();
      const { key, member, fields } = await create(u);
      const odd = Object.fromEntries([...Object.entries(fields), ['__proto__', 'p'], ['constructor', 'c'], ['d:ü ✓', '"x"']]) as Record<string, string>;
      await s.store.destroy(u.keys, member);
      expect(await s.store.restore(u.keys, member, odd)).toBe('restored');
      const read = (await s.store.read(key, false))!;
      expect(Object.getPrototypeOf(read)).toBe(Object.prototype);
      expect(Object.entries(read).sort()).toEqual(Object.entries(odd).sort());
    });

    it('refuses a record created more than 60 s ahead of the store clock before writing anything, naming `fields`', async () => {
      const s = current();
      const u = user();
      const { fields } = await create(user());
      const [future, soon] = [s.keys.newId(u.tenant, u.userId).member, s.keys.newId(u.tenant, u.userId).member];
      const createdAt = (t: number) => ({ ...fields, t: `${t}`, l: `${t}`, e: `${t + 60_000}`, x: `${t + 600_000}`, i: '60000' });
      const now = await s.now();
      await expect(s.store.restore(u.keys, future, createdAt(now + 300 * 86_400_000))).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT', argument: 'fields' });
      await expect(s.store.restore(u.keys, future, createdAt(now + 120_000))).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT', argument: 'fields' });
      expect(await s.store.read(u.keys.sessionPrefix + future, false)).toBeNull();
      expect(await s.expiryOf(u.keys.index)).toBeNull();
      // Within the tolerance of clocks apart (a record exported by an instance ahead of this one).
      expect(await s.store.restore(u.keys, soon, createdAt(now + 10_000))).toBe('restored');
    });

    it('refuses a record without integer t, l, e, x, i and v of at most 13 (i: 11, v: 10) digits before writing anything, naming `fields`', async () => {
      const s = current();
      const u = user();
      const { fields } = await create(user());
      const member = s.keys.newId(u.tenant, u.userId).member;
      const [withoutT, withoutL] = [{ ...fields }, { ...fields }];
      delete withoutT.t;
      delete withoutL.l;
      const unfit = [{ ...fields, x: '10000000000000' }, { ...fields, i: '100000000000' }, { ...fields, v: '10000000000' }, { ...fields, l: '0001' }];
      for (const bad of [withoutT, withoutL, { ...fields, e: 'soon' }, { ...fields, x: '1.5' }, { ...fields, i: '' }, { ...fields, v: '-1' }, ...unfit]) {
        await expect(s.store.restore(u.keys, member, bad)).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT', argument: 'fields' });
      }
      expect(await s.store.read(u.keys.sessionPrefix + member, false)).toBeNull();
      expect(await s.expiryOf(u.keys.index)).toBeNull();
    });
  });

  describe('flat records', () => {
    it('put, get and replace a record; null when absent', async () => {
      const s = current();
      const key = recordKey();
      expect(await s.store.getRecord(key)).toBeNull();
      await s.store.putRecord(key, '{"cookie":{}} ✓', LONG);
      expect(await s.store.getRecord(key)).toBe('{"cookie":{}} ✓');
      await s.store.putRecord(key, '', LONG);
      expect(await s.store.getRecord(key)).toBe('');
    });

    it('a record lives ttlMs; touch restarts its lifetime; touch of a missing record is false', async () => {
      const s = current();
      const key = recordKey();
      let before = await s.now();
      await s.store.putRecord(key, 'v', 60_000);
      let expiry = (await s.expiryOf(key))!;
      expect(expiry).toBeGreaterThanOrEqual(before + 60_000);
      expect(expiry).toBeLessThanOrEqual((await s.now()) + 60_000);
      before = await s.now();
      expect(await s.store.touchRecord(key, 120_000)).toBe(true);
      expiry = (await s.expiryOf(key))!;
      expect(expiry).toBeGreaterThanOrEqual(before + 120_000);
      expect(expiry).toBeLessThanOrEqual((await s.now()) + 120_000);
      const short = recordKey();
      await s.store.putRecord(short, 'v', SHORT);
      await s.elapse(SHORT + 1);
      expect(await s.store.getRecord(short)).toBeNull();
      expect(await s.store.touchRecord(short, LONG)).toBe(false);
      expect(await s.store.getRecord(short)).toBeNull();
    });

    it('deleteRecords counts the records that existed, across tenants and slots, a key named twice once', async () => {
      const s = current();
      const keys = Array.from({ length: 30 }, (_, i) => recordKey(['acme', 'globex', 'initech'][i % 3]));
      await Promise.all(keys.map((key) => s.store.putRecord(key, 'v', LONG)));
      expect(await s.mastersHolding(keys)).toBe(s.masters);
      expect(await s.store.deleteRecords([...keys, recordKey(), keys[0]])).toBe(30);
      expect(await Promise.all(keys.map((key) => s.store.getRecord(key)))).toEqual(Array(30).fill(null));
      expect(await s.store.deleteRecords(keys)).toBe(0);
      expect(await s.store.deleteRecords([])).toBe(0);
    });

    it('refuses a lifetime that is not a number > 0, naming ttlMs, before writing anything', async () => {
      const s = current();
      const key = recordKey();
      for (const bad of [0, -1, NaN, Infinity]) {
        await expect(s.store.putRecord(key, 'v', bad)).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT', argument: 'ttlMs' });
        await expect(s.store.touchRecord(key, bad)).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT', argument: 'ttlMs' });
        await expect(s.store.claimPass(key, bad)).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT', argument: 'ttlMs' });
      }
      expect(await s.store.getRecord(key)).toBeNull();
    });
  });

  describe('pass leases', () => {
    const leaseKey = () => current().builder.key('_shared', 'session-prune', `pass-${randomBytes(6).toString('hex')}`);

    it('of 10 concurrent claims of a lease exactly one wins; the lease expires after ttlMs', async () => {
      const s = current();
      const key = leaseKey();
      // 1 s, not SHORT: the lease must outlive the round trips below on a loaded cluster (100 ms did not, once).
      const leaseMs = 1_000;
      const before = await s.now();
      const claims = await Promise.all(Array.from({ length: 10 }, () => s.store.claimPass(key, leaseMs)));
      expect(claims.filter((won) => won)).toHaveLength(1);
      const expiry = (await s.expiryOf(key))!;
      expect(expiry).toBeGreaterThanOrEqual(before + leaseMs);
      expect(expiry).toBeLessThanOrEqual((await s.now()) + leaseMs);
      expect(await s.store.claimPass(key, LONG)).toBe(false);
      expect(await s.expiryOf(key)).toBe(expiry); // a lost claim leaves the lease as it was
      await s.elapse(leaseMs + 1);
      expect(await s.expiryOf(key)).toBeNull();
      expect(await s.store.claimPass(key, LONG)).toBe(true);
      expect(await s.store.claimPass(leaseKey(), LONG)).toBe(true); // another lease is another key
    });
  });
}
