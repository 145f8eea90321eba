import { escapeGlob } from '../../../libs/coordination/src/keys/key-builder.js';
import type { CacheStoreUnderTest } from './cache-store.contract.js';

const LONG = 60_000;

/**
 * The `deleteMatching` part of the CacheStore contract (see cache-store.contract.ts): patterns
 * from KeyBuilder.pattern delete exactly the matching keys of one tenant's namespace, on every
 * master, in several SCAN batches, whatever glob characters the caller's literal holds, while
 * other writes go on.
 *
 * @example
 * describe('deleteMatching', () => describeCacheStoreMatchingContract(() => storeUnderTest));
 */
export function describeCacheStoreMatchingContract(current: () => CacheStoreUnderTest): void {
  let n = 0;
  /** A namespace part no other test uses, so each test sees only its own keys. */
  const run = () => `r${++n}`;

  const write = (keys: readonly string[]) => current().store.setMany(keys.map((key) => ({ key, value: key, ttlMs: LONG })));
  const present = async (keys: readonly string[]) => (await current().store.getMany(keys)).filter((v) => v !== null).length;

  it('deletes the matching entries and leases of one tenant only, taking `? [ ] \\` in the literal literally', async () => {
    const { store, keys } = current();
    const r = run();
    const literal = `${r}q?[x]\\`;
    const matching = [`${literal}1`, `${literal}2:sub`, `${literal}`];
    const lookalikes = [`${r}qa[x]\\1`, `${r}q?x\\1`, `${r}q?[x]1`, `${r}Q?[x]\\1`, `${r}q*[x]\\1`, `${r}q?[x]`, `x${literal}1`];
    const doomed = [
      ...matching.map((m) => keys.key('acme', 'cache', m)),
      ...matching.map((m) => keys.key('acme', 'cache', m, { suffix: 'lease' })),
    ];
    const kept = [
      ...lookalikes.map((l) => keys.key('acme', 'cache', l)),
      ...matching.flatMap((m) => ['acme2', 'globex', 'ac'].map((t) => keys.key(t, 'cache', m))),
      ...matching.map((m) => keys.key('acme', 'cache-tag', m)),
      ...matching.map((m) => keys.key('acme', 'embedding', m)),
    ];
    await write([...doomed, ...kept]);

    expect(await store.deleteMatching(keys.pattern('acme', 'cache', `${literal}*`))).toBe(doomed.length);
    expect(await present(doomed)).toBe(0);
    expect(await present(kept)).toBe(kept.length);
  });

  it('takes the escaped characters of a pattern literally, as SCAN MATCH does', async () => {
    const { store, keys } = current();
    // Raw keys: KeyBuilder percent-encodes `* ? [ ] \` out of every key it builds.
    const base = `${keys.namespace('acme', 'cache')}${run()}:raw:`;
    const literal = `${base}a*b?[c]\\d`;
    const doomed = [literal, `${literal}:1`];
    // Each would match if one escape were ignored: `*`, `?`, `[c]` as a class, `\d` as an escaped d.
    const kept = [`${base}aXb?[c]\\d`, `${base}a*bX[c]\\d`, `${base}a*b?c\\d`, `${base}a*b?[c]d`, `${base}a*b?[c]\\`];
    await write([...doomed, ...kept]);

    expect(await store.deleteMatching(`${escapeGlob(literal)}*`)).toBe(doomed.length);
    expect(await present(doomed)).toBe(0);
    expect(await present(kept)).toBe(kept.length);
  });

  it('`*` is a wildcard anywhere in the literal; a pattern matching nothing deletes nothing', async () => {
    const { store, keys } = current();
    const r = run();
    const doomed = ['user1:profile', 'user:profile', 'user:x:profile'].map((k) => keys.key('globex', 'cache', `${r}${k}`));
    const kept = ['user1:profiles', 'user1:profile:old', 'admin1:profile'].map((k) => keys.key('globex', 'cache', `${r}${k}`));
    await write([...doomed, ...kept]);

    expect(await store.deleteMatching(keys.pattern('globex', 'cache', `${r}nobody*`))).toBe(0);
    expect(await store.deleteMatching(keys.pattern('globex', 'cache', `${r}user*:profile`))).toBe(doomed.length);
    expect(await present(doomed)).toBe(0);
    expect(await present(kept)).toBe(kept.length);
  });

  it('deletes more than a thousand keys over every master, in several SCAN batches, and counts each once', async () => {
    const { store, keys, masters, mastersHolding } = current();
    const r = run();
    const doomed = Array.from({ length: 1_500 }, (_, i) => keys.key('initech', 'cache', `${r}:bulk:${i}`));
    const kept = [
      ...Array.from({ length: 300 }, (_, i) => keys.key('initech', 'cache', `${r}:other:${i}`)),
      ...Array.from({ length: 300 }, (_, i) => keys.key('umbrella', 'cache', `${r}:bulk:${i}`)),
    ];
    await write([...doomed, ...kept]);
    expect(await mastersHolding(doomed)).toBe(masters);

    expect(await store.deleteMatching(keys.pattern('initech', 'cache', `${r}:bulk:*`))).toBe(doomed.length);
    expect(await present(doomed)).toBe(0);
    expect(await present(kept)).toBe(kept.length);
    expect(await store.deleteMatching(keys.pattern('initech', 'cache', `${r}:bulk:*`))).toBe(0);
  });

  it('works while other keys are written: every matching key present throughout is deleted, every other write stays', async () => {
    const { store, keys } = current();
    const r = run();
    const doomed = Array.from({ length: 1_200 }, (_, i) => keys.key('hooli', 'cache', `${r}:gone:${i}`));
    await write(doomed);
    const written: string[] = [];
    let scanning = true;
    const writer = (async () => {
      for (let batch = 0; scanning || batch < 3; batch++) {
        const next = Array.from({ length: 50 }, (_, i) => [
          keys.key('hooli', 'cache', `${r}:stays:${batch}:${i}`),
          keys.key('piedpiper', 'cache', `${r}:gone:${batch}:${i}`),
        ]).flat();
        await write(next);
        written.push(...next);
      }
    })();

    let deleted: number;
    try {
      deleted = await store.deleteMatching(keys.pattern('hooli', 'cache', `${r}:gone:*`));
    } finally {
      scanning = false;
      await writer;
    }
    expect(deleted).toBe(doomed.length);
    expect(await present(doomed)).toBe(0);
    expect(await present(written)).toBe(written.length);
  });
}
