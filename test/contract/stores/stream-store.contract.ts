import type { StreamKeys } from '../../../libs/coordination/src/streams/stream-keys.js';
import { StreamGroupMissingError } from '../../../libs/coordination/src/streams/stream-group-missing.js';
import type { StreamKeyPair, StreamReader, StreamStore } from '../../../libs/coordination/src/streams/stream-store.interface.js';
import { describeStreamStoreConsumersContract } from './stream-store.contract-consumers.js';
import { describeStreamStoreDeadLetterContract } from './stream-store.contract-dead.js';
import { describeStreamStorePendingContract } from './stream-store.contract-pending.js';

/** One stream store under test, with the keys it works on and a way to let its time pass. */
export interface StreamStoreUnderTest {
  readonly store: StreamStore;
  readonly keys: StreamKeys;
  /**
   * Lets `ms` pass on the store's clock (idle times of pending entries): a ManualClock jumps;
   * on Redis this waits until the server's TIME has moved on that far.
   */
  elapse(ms: number): Promise<void>;
  close(): Promise<void>;
}

/** What the contract's cases share: the store under test, fresh streams and open readers. */
export interface StreamFixtures {
  readonly s: () => StreamStoreUnderTest;
  /** A stream no other case uses (with its dead-letter stream). */
  stream(): StreamKeyPair;
  /** Appends `count` entries (`<label>0`, `<label>1`, ...) in order; their ids. */
  fill(keys: StreamKeyPair, count: number, label?: string, maxLen?: number): Promise<string[]>;
  /** A reader closed after the case. */
  reader(): StreamReader;
  /** Everything `readNew` delivers right now to `consumer` (short blocks until one comes back empty). */
  drain(reader: StreamReader, keys: StreamKeyPair, group: string, consumer: string, count?: number): Promise<string[]>;
  /** A fresh stream of `count` entries and group `g`, every entry delivered to `c1` (delivery 1). */
  delivered(count: number): Promise<{ keys: StreamKeyPair; ids: string[] }>;
  /** Pending entries of group `g` per consumer. */
  owners(keys: StreamKeyPair): Promise<Readonly<Record<string, number>>>;
}

const TENANT = 'acme';
/** A block long enough that a read returns because of an append or a close, never because it ran out. */
const LONG_BLOCK_MS = 60_000;
/** A stream id. */
export const ID = /^\d+-\d+$/;

/** Orders two stream ids (`<ms>-<seq>`) numerically. */
export const compareIds = (a: string, b: string): number => {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
};

/**
 * The StreamStore contract, asserted on the store interface itself: the log (append, range,
 * length, approximate trimming), consumer groups and blocking reads of new entries, the
 * inspection calls (pending, groups, dead letters), replay, and missing groups; and (in
 * stream-store.contract-pending.ts) what happens to pending entries: claim own / idle with
 * delivery counts and dead-lettering, touch, fail, ack, and entries trimmed while pending.
 * Every implementation (RedisStreamStore, MemoryStreamStore) must pass it unchanged. Idle
 * thresholds that must not pass by themselves are >= 1 s (Redis runs in real time).
 *
 * @example
 * describe.each(DRIVERS)('StreamStore contract ($name)', (driver) => describeStreamStoreContract(() => storeFor(driver)));
 */
export function describeStreamStoreContract(createStore: () => Promise<StreamStoreUnderTest>): void {
  let s: StreamStoreUnderTest;
  let n = 0;
  let readers: StreamReader[] = [];
  beforeAll(async () => {
    s = await createStore();
  });
  afterEach(async () => {
    await Promise.all(readers.map((r) => r.close()));
    readers = [];
  });
  afterAll(() => s.close());

  const f: StreamFixtures = {
    s: () => s,
    stream: () => s.keys.of(TENANT, `orders-${++n}`),
    fill: async (keys, count, label = 'v', maxLen = 0) => {
      const ids: string[] = [];
      for (let i = 0; i < count; i++) ids.push(await s.store.append(keys, `${label}${i}`, maxLen));
      return ids;
    },
    reader: () => {
      const reader = s.store.openReader();
      readers.push(reader);
      return reader;
    },
    drain: async (reader, keys, group, consumer, count = 100) => {
      const ids: string[] = [];
      for (;;) {
        const batch = await reader.readNew(keys, group, consumer, count, 50);
        if (batch.length === 0) return ids;
        ids.push(...batch.map((e) => e.id));
      }
    },
    delivered: async (count) => {
      const keys = f.stream();
      const ids = await f.fill(keys, count);
      await s.store.ensureGroup(keys, 'g', 'earliest');
      expect(await f.drain(f.reader(), keys, 'g', 'c1')).toEqual(ids);
      return { keys, ids };
    },
    owners: async (keys) => (await s.store.pending(keys, 'g')).consumers,
  };
  const { stream, fill, reader, drain } = f;

  describe('the log', () => {
    it('appends entries with increasing <ms>-<seq> ids, also many in a row, and reads them back in order', async () => {
      const keys = stream();
      const ids = await fill(keys, 50);
      ids.forEach((id) => expect(id).toMatch(ID));
      expect([...ids].sort(compareIds)).toEqual(ids);
      expect(new Set(ids).size).toBe(50);
      expect(await s.store.length(keys)).toBe(50);
      const all = await s.store.range(keys, '-', 100);
      expect(all).toEqual(ids.map((id, i) => ({ id, data: `v${i}` })));
    });

    it('ranges from an id (inclusive), after an id (`(id`, exclusive), at most count', async () => {
      const keys = stream();
      const ids = await fill(keys, 5);
      expect((await s.store.range(keys, ids[2], 10)).map((e) => e.id)).toEqual(ids.slice(2));
      expect((await s.store.range(keys, `(${ids[2]}`, 10)).map((e) => e.id)).toEqual(ids.slice(3));
      expect((await s.store.range(keys, '-', 2)).map((e) => e.data)).toEqual(['v0', 'v1']);
      expect(await s.store.range(keys, `(${ids[4]}`, 10)).toEqual([]);
    });

    it('knows no entries of a stream never written', async () => {
      const keys = stream();
      expect(await s.store.length(keys)).toBe(0);
      expect(await s.store.range(keys, '-', 10)).toEqual([]);
    });

    it('keeps about maxLen newest entries (approximate: at most 100 more), and never trims with 0', async () => {
      const keys = stream();
      const ids = await fill(keys, 600, 'v', 50);
      const length = await s.store.length(keys);
      expect(length).toBeGreaterThanOrEqual(50);
      expect(length).toBeLessThanOrEqual(150);
      const kept = await s.store.range(keys, '-', 1_000);
      expect(kept.map((e) => e.id)).toEqual(ids.slice(-length));
      await fill(keys, 10, 'w', 0);
      expect(await s.store.length(keys)).toBe(length + 10);
    });
  });

  describe('groups and new entries', () => {
    it('delivers each entry once across two consumers of a group, then [] once blockMs passes', async () => {
      const keys = stream();
      const ids = await fill(keys, 10);
      await s.store.ensureGroup(keys, 'g', 'earliest');
      const [a, b] = [reader(), reader()];
      const seen: string[] = [];
      for (let turn = 0; seen.length < 10 && turn < 20; turn++) {
        const batch = await (turn % 2 === 0 ? a : b).readNew(keys, 'g', turn % 2 === 0 ? 'c1' : 'c2', 3, 100);
        batch.forEach((e) => expect(e).toEqual({ id: e.id, data: `v${ids.indexOf(e.id)}` }));
        seen.push(...batch.map((e) => e.id));
      }
      expect(seen).toEqual(ids);
      expect(await a.readNew(keys, 'g', 'c1', 10, 100)).toEqual([]);
      expect(await b.readNew(keys, 'g', 'c2', 10, 100)).toEqual([]);
    });

    it('wakes a blocked read when an entry is appended', async () => {
      const keys = stream();
      await s.store.ensureGroup(keys, 'g', 'earliest');
      const r = reader();
      const read = r.readNew(keys, 'g', 'c1', 10, LONG_BLOCK_MS);
      // The read may not be blocking yet when the append lands: either way it returns the entry.
      const id = await s.store.append(keys, 'late', 0);
      expect(await read).toEqual([{ id, data: 'late' }]);
    });

    it('close() ends a blocked read with [] and later reads return []', async () => {
      const keys = stream();
      await s.store.ensureGroup(keys, 'g', 'earliest');
      const r = s.store.openReader();
      const read = r.readNew(keys, 'g', 'c1', 10, LONG_BLOCK_MS);
      await r.close();
      expect(await read).toEqual([]);
      await s.store.append(keys, 'after', 0);
      expect(await r.readNew(keys, 'g', 'c1', 10, 100)).toEqual([]);
      // The closed read took nothing: what is appended after close() stays for the group's next read.
      expect(await s.store.pending(keys, 'g')).toEqual({ count: 0, oldestId: null, newestId: null, consumers: {} });
      expect(await s.store.groups(keys)).toEqual([expect.objectContaining({ group: 'g', pending: 0, lag: 1 })]);
    });

    it('ensureGroup earliest starts at the first entry, latest after the last; creating again keeps the position', async () => {
      const keys = stream();
      const before = await fill(keys, 2, 'old');
      await s.store.ensureGroup(keys, 'early', 'earliest');
      await s.store.ensureGroup(keys, 'late', 'latest');
      const after = await fill(keys, 2, 'new');
      const r = reader();
      expect(await drain(r, keys, 'early', 'c1')).toEqual([...before, ...after]);
      expect(await drain(r, keys, 'late', 'c1')).toEqual(after);
      await s.store.ensureGroup(keys, 'early', 'earliest');
      await s.store.ensureGroup(keys, 'late', 'earliest');
      expect(await drain(r, keys, 'early', 'c1')).toEqual([]);
      expect(await drain(r, keys, 'late', 'c1')).toEqual([]);
    });

    it('ensureGroup creates the stream: a group on a stream never written reads what is appended later', async () => {
      const keys = stream();
      await s.store.ensureGroup(keys, 'g', 'latest');
      expect(await s.store.length(keys)).toBe(0);
      const [id] = await fill(keys, 1);
      expect(await drain(reader(), keys, 'g', 'c1')).toEqual([id]);
    });

    it('a missing group (or stream) rejects readNew, claim, ack, touch and fail with StreamGroupMissingError', async () => {
      const missingStream = stream();
      const keys = stream();
      const [id] = await fill(keys, 1);
      const r = reader();
      for (const k of [keys, missingStream]) {
        const claim = { mode: 'idle', cursor: '0-0', minIdleMs: 0, count: 10, maxDeliveries: 5, deadMaxLen: 0 } as const;
        await expect(r.readNew(k, 'nope', 'c1', 10, 100)).rejects.toBeInstanceOf(StreamGroupMissingError);
        await expect(s.store.claim(k, 'nope', 'c1', claim)).rejects.toBeInstanceOf(StreamGroupMissingError);
        await expect(s.store.claim(k, 'nope', 'c1', { mode: 'own', after: '0-0', count: 10, maxDeliveries: 5, deadMaxLen: 0 })).rejects.toBeInstanceOf(StreamGroupMissingError);
        await expect(s.store.ack(k, 'nope', [id])).rejects.toBeInstanceOf(StreamGroupMissingError);
        await expect(s.store.touch(k, 'nope', 'c1', [id])).rejects.toBeInstanceOf(StreamGroupMissingError);
        await expect(s.store.fail(k, 'nope', 'c1', id, 'boom', 5, 0)).rejects.toBeInstanceOf(StreamGroupMissingError);
        await expect(s.store.release(k, 'nope', 'c1', [id], 1_000)).rejects.toBeInstanceOf(StreamGroupMissingError);
        await expect(s.store.pruneConsumers(k, 'nope', 1_000)).rejects.toBeInstanceOf(StreamGroupMissingError);
      }
    });

    it('ack, touch and release of no ids answer 0 / [] without a look at the group, as on Redis', async () => {
      const keys = stream();
      expect(await s.store.ack(keys, 'nope', [])).toBe(0);
      expect(await s.store.touch(keys, 'nope', 'c1', [])).toEqual([]);
      expect(await s.store.release(keys, 'nope', 'c1', [], 1_000)).toBe(0);
    });
  });

  describe('inspection', () => {
    it('pending: zero for a missing group or stream; count, oldest, newest and per consumer', async () => {
      const keys = stream();
      expect(await s.store.pending(keys, 'g')).toEqual({ count: 0, oldestId: null, newestId: null, consumers: {} });
      const ids = await fill(keys, 5);
      await s.store.ensureGroup(keys, 'g', 'earliest');
      expect(await s.store.pending(keys, 'g')).toEqual({ count: 0, oldestId: null, newestId: null, consumers: {} });
      expect(await s.store.pending(keys, 'other')).toEqual({ count: 0, oldestId: null, newestId: null, consumers: {} });
      await reader().readNew(keys, 'g', 'c1', 2, 100);
      await reader().readNew(keys, 'g', 'c2', 3, 100);
      expect(await s.store.pending(keys, 'g')).toEqual({ count: 5, oldestId: ids[0], newestId: ids[4], consumers: { c1: 2, c2: 3 } });
    });

    it('pending: a consumer may be called __proto__ (counted as its own key)', async () => {
      const keys = stream();
      await fill(keys, 3);
      await s.store.ensureGroup(keys, 'g', 'earliest');
      await reader().readNew(keys, 'g', '__proto__', 2, 100);
      await reader().readNew(keys, 'g', 'c1', 1, 100);
      const { consumers } = await s.store.pending(keys, 'g');
      expect(Object.entries(consumers)).toEqual([['__proto__', 2], ['c1', 1]]);
      expect(Object.getPrototypeOf(consumers)).toBe(Object.prototype);
    });

    it('groups: [] for a missing stream; per group its consumers, pending, lag and last delivered id', async () => {
      const keys = stream();
      expect(await s.store.groups(keys)).toEqual([]);
      const ids = await fill(keys, 5);
      await s.store.ensureGroup(keys, 'billing', 'earliest');
      await s.store.ensureGroup(keys, 'audit', 'latest');
      await reader().readNew(keys, 'billing', 'c1', 2, 100);
      const groups = [...(await s.store.groups(keys))].sort((x, y) => x.group.localeCompare(y.group));
      expect(groups).toEqual([
        { group: 'audit', consumers: 0, pending: 0, lag: 0, lastDeliveredId: ids[4] },
        { group: 'billing', consumers: 1, pending: 2, lag: 3, lastDeliveredId: ids[1] },
      ]);
    });
  });
  describeStreamStoreDeadLetterContract(f);
  describeStreamStorePendingContract(f);
  describeStreamStoreConsumersContract(f);
}
