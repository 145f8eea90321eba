import type { StreamFixtures } from './stream-store.contract.js';
import { compareIds, ID } from './stream-store.contract.js';

/**
 * The part of the StreamStore contract about dead letters (see describeStreamStoreContract):
 * listing and paging them, and replaying one into its stream for its group only, trimmed or
 * not, and again after the replayed entry failed once more.
 *
 * @example
 * describeStreamStoreDeadLetterContract(fixtures); // called by describeStreamStoreContract
 */
export function describeStreamStoreDeadLetterContract(f: StreamFixtures): void {
  const { stream, fill, reader, drain } = f;
  const store = () => f.s().store;

  describe('dead letters and replay', () => {
    /** Dead-letters the first `count` entries of a fresh stream in group `g` (fail at maxDeliveries 1). */
    const deadLettered = async (count: number, extra = 0) => {
      const keys = stream();
      const ids = await fill(keys, count);
      await store().ensureGroup(keys, 'g', 'earliest');
      await drain(reader(), keys, 'g', 'c1');
      for (const id of ids) expect(await store().fail(keys, 'g', 'c1', id, `boom ${id}`, 1, 0)).toBe('dead');
      await fill(keys, extra, 'later');
      return { keys, ids };
    };

    it('lists dead letters oldest first with their fields, and pages after an id', async () => {
      const { keys, ids } = await deadLettered(3);
      const page = await store().deadLetters(keys, null, 2);
      expect(page).toEqual(ids.slice(0, 2).map((entryId, i) => ({
        id: expect.stringMatching(ID), data: `v${i}`, entryId, group: 'g', consumer: 'c1', error: `boom ${entryId}`, deliveries: 1,
      })));
      const rest = await store().deadLetters(keys, page[1].id, 2);
      expect(rest.map((d) => d.entryId)).toEqual([ids[2]]);
      expect(await store().deadLetters(stream(), null, 10)).toEqual([]);
    });

    it('replay appends the payload anew for its group only and removes the dead letter; null when unknown', async () => {
      const { keys, ids } = await deadLettered(2);
      const [first, second] = await store().deadLetters(keys, null, 10);
      const replayed = await store().replay(keys, first.id, 0);
      expect(replayed).toMatch(ID);
      expect(compareIds(replayed!, ids[1])).toBe(1);
      expect(await store().range(keys, replayed!, 1)).toEqual([{ id: replayed, data: 'v0', onlyGroup: 'g' }]);
      expect(await store().deadLetters(keys, null, 10)).toEqual([second]);
      expect(await drain(reader(), keys, 'g', 'c1')).toEqual([replayed]);
      expect(await store().replay(keys, first.id, 0)).toBeNull();
      expect(await store().replay(keys, '1-1', 0)).toBeNull();
    });

    it('a replayed entry carries its group to every reader (other groups see onlyGroup and skip it)', async () => {
      const { keys } = await deadLettered(1);
      await store().ensureGroup(keys, 'other', 'latest');
      const [letter] = await store().deadLetters(keys, null, 1);
      const replayed = await store().replay(keys, letter.id, 0);
      expect(await reader().readNew(keys, 'other', 'c9', 10, 100)).toEqual([{ id: replayed, data: 'v0', onlyGroup: 'g' }]);
    });

    it('replay with maxLen trims the stream to about maxLen newest entries (at most 100 more), the replayed one last', async () => {
      const { keys } = await deadLettered(1, 300);
      const [letter] = await store().deadLetters(keys, null, 1);
      const replayed = await store().replay(keys, letter.id, 10);
      const length = await store().length(keys);
      expect(length).toBeGreaterThanOrEqual(10);
      expect(length).toBeLessThanOrEqual(110);
      const kept = await store().range(keys, '-', 1_000);
      expect(kept).toHaveLength(length);
      expect(kept[kept.length - 1]).toEqual({ id: replayed, data: 'v0', onlyGroup: 'g' });
    });

    it('a replayed entry that fails again is dead-lettered again for its group, and replays again', async () => {
      const { keys } = await deadLettered(1);
      const [letter] = await store().deadLetters(keys, null, 1);
      const replayed = (await store().replay(keys, letter.id, 0))!;
      expect(await drain(reader(), keys, 'g', 'c2')).toEqual([replayed]);
      expect(await store().fail(keys, 'g', 'c2', replayed, 'boom again', 1, 0)).toBe('dead');
      const [again] = await store().deadLetters(keys, null, 10);
      expect(again).toEqual({ id: expect.stringMatching(ID), data: 'v0', entryId: replayed, group: 'g', consumer: 'c2', error: 'boom again', deliveries: 1 });
      const second = (await store().replay(keys, again.id, 0))!;
      expect(await store().range(keys, second, 1)).toEqual([{ id: second, data: 'v0', onlyGroup: 'g' }]);
      expect(await drain(reader(), keys, 'g', 'c2')).toEqual([second]);
      expect(await store().deadLetters(keys, null, 10)).toEqual([]);
    });
  });
}
