import { ManualClock } from '../core/clock.js';
import { MemoryStreamStore } from './memory-stream.store.js';
import { StreamGroupMissingError } from './stream-group-missing.js';
import type { StreamKeyPair } from './stream-store.interface.js';

const keys: StreamKeyPair = { stream: 'app:t:stream:{orders}', dead: 'app:t:stream:{orders}:dead' };
const other: StreamKeyPair = { stream: 'app:t:stream:{audit}', dead: 'app:t:stream:{audit}:dead' };
/** Longer than Jest's test timeout: a read that is not woken fails the test instead of returning [] in time. */
const FOREVER_MS = 60_000;

/** Whether `promise` has settled once the pending callbacks have run (no time passes on any clock). */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true), () => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

/** The pending entries list of a group, from the store's internals (for what only its use shows). */
function pelOf(store: MemoryStreamStore, stream: string, group: string): Map<string, unknown> {
  const logs = (store as unknown as { logs: Map<string, { groups: Map<string, { pel: Map<string, unknown> }> }> }).logs;
  return logs.get(stream)!.groups.get(group)!.pel;
}

/** Counts the steps taken by every iteration of `map` from now on; returns the count so far. */
function countIterations(map: Map<string, unknown>): () => number {
  let steps = 0;
  const entries = () => {
    const inner = Map.prototype.entries.call(map);
    return { next: () => (steps++, inner.next()), [Symbol.iterator]() { return this; } } as MapIterator<[string, unknown]>;
  };
  Object.assign(map, { entries, [Symbol.iterator]: entries });
  return () => steps;
}

describe('MemoryStreamStore', () => {
  let clock: ManualClock;
  let store: MemoryStreamStore;

  beforeEach(() => {
    clock = new ManualClock(1_000);
    store = new MemoryStreamStore(clock);
  });

  it('gives strictly increasing ids while the clock stands still or goes back, as XADD', async () => {
    const standing = [await store.append(keys, 'a', 0), await store.append(keys, 'b', 0), await store.append(keys, 'c', 0)];
    clock.set(500);
    const behind = await store.append(keys, 'd', 0);
    clock.set(2_000);
    const ahead = await store.append(keys, 'e', 0);
    expect([...standing, behind, ahead]).toEqual(['1000-0', '1000-1', '1000-2', '1000-3', '2000-0']);
    expect((await store.range(keys, '-', 10)).map((e) => e.data)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('never hands out 0-0, counts on past trimmed entries, and counts each key alone', async () => {
    clock.set(0);
    expect(await store.append(keys, 'a', 1)).toBe('0-1');
    for (let i = 0; i < 99; i++) await store.append(keys, 'b', 1);
    expect(await store.append(keys, 'c', 1)).toBe('0-101');
    expect(await store.range(keys, '-', 10)).toEqual([{ id: '0-101', data: 'c' }]);
    expect(await store.append(other, 'x', 0)).toBe('0-1');
  });

  it('trims in chunks of 100, as Redis drops whole nodes: up to 99 entries past maxLen stay, the 100th trims to maxLen', async () => {
    for (let i = 0; i < 10; i++) await store.append(keys, `a${i}`, 10);
    for (let i = 0; i < 99; i++) await store.append(keys, `b${i}`, 10);
    expect(await store.length(keys)).toBe(109);
    await store.append(keys, 'c', 10);
    expect((await store.range(keys, '-', 100)).map((e) => e.data)).toEqual([...Array.from({ length: 9 }, (_, i) => `b${90 + i}`), 'c']);
  });

  it('an idle claim walks the pending entries from its cursor and stops when done, without copying the whole list', async () => {
    await store.ensureGroup(keys, 'billing', 'earliest');
    for (let i = 0; i < 1_000; i++) await store.append(keys, `v${i}`, 0);
    expect(await store.openReader().readNew(keys, 'billing', 'w1', 1_000, 1_000)).toHaveLength(1_000);
    const steps = countIterations(pelOf(store, keys.stream, 'billing'));
    const claimed = await store.claim(keys, 'billing', 'w2', { mode: 'idle', cursor: '0-0', minIdleMs: 0, count: 2, maxDeliveries: 5, deadMaxLen: 0 });
    expect(claimed.entries.map((e) => e.data)).toEqual(['v0', 'v1']);
    expect(claimed.next).toBe('1000-2');
    expect(steps()).toBeLessThanOrEqual(10);
  });

  it('returns copies: changing a reply changes nothing in the store', async () => {
    await store.ensureGroup(keys, 'billing', 'earliest');
    await store.append(keys, 'payload', 0);
    const [read] = await store.range(keys, '-', 1);
    (read as { data: string }).data = 'changed';
    const [delivered] = await store.openReader().readNew(keys, 'billing', 'w1', 10, 1_000);
    (delivered as { data: string }).data = 'changed';
    const summary = await store.pending(keys, 'billing');
    (summary.consumers as Record<string, number>).w1 = 99;
    const [info] = await store.groups(keys);
    (info as { pending: number }).pending = 99;

    expect(await store.range(keys, '-', 1)).toEqual([{ id: '1000-0', data: 'payload' }]);
    expect(await store.pending(keys, 'billing')).toEqual({ count: 1, oldestId: '1000-0', newestId: '1000-0', consumers: { w1: 1 } });
    expect((await store.groups(keys))[0]).toMatchObject({ pending: 1, lag: 0 });
  });

  it('wakes a blocked read when an entry is appended to its stream, not to another', async () => {
    await store.ensureGroup(keys, 'billing', 'earliest');
    const read = store.openReader().readNew(keys, 'billing', 'w1', 10, FOREVER_MS);
    expect(await settled(read)).toBe(false);
    await store.append(other, 'elsewhere', 0);
    expect(await settled(read)).toBe(false);
    const id = await store.append(keys, 'new', 0);
    expect(await read).toEqual([{ id, data: 'new' }]);
    expect(await store.pending(keys, 'billing')).toMatchObject({ count: 1, consumers: { w1: 1 } });
  });

  it('serves blocked readers in the order they blocked, one append each, as Redis does', async () => {
    await store.ensureGroup(keys, 'billing', 'earliest');
    const first = store.openReader().readNew(keys, 'billing', 'w1', 10, FOREVER_MS);
    const second = store.openReader().readNew(keys, 'billing', 'w2', 10, FOREVER_MS);
    const a = await store.append(keys, 'a', 0);
    expect(await first).toEqual([{ id: a, data: 'a' }]);
    expect(await settled(second)).toBe(false);
    const b = await store.append(keys, 'b', 0);
    expect(await second).toEqual([{ id: b, data: 'b' }]);
  });

  it('resolves a read in flight with [] on close, without taking what is appended afterwards', async () => {
    await store.ensureGroup(keys, 'billing', 'earliest');
    const reader = store.openReader();
    const read = reader.readNew(keys, 'billing', 'w1', 10, FOREVER_MS);
    expect(await settled(read)).toBe(false);
    await reader.close();
    expect(await read).toEqual([]);
    await store.append(keys, 'later', 0);
    expect(await reader.readNew(keys, 'billing', 'w1', 10, FOREVER_MS)).toEqual([]);
    expect(await store.groups(keys)).toEqual([expect.objectContaining({ group: 'billing', pending: 0, lag: 1 })]);
  });

  it('ends a read with [] after blockMs of real time while the injected clock stands still', async () => {
    await store.ensureGroup(keys, 'billing', 'earliest');
    expect(await store.openReader().readNew(keys, 'billing', 'w1', 10, 20)).toEqual([]);
  });

  it('rejects a read of a missing group with StreamGroupMissingError, before blocking', async () => {
    await store.append(keys, 'a', 0);
    await expect(store.openReader().readNew(keys, 'nobody', 'w1', 10, FOREVER_MS)).rejects.toBeInstanceOf(StreamGroupMissingError);
  });

  it('counts as lag only the entries still in the stream after the last delivered one (exact, where Redis may count trimmed ones)', async () => {
    await store.ensureGroup(keys, 'billing', 'earliest');
    for (const data of ['a', 'b', 'c']) await store.append(keys, data, 0);
    await store.openReader().readNew(keys, 'billing', 'w1', 1, 1_000);
    // 103 entries: trimmed to the newest 3 (see the chunks above); the delivered one is gone.
    for (let i = 0; i < 100; i++) await store.append(keys, `n${i}`, 3);
    expect(await store.length(keys)).toBe(3);
    expect(await store.groups(keys)).toEqual([{ group: 'billing', consumers: 1, pending: 1, lag: 3, lastDeliveredId: '1000-0' }]);
  });
});
