import type { StreamFixtures } from './stream-store.contract.js';
import { IDLE_MS, idle, NOTHING, own } from './stream-store.contract-pending.js';

/**
 * The part of the StreamStore contract about a group's consumers (see describeStreamStoreContract):
 * `release` of entries a consumer was handed but never ran (its read-ahead at stop), and
 * `pruneConsumers` of consumers that went away.
 *
 * @example
 * describeStreamStoreConsumersContract(fixtures); // called by describeStreamStoreContract
 */
export function describeStreamStoreConsumersContract(f: StreamFixtures): void {
  const { delivered, owners } = f;
  const store = () => f.s().store;

  describe('release', () => {
    it("hands this consumer's entries to the next idle claim at once, with the deliveries they had before; not others'", async () => {
      const { keys, ids } = await delivered(4);
      expect((await store().claim(keys, 'g', 'c2', idle(0, 1))).entries.map((e) => e.id)).toEqual([ids[0]]);
      expect(await store().ack(keys, 'g', [ids[3]])).toBe(1);
      expect(await store().release(keys, 'g', 'c1', [ids[0], ids[1], ids[2], ids[3], '1-1'], IDLE_MS)).toBe(2);
      // Released: idle for IDLE_MS already, and the delivery that never ran is not counted.
      expect(await store().claim(keys, 'g', 'c3', idle(IDLE_MS))).toEqual({
        ...NOTHING, entries: [{ id: ids[1], data: 'v1', deliveries: 1 }, { id: ids[2], data: 'v2', deliveries: 1 }],
      });
      expect(await owners(keys)).toEqual({ c2: 1, c3: 2 });
      expect(await store().release(keys, 'g', 'c1', [], IDLE_MS)).toBe(0);
    });

    it('keeps the deliveries that did run: an entry delivered twice and released comes back as its second delivery', async () => {
      const { keys, ids } = await delivered(1);
      expect((await store().claim(keys, 'g', 'c1', own('0-0'))).entries).toEqual([{ id: ids[0], data: 'v0', deliveries: 2 }]);
      expect(await store().release(keys, 'g', 'c1', [ids[0]], IDLE_MS)).toBe(1);
      expect((await store().claim(keys, 'g', 'c2', idle(IDLE_MS))).entries).toEqual([{ id: ids[0], data: 'v0', deliveries: 2 }]);
    });
  });

  describe('pruneConsumers', () => {
    it('deletes the consumers idle longer than idleMs that hold no pending entry, and answers how many', async () => {
      const { keys, ids } = await delivered(3);
      // `idler` took an entry and acked it; later `fresh` did the same; c1 still holds one.
      expect((await store().claim(keys, 'g', 'idler', idle(0, 1))).entries.map((e) => e.id)).toEqual([ids[0]]);
      expect(await store().ack(keys, 'g', [ids[0]])).toBe(1);
      await f.s().elapse(IDLE_MS);
      expect((await store().claim(keys, 'g', 'fresh', idle(0, 1, 5, ids[1]))).entries.map((e) => e.id)).toEqual([ids[1]]);
      expect(await store().ack(keys, 'g', [ids[1]])).toBe(1);
      expect(await store().pruneConsumers(keys, 'g', IDLE_MS - 1)).toBe(1);
      expect(await store().groups(keys)).toEqual([expect.objectContaining({ group: 'g', consumers: 2, pending: 1 })]);
      expect(await owners(keys)).toEqual({ c1: 1 });
      expect(await store().pruneConsumers(keys, 'g', IDLE_MS - 1)).toBe(0);
    });
  });
}
