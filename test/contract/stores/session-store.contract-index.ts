import type { SessionFixtures, SessionStoreUnderTest, TestSession, TestUser } from './session-store.contract.js';
import { SHORT } from './session-store.contract.js';

/**
 * The per-user index part of the SessionStore contract (see session-store.contract.ts): the
 * limit on live sessions per user (reject, evict the oldest), listing oldest first, revoking
 * all but one, pruning, and each report of the members that expired meanwhile, once.
 *
 * @example
 * describe('the per-user index', () => describeSessionStoreIndexContract(() => storeUnderTest, fixtures));
 */
export function describeSessionStoreIndexContract(current: () => SessionStoreUnderTest, { user, create }: SessionFixtures): void {
  /** `count` sessions of `u`, each created at least 1 ms after the previous one (so "oldest" is well defined). */
  const createInOrder = async (u: TestUser, count: number, options: Parameters<SessionFixtures['create']>[1] = {}): Promise<TestSession[]> => {
    const sessions: TestSession[] = [];
    for (let i = 0; i < count; i++) {
      if (i > 0) await current().elapse(1);
      sessions.push(await create(u, options));
    }
    return sessions;
  };
  const members = (sessions: readonly TestSession[]) => sessions.map((x) => x.member);
  const liveMembers = async (u: TestUser) => (await current().store.list(u.keys)).live.map((m) => m.member);

  describe('maxPerUser', () => {
    it('0 means no limit', async () => {
      const u = user();
      const sessions = await createInOrder(u, 6, { maxPerUser: 0, onLimit: 'reject' });
      expect(sessions.every((x) => x.result.created)).toBe(true);
      expect(await liveMembers(u)).toEqual(members(sessions));
    });

    it('reject: at the limit refuses with the live count and writes nothing', async () => {
      const s = current();
      const u = user();
      const kept = await createInOrder(u, 2, { maxPerUser: 2, onLimit: 'reject' });
      const refused = await create(u, { maxPerUser: 2, onLimit: 'reject' });
      expect(refused.result).toEqual({ created: false, live: 2 });
      expect(await s.store.read(refused.key, false)).toBeNull();
      expect(await liveMembers(u)).toEqual(members(kept));
      expect((await create(u, { maxPerUser: 3, onLimit: 'reject' })).result.created).toBe(true);
    });

    it('reject does not count expired sessions: the create that fits prunes them and reports them', async () => {
      const u = user();
      const [gone] = await createInOrder(u, 1, { idleTtlMs: SHORT });
      const live = await create(u);
      await current().elapse(SHORT + 1);
      const created = await create(u, { maxPerUser: 2, onLimit: 'reject' });
      expect(created.result).toEqual({ created: true, fields: created.fields, evicted: [], expired: [gone.member] });
      expect(await current().store.list(u.keys)).toMatchObject({ expired: [] });
      expect(await liveMembers(u)).toEqual([live.member, created.member]);
    });

    it('a refused create leaves the expired members in the index, for the next read to report', async () => {
      const u = user();
      const gone = await create(u, { idleTtlMs: SHORT });
      const live = await createInOrder(u, 2);
      await current().elapse(SHORT + 1);
      expect((await create(u, { maxPerUser: 2, onLimit: 'reject' })).result).toEqual({ created: false, live: 2 });
      expect(await current().store.prune(u.keys)).toEqual({ expired: [gone.member], live: 2 });
      expect(await liveMembers(u)).toEqual(members(live));
    });

    it('evict-oldest: deletes the oldest live sessions to make room and reports them', async () => {
      const s = current();
      const u = user();
      const [a, b, c] = await createInOrder(u, 3);
      await s.elapse(1);
      const d = await create(u, { maxPerUser: 3, onLimit: 'evict-oldest' });
      expect(d.result).toEqual({ created: true, fields: d.fields, evicted: [a.member], expired: [] });
      expect(await s.store.read(a.key, false)).toBeNull();
      await s.elapse(1);
      // A lower limit evicts as many as it takes, oldest first.
      const e = await create(u, { maxPerUser: 2, onLimit: 'evict-oldest' });
      expect(e.result).toMatchObject({ created: true, evicted: [b.member, c.member], expired: [] });
      expect(await Promise.all([b.key, c.key].map((key) => s.store.read(key, false)))).toEqual([null, null]);
      expect(await liveMembers(u)).toEqual([d.member, e.member]);
    });

    it('evict-oldest prunes expired members first: reported as expired, never as evicted, they make room', async () => {
      const s = current();
      const u = user();
      const gone = await create(u, { idleTtlMs: SHORT });
      await s.elapse(1);
      const live = await create(u);
      await s.elapse(SHORT + 1);
      const created = await create(u, { maxPerUser: 2, onLimit: 'evict-oldest' });
      expect(created.result).toEqual({ created: true, fields: created.fields, evicted: [], expired: [gone.member] });
      expect(await liveMembers(u)).toEqual([live.member, created.member]);
    });

    it('of 10 concurrent creates under a limit of 3 (reject), exactly 3 are created', async () => {
      const u = user();
      const results = await Promise.all(Array.from({ length: 10 }, () => create(u, { maxPerUser: 3, onLimit: 'reject' })));
      const created = results.filter((x) => x.result.created);
      expect(created).toHaveLength(3);
      expect(results.filter((x) => !x.result.created).map((x) => x.result)).toEqual(Array(7).fill({ created: false, live: 3 }));
      expect((await liveMembers(u)).sort()).toEqual(members(created).sort());
    });
  });

  describe('list, destroyAll, prune', () => {
    it('lists the live sessions oldest first with their records; nothing for an unknown user', async () => {
      const u = user();
      const sessions = await createInOrder(u, 3);
      expect(await current().store.list(u.keys)).toEqual({ live: sessions.map((x) => ({ member: x.member, fields: x.fields })), expired: [] });
      expect(await current().store.list(user().keys)).toEqual({ live: [], expired: [] });
    });

    it('list prunes the expired members and reports each once', async () => {
      const u = user();
      const [gone1, kept, gone2] = [await create(u, { idleTtlMs: SHORT }), await create(u), await create(u, { idleTtlMs: SHORT })];
      await current().elapse(SHORT + 1);
      const listed = await current().store.list(u.keys);
      expect(listed.live.map((m) => m.member)).toEqual([kept.member]);
      expect(listed.expired.sort()).toEqual([gone1.member, gone2.member].sort());
      expect((await current().store.list(u.keys)).expired).toEqual([]);
    });

    it("destroyAll deletes every session but `except`, reporting the destroyed and the expired apart", async () => {
      const s = current();
      const u = user();
      const gone = await create(u, { idleTtlMs: SHORT });
      const [a, keep, b] = await createInOrder(u, 3);
      await s.elapse(SHORT + 1);
      const other = user();
      const untouched = await create(other);
      expect(await s.store.destroyAll(u.keys, keep.member)).toEqual({ destroyed: [a.member, b.member], expired: [gone.member] });
      expect(await Promise.all([a.key, b.key].map((key) => s.store.read(key, false)))).toEqual([null, null]);
      expect(await s.store.list(u.keys)).toEqual({ live: [{ member: keep.member, fields: keep.fields }], expired: [] });
      expect(await s.store.read(untouched.key, false)).toEqual(untouched.fields);
    });

    it('destroyAll without `except`, or with one that is not a member, deletes them all; an empty index gives empty lists', async () => {
      const s = current();
      const u = user();
      const sessions = await createInOrder(u, 2);
      const stranger = s.keys.newId(u.tenant, u.userId).member;
      expect(await s.store.destroyAll(u.keys, stranger)).toEqual({ destroyed: members(sessions), expired: [] });
      expect(await s.expiryOf(u.keys.index)).toBeNull();
      const again = await create(u);
      expect(await s.store.destroyAll(u.keys)).toEqual({ destroyed: [again.member], expired: [] });
      expect(await s.store.destroyAll(u.keys)).toEqual({ destroyed: [], expired: [] });
    });

    it('prune removes only the expired members, once, and counts the live ones; an index left empty is gone', async () => {
      const s = current();
      const u = user();
      const gone = await create(u, { idleTtlMs: SHORT });
      const kept = await create(u);
      await s.elapse(SHORT + 1);
      expect(await s.store.prune(u.keys)).toEqual({ expired: [gone.member], live: 1 });
      expect(await s.store.prune(u.keys)).toEqual({ expired: [], live: 1 });
      expect(await liveMembers(u)).toEqual([kept.member]);
      const lone = user();
      await create(lone, { idleTtlMs: SHORT });
      await s.elapse(SHORT + 1);
      expect(await s.store.prune(lone.keys)).toMatchObject({ expired: [expect.any(String)], live: 0 });
      expect(await s.expiryOf(lone.keys.index)).toBeNull();
      expect(await s.store.prune(user().keys)).toEqual({ expired: [], live: 0 });
    });
  });

  describe('the index lifetime', () => {
    it('is the latest absolute expiry of its sessions plus the grace: lengthened by a later one, never shortened', async () => {
      const s = current();
      const u = user();
      const until = (x: TestSession) => Number(x.fields.x) + s.indexGraceMs;
      const a = await create(u, { absoluteTtlMs: 300_000 });
      expect(await s.expiryOf(u.keys.index)).toBe(until(a));
      await create(u, { absoluteTtlMs: 100_000 });
      expect(await s.expiryOf(u.keys.index)).toBe(until(a));
      const c = await create(u, { absoluteTtlMs: 900_000 });
      expect(await s.expiryOf(u.keys.index)).toBe(until(c));
      await s.store.destroy(u.keys, c.member);
      expect(await s.expiryOf(u.keys.index)).toBe(until(c));
    });

    it('outlives a session that ended at its absolute expiry, so that prune still reports it', async () => {
      const s = current();
      const u = user();
      const gone = await create(u, { idleTtlMs: 10 * SHORT, absoluteTtlMs: SHORT });
      await s.elapse(SHORT + 1);
      expect(await s.store.read(gone.key, false)).toBeNull();
      expect(await s.expiryOf(u.keys.index)).toBe(Number(gone.fields.x) + s.indexGraceMs);
      expect(await s.store.prune(u.keys)).toEqual({ expired: [gone.member], live: 0 });
      expect(await s.expiryOf(u.keys.index)).toBeNull(); // left empty: gone
    });

    it('on a cluster, the users of one test spread over every master, each index with its sessions', async () => {
      const s = current();
      const users = Array.from({ length: 40 }, (_, i) => user(i % 2 ? 'acme' : 'globex'));
      const sessions = await Promise.all(users.map((u) => create(u)));
      expect(await s.mastersHolding(users.map((u) => u.keys.index))).toBe(s.masters);
      const listed = await Promise.all(users.map((u) => s.store.list(u.keys)));
      expect(listed.map((l) => l.live.map((m) => m.member))).toEqual(sessions.map((x) => [x.member]));
    });
  });
}
