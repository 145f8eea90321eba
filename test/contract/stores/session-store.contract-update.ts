import type { SessionFields } from '../../../libs/coordination/src/sessions/session-store.interface.js';
import type { SessionFixtures, SessionStoreUnderTest } from './session-store.contract.js';

/**
 * The update part of the SessionStore contract (see session-store.contract.ts): fields set and
 * removed in one step with the version incremented, sliding when asked, compare-and-set on the
 * version under concurrency, no lost update of different fields, and `extend`.
 *
 * @example
 * describe('update and extend', () => describeSessionStoreUpdateContract(() => storeUnderTest, fixtures));
 */
export function describeSessionStoreUpdateContract(current: () => SessionStoreUnderTest, { user, create, serviceFields, times }: SessionFixtures): void {
  describe('update', () => {
    it('sets and removes fields, keeps the others, increments v; without touch l and e stay', async () => {
      const u = user();
      const { key, fields } = await create(u, { fields: serviceFields(u.userId, { a: '1', b: '2', c: '3' }) });
      const result = await current().store.update(key, { set: { 'd:a': '10', 'd:new': '"x"', m: '{}' }, unset: ['d:b', 'd:absent'], touch: false });
      const expected: SessionFields = { ...fields, 'd:a': '10', 'd:new': '"x"', m: '{}', v: '2' };
      delete expected['d:b'];
      expect(result).toEqual({ updated: true, fields: expected });
      expect(await current().store.read(key, false)).toEqual(expected);
      expect(await current().store.update(key, { set: {}, unset: ['d:c'], touch: false })).toMatchObject({ updated: true, fields: { v: '3' } });
      expect((await current().store.read(key, false))!['d:c']).toBeUndefined();
      expect(await current().expiryOf(key)).toBe(Number(fields.e));
    });

    it('with touch records the activity and slides the idle expiry', async () => {
      const { key, fields } = await create(user(), { idleTtlMs: 60_000 });
      await current().elapse(5);
      const result = await current().store.update(key, { set: { 'd:a': '1' }, unset: [], touch: true });
      if (!result.updated) throw new Error('not updated');
      const { l, e } = times(result.fields);
      expect(l).toBeGreaterThan(Number(fields.l));
      expect(e).toBe(l + 60_000);
      expect(await current().expiryOf(key)).toBe(e);
    });

    it('compare-and-set on v: the right version updates, another reports the current one and writes nothing', async () => {
      const { key, fields } = await create(user());
      expect(await current().store.update(key, { set: { 'd:a': '1' }, unset: [], ifVersion: 1, touch: false })).toMatchObject({ updated: true, fields: { v: '2' } });
      expect(await current().store.update(key, { set: { 'd:a': '2' }, unset: ['u'], ifVersion: 1, touch: true })).toEqual({ updated: false, reason: 'version', version: 2 });
      expect(await current().store.read(key, false)).toEqual({ ...fields, 'd:a': '1', v: '2' });
      expect(await current().store.update(current().keys.session('acme', current().keys.newId('acme', 'nobody').member), { set: { 'd:a': '1' }, unset: [], ifVersion: 1, touch: false }))
        .toEqual({ updated: false, reason: 'missing' });
    });

    it('may remove every field but the time fields, and set them again', async () => {
      const u = user();
      const { key, fields } = await create(u);
      const names = Object.keys(serviceFields(u.userId));
      const { t, l, e, x, i } = fields;
      const bare = { t, l, e, x, i, v: '2' };
      expect(await current().store.update(key, { set: {}, unset: names, touch: false })).toEqual({ updated: true, fields: bare });
      expect(await current().store.read(key, false)).toEqual(bare);
      expect(await current().store.update(key, { set: { u: u.userId, 'd:a': '1' }, unset: [], touch: false }))
        .toEqual({ updated: true, fields: { ...bare, u: u.userId, 'd:a': '1', v: '3' } });
    });

    it('keeps any field name and value as given: `__proto__`, quotes, slashes, control and non-ASCII characters', async () => {
      const { key, fields } = await create(user());
      const set = Object.fromEntries([ // fromEntries defines own properties: `__proto__` is a field here
        ['__proto__', '"p"'], ['constructor', 'c'], ['d:a/b', '</script> \\ "q" {}[]: \u0000'], ['d:ü ✓', '\u0001\u007f\n\t😀'], ['d:1', ''],
      ]) as SessionFields;
      const result = await current().store.update(key, { set, unset: [], touch: true });
      if (!result.updated) throw new Error('not updated');
      const read = (await current().store.read(key, false))!;
      expect(read).toEqual(result.fields);
      expect(Object.getPrototypeOf(read)).toBe(Object.prototype);
      expect(Object.entries(read).sort()).toEqual(Object.entries({ ...fields, l: read.l, e: read.e, v: '2' }).concat(Object.entries(set)).sort());
    });

    it('of 20 concurrent compare-and-set updates from one version exactly one wins', async () => {
      const { key } = await create(user());
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => current().store.update(key, { set: { 'd:winner': `${i}` }, unset: [], ifVersion: 1, touch: true })));
      const winners = results.flatMap((r, i) => (r.updated ? [i] : []));
      expect(winners).toHaveLength(1);
      expect(results.filter((r) => !r.updated)).toEqual(Array(19).fill({ updated: false, reason: 'version', version: 2 }));
      expect(await current().store.read(key, false)).toMatchObject({ 'd:winner': `${winners[0]}`, v: '2' });
    });

    it('50 concurrent updates of different fields lose nothing', async () => {
      const { key } = await create(user());
      await Promise.all(Array.from({ length: 50 }, (_, i) => current().store.update(key, { set: { [`d:f${i}`]: `${i}` }, unset: [], touch: i % 2 === 0 })));
      const record = (await current().store.read(key, false))!;
      expect(Array.from({ length: 50 }, (_, i) => record[`d:f${i}`])).toEqual(Array.from({ length: 50 }, (_, i) => `${i}`));
      expect(record.v).toBe('51');
    });
  });

  describe('extend', () => {
    it('moves the idle expiry to now + ttl (at most x), records the activity and makes ttl the idle lifetime i', async () => {
      const { key, fields } = await create(user(), { idleTtlMs: 1_000, absoluteTtlMs: 100_000 });
      await current().elapse(5);
      const extended = (await current().store.extend(key, 50_000))!;
      const { l, e, i } = times(extended);
      expect(l).toBeGreaterThan(Number(fields.l));
      expect([e, i]).toEqual([l + 50_000, 50_000]);
      expect(extended).toEqual({ ...fields, l: `${l}`, e: `${e}`, i: '50000' });
      expect(await current().store.read(key, false)).toEqual(extended);
      expect(await current().expiryOf(key)).toBe(e);
      // The next sliding read and update keep the extended idle lifetime.
      await current().elapse(5);
      const slid = times((await current().store.read(key, true))!);
      expect([slid.e - slid.l, slid.i]).toEqual([50_000, 50_000]);
      const updated = await current().store.update(key, { set: { 'd:a': '1' }, unset: [], touch: true });
      if (!updated.updated) throw new Error('not updated');
      expect(times(updated.fields).e - times(updated.fields).l).toBe(50_000);
      // i is the given lifetime even when x caps e.
      const capped = times((await current().store.extend(key, 500_000))!);
      expect([capped.e, capped.i]).toEqual([capped.x, 500_000]);
      expect(await current().expiryOf(key)).toBe(capped.x);
      expect(await current().store.extend(current().keys.session('acme', current().keys.newId('acme', 'nobody').member), 1_000)).toBeNull();
    });
  });
}
