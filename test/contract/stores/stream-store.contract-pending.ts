import type { ClaimReply, ClaimRequest } from '../../../libs/coordination/src/streams/stream-store.interface.js';
import type { StreamFixtures } from './stream-store.contract.js';

/** Idle long enough that an entry read after it cannot reach it by itself within a test step. */
export const IDLE_MS = 1_000;
/** A claim of this consumer's own pending entries after `after`. */
export const own = (after: string, count = 10, maxDeliveries = 5): ClaimRequest => ({ mode: 'own', after, count, maxDeliveries, deadMaxLen: 0 });
/** An idle claim from `cursor`. */
export const idle = (minIdleMs: number, count = 10, maxDeliveries = 5, cursor = '0-0'): ClaimRequest =>
  ({ mode: 'idle', cursor, minIdleMs, count, maxDeliveries, deadMaxLen: 0 });
/** A claim that took nothing and ended its pass. */
export const NOTHING: ClaimReply = { entries: [], deadLettered: 0, trimmed: 0, next: null };

/**
 * The part of the StreamStore contract about pending entries (see describeStreamStoreContract):
 * claim own / idle with delivery counts, paging and dead-lettering past maxDeliveries, touch,
 * fail, ack, and entries trimmed away while pending.
 *
 * @example
 * describeStreamStorePendingContract(fixtures); // called by describeStreamStoreContract
 */
export function describeStreamStorePendingContract(f: StreamFixtures): void {
  const { stream, fill, reader, drain, delivered, owners } = f;
  const store = () => f.s().store;

  describe('claim own', () => {
    it('re-reads the own pending entries after a restart with deliveries 2, paging with next; another consumer has none', async () => {
      const { keys, ids } = await delivered(3);
      const first = await store().claim(keys, 'g', 'c1', own('0-0', 2));
      expect(first).toEqual({ entries: [{ id: ids[0], data: 'v0', deliveries: 2 }, { id: ids[1], data: 'v1', deliveries: 2 }], deadLettered: 0, trimmed: 0, next: ids[1] });
      expect(await store().claim(keys, 'g', 'c1', own(first.next!, 2))).toEqual({ entries: [{ id: ids[2], data: 'v2', deliveries: 2 }], deadLettered: 0, trimmed: 0, next: null });
      expect(await store().claim(keys, 'g', 'c2', own('0-0'))).toEqual(NOTHING);
      expect(await owners(keys)).toEqual({ c1: 3 });
    });

    it('moves entries whose count went past maxDeliveries to the dead letters, acked, not returned', async () => {
      const { keys, ids } = await delivered(2);
      expect(await store().claim(keys, 'g', 'c1', own('0-0', 10, 1))).toEqual({ entries: [], deadLettered: 2, trimmed: 0, next: null });
      expect((await store().pending(keys, 'g')).count).toBe(0);
      expect(await store().deadLetters(keys, null, 10)).toEqual(ids.map((entryId, i) => ({
        id: expect.any(String), data: `v${i}`, entryId, group: 'g', consumer: 'c1', deliveries: 1,
        error: 'delivered 1 time without an acknowledgement (its consumers crashed or stalled)',
      })));
    });
  });

  it('keeps about deadMaxLen newest dead letters (approximate: at most 100 more)', async () => {
    const { keys, ids } = await delivered(300);
    expect(await store().claim(keys, 'g', 'c1', { ...own('0-0', 1_000, 1), deadMaxLen: 10 })).toEqual({ entries: [], deadLettered: 300, trimmed: 0, next: null });
    const letters = await store().deadLetters(keys, null, 1_000);
    expect(letters.length).toBeGreaterThanOrEqual(10);
    expect(letters.length).toBeLessThanOrEqual(110);
    expect(letters.map((d) => d.entryId)).toEqual(ids.slice(-letters.length));
  });

  describe('claim idle', () => {
    it('takes only entries idle for at least minIdleMs, counting a delivery', async () => {
      const keys = stream();
      const ids = await fill(keys, 2);
      await store().ensureGroup(keys, 'g', 'earliest');
      const r = reader();
      await r.readNew(keys, 'g', 'c1', 1, 100);
      await f.s().elapse(IDLE_MS);
      await r.readNew(keys, 'g', 'c1', 1, 100);
      expect(await store().claim(keys, 'g', 'c2', idle(IDLE_MS))).toEqual({ entries: [{ id: ids[0], data: 'v0', deliveries: 2 }], deadLettered: 0, trimmed: 0, next: null });
      // Claiming reset its idle time: nothing is idle that long now.
      expect(await store().claim(keys, 'g', 'c3', idle(IDLE_MS))).toEqual(NOTHING);
      expect(await owners(keys)).toEqual({ c1: 1, c2: 1 });
    });

    it('dead-letters an entry claimed past maxDeliveries, naming the claiming consumer and the deliveries it had', async () => {
      const { keys, ids } = await delivered(1);
      expect((await store().claim(keys, 'g', 'c2', idle(0, 10, 2))).entries).toEqual([{ id: ids[0], data: 'v0', deliveries: 2 }]);
      expect(await store().claim(keys, 'g', 'c3', idle(0, 10, 2))).toEqual({ entries: [], deadLettered: 1, trimmed: 0, next: null });
      expect(await owners(keys)).toEqual({});
      expect(await store().deadLetters(keys, null, 10)).toEqual([{
        id: expect.any(String), data: 'v0', entryId: ids[0], group: 'g', consumer: 'c3', deliveries: 2,
        error: 'delivered 2 times without an acknowledgement (its consumers crashed or stalled)',
      }]);
    });

    it('pages through the pending entries with next (a cursor), at most count per call', async () => {
      const { keys, ids } = await delivered(5);
      const taken: string[] = [];
      let cursor: string | null = '0-0';
      for (let calls = 0; cursor !== null && calls < 10; calls++) {
        const page: ClaimReply = await store().claim(keys, 'g', 'c2', idle(0, 2, 5, cursor));
        expect(page.entries.length).toBeLessThanOrEqual(2);
        taken.push(...page.entries.map((e) => e.id));
        cursor = page.next;
      }
      expect(cursor).toBeNull();
      expect(taken).toEqual(ids);
      expect(await owners(keys)).toEqual({ c2: 5 });
    });

    it('ends a call with no entries but a next cursor when its look-ups (10 × count) ran out on entries not idle yet', async () => {
      const { keys, ids } = await delivered(25);
      expect(await store().claim(keys, 'g', 'c2', idle(IDLE_MS, 2))).toEqual({ ...NOTHING, next: ids[20] });
      expect(await store().claim(keys, 'g', 'c2', idle(IDLE_MS, 2, 5, ids[20]))).toEqual(NOTHING);
      expect(await owners(keys)).toEqual({ c1: 25 });
    });
  });

  describe('touch', () => {
    it("renews the consumer's own entries without counting a delivery, so an idle claim passes them by", async () => {
      const { keys, ids } = await delivered(2);
      await f.s().elapse(IDLE_MS);
      expect(await store().touch(keys, 'g', 'c1', [ids[0]])).toEqual([]);
      expect((await store().claim(keys, 'g', 'c2', idle(IDLE_MS))).entries.map((e) => e.id)).toEqual([ids[1]]);
      expect((await store().claim(keys, 'g', 'c1', own('0-0'))).entries).toEqual([{ id: ids[0], data: 'v0', deliveries: 2 }]);
    });

    it('reports ids reclaimed by another consumer, acked or unknown as lost, and never takes them back', async () => {
      const { keys, ids } = await delivered(3);
      expect((await store().claim(keys, 'g', 'c2', idle(0, 1))).entries.map((e) => e.id)).toEqual([ids[0]]);
      expect(await store().ack(keys, 'g', [ids[1]])).toBe(1);
      expect(await store().touch(keys, 'g', 'c1', [ids[0], ids[1], ids[2], '1-1'])).toEqual([ids[0], ids[1], '1-1']);
      expect(await owners(keys)).toEqual({ c1: 1, c2: 1 });
      expect(await store().touch(keys, 'g', 'c1', [])).toEqual([]);
    });
  });

  describe('fail', () => {
    it('retries below maxDeliveries, then dead-letters with the error, group, consumer and deliveries, and acks', async () => {
      const { keys, ids } = await delivered(1);
      expect(await store().fail(keys, 'g', 'c1', ids[0], 'boom', 3, 0)).toBe('retry');
      expect(await owners(keys)).toEqual({ c1: 1 });
      for (const deliveries of [2, 3]) {
        expect((await store().claim(keys, 'g', 'c1', own('0-0'))).entries).toEqual([{ id: ids[0], data: 'v0', deliveries }]);
        expect(await store().fail(keys, 'g', 'c1', ids[0], 'boom', 3, 0)).toBe(deliveries < 3 ? 'retry' : 'dead');
      }
      expect(await owners(keys)).toEqual({});
      expect(await store().deadLetters(keys, null, 10)).toEqual([
        { id: expect.any(String), data: 'v0', entryId: ids[0], group: 'g', consumer: 'c1', error: 'boom', deliveries: 3 },
      ]);
      expect(await store().fail(keys, 'g', 'c1', ids[0], 'boom', 3, 0)).toBe('gone');
    });

    it("is gone for another consumer's entry (left as it is) and for an acked one", async () => {
      const { keys, ids } = await delivered(2);
      expect(await store().fail(keys, 'g', 'c2', ids[0], 'boom', 1, 0)).toBe('gone');
      expect(await owners(keys)).toEqual({ c1: 2 });
      await store().ack(keys, 'g', [ids[1]]);
      expect(await store().fail(keys, 'g', 'c1', ids[1], 'boom', 1, 0)).toBe('gone');
      expect(await store().deadLetters(keys, null, 10)).toEqual([]);
    });
  });

  it('ack answers how many of the ids were pending', async () => {
    const { keys, ids } = await delivered(3);
    expect(await store().ack(keys, 'g', [ids[0], ids[1]])).toBe(2);
    expect(await store().ack(keys, 'g', [ids[0], ids[2], '1-1'])).toBe(1);
    expect(await store().ack(keys, 'g', [])).toBe(0);
    expect(await store().pending(keys, 'g')).toEqual({ count: 0, oldestId: null, newestId: null, consumers: {} });
  });

  it('entries trimmed away while pending are acked and counted by claim, lost to touch, trimmed to fail', async () => {
    const keys = stream();
    const [trimmed] = await fill(keys, 1, 'old');
    const groups = ['own', 'idle', 'touch', 'fail'];
    for (const group of groups) {
      await store().ensureGroup(keys, group, 'earliest');
      expect(await drain(reader(), keys, group, 'c1')).toEqual([trimmed]);
    }
    await fill(keys, 300, 'new', 10);
    expect((await store().range(keys, '-', 1))[0].id).not.toBe(trimmed);
    expect(await store().claim(keys, 'own', 'c1', own('0-0'))).toEqual({ ...NOTHING, trimmed: 1 });
    expect(await store().claim(keys, 'idle', 'c2', idle(0))).toEqual({ ...NOTHING, trimmed: 1 });
    expect(await store().touch(keys, 'touch', 'c1', [trimmed])).toEqual([trimmed]);
    // Not 'gone': the entry was never handled, and nothing will deliver it again.
    expect(await store().fail(keys, 'fail', 'c1', trimmed, 'boom', 5, 0)).toBe('trimmed');
    for (const group of groups) expect((await store().pending(keys, group)).count).toBe(0);
    expect(await store().deadLetters(keys, null, 10)).toEqual([]);
  });
}
