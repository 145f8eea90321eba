import { ManualClock } from '../core/clock.js';
import { KeyBuilder } from '../keys/key-builder.js';
import { CacheL1, MAX_TRACKED_DROPS, type CacheL1Options, type L1Entry } from './cache-l1.js';

const keys = new KeyBuilder('app');
const START = 1_000_000;
const key = (tenant: string, id: string) => keys.key(tenant, 'cache', id);
const tag = (tenant: string, name: string) => keys.key(tenant, 'cache-tag', name);

function setup(options: Partial<CacheL1Options> = {}) {
  const clock = new ManualClock(START);
  const l1 = new CacheL1({ enabled: true, maxEntries: 100, maxBytes: 1_000_000, ttlMs: 60_000, shareValues: false, ...options }, clock);
  const entry = (text: string, extra: Partial<L1Entry> = {}): L1Entry => ({ text, freshUntil: clock.now() + 10_000, tagKeys: [], hasValue: false, ...extra });
  /** Stores at the current generation (no drop raced the read). */
  const put = (fullKey: string, text: string, extra: Partial<L1Entry> = {}, tenant = 'acme') => l1.set(fullKey, tenant, entry(text, extra), l1.generation);
  const held = (...fullKeys: string[]) => fullKeys.filter((k) => l1.get(k) !== undefined);
  return { clock, l1, entry, put, held };
}

describe('CacheL1', () => {
  it('serves an entry while it is fresh, and neither after freshUntil nor after l1.ttlMs', () => {
    const { clock, l1, put, held } = setup({ ttlMs: 5_000 });
    put(key('acme', 'a'), 'A', { freshUntil: START + 1_000 });
    put(key('acme', 'b'), 'B', { freshUntil: START + 60_000 });
    expect(l1.get(key('acme', 'a'))?.text).toBe('A');
    clock.advance(1_000);
    expect(held(key('acme', 'a'), key('acme', 'b'))).toEqual([key('acme', 'b')]);
    clock.advance(4_001); // past l1.ttlMs, long before freshUntil
    expect(held(key('acme', 'b'))).toEqual([]);
    expect(l1.size).toBe(0);
  });

  it('does not store an entry that is no longer fresh, and drops the older one it would replace', () => {
    const { clock, l1, put, held } = setup();
    put(key('acme', 'a'), 'old');
    put(key('acme', 'a'), 'new', { freshUntil: clock.now() });
    expect(held(key('acme', 'a'))).toEqual([]);
    expect(l1.size).toBe(0);
  });

  it('refuses a set whose read started before a wide drop (generation guard); every drop bumps the generation', () => {
    const { l1, entry, held } = setup();
    const drops: Array<() => void> = [
      () => l1.deleteTags([tag('acme', 'x')]),
      () => l1.deletePattern(keys.pattern('acme', 'cache', 'z*')),
      () => l1.clearTenant('globex'),
      () => l1.clear(),
      () => l1.suspend(),
      () => l1.resume(),
    ];
    for (const drop of drops) {
      const atRead = l1.generation;
      drop();
      expect(l1.generation).toBe(atRead + 1);
      l1.set(key('acme', 'a'), 'acme', entry('stale?'), atRead);
      expect(held(key('acme', 'a'))).toEqual([]);
    }
    l1.set(key('acme', 'a'), 'acme', entry('A'), l1.generation);
    expect(l1.get(key('acme', 'a'))?.text).toBe('A');
  });

  it('refuses a set after a drop of its own key, not after a drop of another key', () => {
    const { l1, entry, held } = setup();
    const [a, b] = [key('acme', 'a'), key('acme', 'b')];
    const atRead = l1.generation;
    l1.deleteKeys([b]);
    expect(l1.generation).toBe(atRead + 1);
    l1.set(a, 'acme', entry('A'), atRead);
    expect(held(a)).toEqual([a]);
    l1.deleteKeys([key('acme', 'c'), a]);
    l1.set(a, 'acme', entry('A again?'), atRead);
    expect(held(a)).toEqual([]);
    // Read after that drop: accepted, even with later drops of other keys.
    const later = l1.generation;
    l1.deleteKeys([b]);
    l1.set(a, 'acme', entry('A2'), later);
    expect(l1.get(a)?.text).toBe('A2');
    expect(l1.droppedSince([b], later)).toBe(true);
    expect(l1.droppedSince([a], later)).toBe(false);
  });

  it(`refuses every set older than the oldest key drop it forgot (it remembers the last ${MAX_TRACKED_DROPS})`, () => {
    const { l1, entry, held } = setup();
    const a = key('acme', 'a');
    const atRead = l1.generation;
    l1.deleteKeys([a]);
    for (let i = 0; i < MAX_TRACKED_DROPS; i++) l1.deleteKeys([key('acme', `other:${i}`)]);
    // The drop of `a` is forgotten: a read from before it is refused all the same.
    l1.set(a, 'acme', entry('stale?'), atRead);
    expect(held(a)).toEqual([]);
    const recent = l1.generation - 1;
    l1.set(a, 'acme', entry('A'), recent);
    expect(held(a)).toEqual([a]);
  });

  it('drops by tag through its index, and a replaced entry no longer answers to its old tags', () => {
    const { l1, put, held } = setup();
    const [a, b, c] = [key('acme', 'a'), key('acme', 'b'), key('acme', 'c')];
    put(a, 'A', { tagKeys: [tag('acme', 'x')] });
    put(b, 'B', { tagKeys: [tag('acme', 'x'), tag('acme', 'y')] });
    put(c, 'C', { tagKeys: [tag('acme', 'y')] });
    put(a, 'A2', { tagKeys: [tag('acme', 'z')] });
    l1.deleteTags([tag('acme', 'x')]);
    expect(held(a, b, c)).toEqual([a, c]);
    l1.deleteTags([tag('acme', 'y'), tag('acme', 'z')]);
    expect(held(a, b, c)).toEqual([]);
  });

  it('keeps the tag index right when entries are evicted by count', () => {
    const { l1, put, held } = setup({ maxEntries: 2 });
    const [a, b, c] = [key('acme', 'a'), key('acme', 'b'), key('acme', 'c')];
    put(a, 'A', { tagKeys: [tag('acme', 'x')] });
    put(b, 'B', { tagKeys: [tag('acme', 'x')] });
    put(c, 'C'); // evicts a, the least recently used
    expect(held(a, b, c)).toEqual([b, c]);
    put(a, 'A untagged'); // evicts b; a must not be indexed under x any more
    l1.deleteTags([tag('acme', 'x')]);
    expect(held(a, b, c)).toEqual([a, c]);
    expect(l1.size).toBe(2);
  });

  it('keeps the tag index right when entries are evicted by bytes, and refuses one larger than maxBytes', () => {
    const text = 'v'.repeat(200);
    const { l1, put, held } = setup({ maxBytes: 1_500 });
    const [a, b, c] = [key('acme', 'a'), key('acme', 'b'), key('acme', 'c')];
    put(a, text, { tagKeys: [tag('acme', 'x')] });
    put(b, text, { tagKeys: [tag('acme', 'x')] });
    put(c, text); // three do not fit: a goes
    expect(held(a, b, c)).toEqual([b, c]);
    expect(l1.bytes).toBeLessThanOrEqual(1_500);
    put(a, 'short'); // fits beside b and c
    l1.deleteTags([tag('acme', 'x')]);
    expect(held(a, b, c)).toEqual([a, c]);

    put(c, 'w'.repeat(1_000), { tagKeys: [tag('acme', 'y')] }); // over maxBytes alone: refused, the old c dropped
    expect(held(a, c)).toEqual([a]);
    put(c, 'C');
    l1.deleteTags([tag('acme', 'y')]);
    expect(held(a, c)).toEqual([a, c]);
    expect(l1.bytes).toBeLessThanOrEqual(1_500);
  });

  it('drops by pattern with glob characters of the argument taken literally', () => {
    const { l1, put, held } = setup();
    const ids = ['user:1', 'user:2', 'abc', 'a?c', 'a1', '[a]1', 'user*'];
    for (const id of ids) put(key('acme', id), id);
    l1.deletePattern(keys.pattern('acme', 'cache', 'a?c'));
    l1.deletePattern(keys.pattern('acme', 'cache', '[a]*'), 'acme');
    expect(held(...ids.map((id) => key('acme', id)))).toEqual(['user:1', 'user:2', 'abc', 'a1', 'user*'].map((id) => key('acme', id)));
    l1.deletePattern(keys.pattern('acme', 'cache', 'user:*'));
    expect(held(...ids.map((id) => key('acme', id)))).toEqual(['abc', 'a1', 'user*'].map((id) => key('acme', id)));
  });

  it('never drops another tenant by pattern, even one that the tenant name would match as a regex', () => {
    const { l1, put, held } = setup();
    put(key('acme.eu', 'a'), 'A', {}, 'acme.eu');
    put(key('acmexeu', 'a'), 'A', {}, 'acmexeu');
    l1.deletePattern(keys.pattern('acme.eu', 'cache', '*'));
    expect(held(key('acme.eu', 'a'), key('acmexeu', 'a'))).toEqual([key('acmexeu', 'a')]);
    l1.deletePattern(keys.pattern('acme.eu', 'cache', '*'), 'acmexeu'); // the wrong tenant's index: nothing matches
    expect(held(key('acmexeu', 'a'))).toEqual([key('acmexeu', 'a')]);
  });

  it('clears one tenant without touching another', () => {
    const { l1, put, held } = setup();
    put(key('acme', 'a'), 'A', { tagKeys: [tag('acme', 'x')] }, 'acme');
    put(key('globex', 'a'), 'A', {}, 'globex');
    l1.clearTenant('acme');
    expect(held(key('acme', 'a'), key('globex', 'a'))).toEqual([key('globex', 'a')]);
    put(key('acme', 'b'), 'B', {}, 'acme');
    l1.deleteTags([tag('acme', 'x')]); // the index forgot a: b stays
    expect(held(key('acme', 'b'))).toEqual([key('acme', 'b')]);
  });

  it('is cleared and bypassed while suspended, and cleared again on resume', () => {
    const { l1, put, held } = setup();
    put(key('acme', 'a'), 'A');
    l1.suspend();
    expect(held(key('acme', 'a'))).toEqual([]);
    put(key('acme', 'b'), 'B');
    expect(l1.size).toBe(0);
    l1.resume();
    expect(l1.size).toBe(0);
    put(key('acme', 'c'), 'C');
    expect(held(key('acme', 'b'), key('acme', 'c'))).toEqual([key('acme', 'c')]);
    expect(l1.bytes).toBeGreaterThan(0);
    l1.clear();
    expect([l1.size, l1.bytes]).toEqual([0, 0]);
  });

  it('keeps the decoded value only with shareValues, and holds its own frozen copy of the entry', () => {
    const value = { crew: ['ada'] };
    const tagKeys = [tag('acme', 'x')];
    const copying = setup();
    copying.put(key('acme', 'a'), 'text', { value, hasValue: true, tagKeys });
    const copied = copying.l1.get(key('acme', 'a'))!;
    expect(copied).toEqual({ text: 'text', freshUntil: START + 10_000, hasValue: false, tagKeys: [tag('acme', 'x')] });
    expect('value' in copied).toBe(false);
    expect(Object.isFrozen(copied) && Object.isFrozen(copied.tagKeys)).toBe(true);
    tagKeys.push(tag('acme', 'y')); // the caller's array is not the one held
    copying.l1.deleteTags([tag('acme', 'y')]);
    expect(copying.held(key('acme', 'a'))).toHaveLength(1);

    const sharing = setup({ shareValues: true });
    sharing.put(key('acme', 'a'), 'text', { value, hasValue: true });
    expect(sharing.l1.get(key('acme', 'a'))?.value).toBe(value);
  });

  it('holds nothing when disabled', () => {
    const { l1, put } = setup({ enabled: false });
    put(key('acme', 'a'), 'A');
    expect([l1.enabled, l1.get(key('acme', 'a')), l1.size, l1.bytes]).toEqual([false, undefined, 0, 0]);
    expect(() => l1.deleteTags([tag('acme', 'x')])).not.toThrow();
  });
});
