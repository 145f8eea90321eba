import fc from 'fast-check';
import { Cluster, Redis } from 'ioredis';
import { testClusterNodes, testRedisUrl } from '../../../../test/harness/env.js';
import { uniquePrefix } from '../../../../test/support/drivers.js';
import { KeyBuilder, SHARED_TENANT, decodeId, encodeId, escapeGlob, isTenantId, keyTail, kindOf } from './key-builder.js';

// --- Redis glob semantics (stringmatchlen in util.c), on the UTF-8 bytes Redis stores -------

const [STAR, QUESTION, OPEN, CLOSE, BACKSLASH, CARET, DASH] = [...'*?[]\\^-'].map((c) => c.charCodeAt(0));

function globMatches(pattern: string, subject: string): boolean {
  const pat = Buffer.from(pattern, 'utf8');
  const str = Buffer.from(subject, 'utf8');
  const from = (p: number, s: number): boolean => {
    while (p < pat.length && s < str.length) {
      if (pat[p] === STAR) {
        while (pat[p + 1] === STAR) p++;
        if (p + 1 === pat.length) return true;
        for (let k = s; k < str.length; k++) if (from(p + 1, k)) return true;
        return false;
      } else if (pat[p] === QUESTION) {
        s++;
      } else if (pat[p] === OPEN) {
        p++;
        const negate = pat[p] === CARET;
        if (negate) p++;
        let hit = false;
        for (;;) {
          if (pat[p] === BACKSLASH && pat.length - p >= 2) {
            p++;
            if (pat[p] === str[s]) hit = true;
          } else if (pat[p] === CLOSE) {
            break;
          } else if (p >= pat.length) {
            p--;
            break;
          } else if (pat.length - p >= 3 && pat[p + 1] === DASH) {
            const [lo, hi] = pat[p] <= pat[p + 2] ? [pat[p], pat[p + 2]] : [pat[p + 2], pat[p]];
            if (str[s] >= lo && str[s] <= hi) hit = true;
            p += 2;
          } else if (pat[p] === str[s]) {
            hit = true;
          }
          p++;
        }
        if (negate ? hit : !hit) return false;
        s++;
      } else {
        if (pat[p] === BACKSLASH && pat.length - p >= 2) p++;
        if (pat[p] !== str[s]) return false;
        s++;
      }
      p++;
      if (s === str.length) {
        while (pat[p] === STAR) p++;
        break;
      }
    }
    return p === pat.length && s === str.length;
  };
  return from(0, 0);
}

const bytesOf = (text: string) => Buffer.from(text, 'utf8').toString('hex');

// --- arbitraries ------------------------------------------------------------------------------

const DANGEROUS = [...'*?[]\\{}:%', ' ', '\u0000', '\n', '\u007f', '\ud800', '\udfff', '\ufffd', 'é', '😀'];
/** Strings from a small alphabet rich in dangerous characters, so that near-collisions are likely. */
const nastyString = fc.string({ unit: fc.oneof(fc.constantFrom(...DANGEROUS, 'a', '2', '5', 'u'), fc.string({ minLength: 1, maxLength: 1 })), maxLength: 12 });
/** Any UTF-16 code unit sequence, lone surrogates included. */
const utf16String = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 16 });
const anyResource = fc.oneof(nastyString, utf16String, fc.string({ unit: 'binary', maxLength: 16 }));
/** Strings without lone surrogates (what a glob pattern can express exactly). */
const SAFE_DANGEROUS = DANGEROUS.filter((c) => !/^[\ud800-\udfff]$/.test(c));
const wellFormed = fc.oneof(
  fc.string({ unit: fc.constantFrom(...SAFE_DANGEROUS, 'a', 'b'), maxLength: 10 }),
  fc.string({ unit: 'binary', maxLength: 10 }),
);
const tenantId = fc.oneof(fc.constantFrom('acme', 'acme2', 'a', 'A', 'acme.eu', 'acme-eu', 'acme_eu', '0'), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/));
const capability = fc.constantFrom('lock', 'lock-x', 'cache', 'ratelimit', 'l');

const keys = new KeyBuilder('coord');

describe('KeyBuilder properties', () => {
  it('never gives two distinct (tenant, resource) pairs the same key bytes', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(fc.constantFrom('acme', 'acme2', 'b'), anyResource), { minLength: 2, maxLength: 40, selector: ([t, r]) => `${t}\u0001${r}` }), (pairs) => {
        const built = new Set(pairs.map(([tenant, resource]) => bytesOf(keys.key(tenant, 'lock', resource))));
        expect(built.size).toBe(pairs.length);
      }),
      { numRuns: 500 },
    );
  });

  it('encodeId is injective on the bytes Redis sees', () => {
    fc.assert(
      fc.property(anyResource, anyResource, (a, b) => {
        fc.pre(a !== b);
        expect(bytesOf(encodeId(a))).not.toBe(bytesOf(encodeId(b)));
      }),
      { numRuns: 2_000 },
    );
    // The concrete collisions a naive encoding has: lone surrogates all become U+FFFD in UTF-8.
    expect(bytesOf(encodeId('\ud800'))).not.toBe(bytesOf(encodeId('\udbff')));
    expect(bytesOf(encodeId('\ud800'))).not.toBe(bytesOf(encodeId('\ufffd')));
    expect(encodeId('%')).not.toBe('%');
  });

  it('decodeId reverses encodeId for any id (the user ids of index keys read back from a SCAN)', () => {
    fc.assert(
      fc.property(anyResource, (id) => {
        expect(decodeId(encodeId(id))).toBe(id);
      }),
      { numRuns: 2_000 },
    );
    for (const id of ['', 'plain', 'a:b', '%', '%25', '%u', 'a b*?[]\\{}', '\ud800', '\udfffx', '\ud83d\ude00', '\u0000\u007f']) {
      expect(decodeId(encodeId(id))).toBe(id);
    }
  });

  it('isTenantId and kindOf: the checks assertTenantId and the capabilities share', () => {
    for (const tenant of ['acme', 'A1', 'acme.eu-west_2', 'x'.repeat(64), '0']) expect(isTenantId(tenant)).toBe(true);
    for (const tenant of ['', '_shared', '-a', 'a b', 'a*', 'x'.repeat(65), 'acme:x']) expect(isTenantId(tenant)).toBe(false);
    expect([null, undefined, [], {}, 1, 'x', 1n].map(kindOf)).toEqual(['null', 'undefined', 'an array', 'an object', 'a number', 'a string', 'a bigint']);
  });

  it('wraps any resource in exactly one non-empty hash tag that every suffix key shares', () => {
    fc.assert(
      fc.property(tenantId, capability, anyResource, (tenant, cap, resource) => {
        const key = keys.key(tenant, cap, resource);
        const withSuffix = keys.key(tenant, cap, resource, { suffix: 'fence' });
        for (const k of [key, withSuffix]) {
          expect(k.split('{')).toHaveLength(2);
          expect(k.split('}')).toHaveLength(2);
        }
        const tag = (k: string) => k.slice(k.indexOf('{') + 1, k.indexOf('}'));
        expect(tag(key)).not.toBe('');
        expect(tag(withSuffix)).toBe(tag(key));
        expect(withSuffix).toBe(`${key}:fence`);
        expect(key.startsWith(keys.namespace(tenant, cap))).toBe(true);
      }),
      { numRuns: 1_000 },
    );
  });

  it('key(..., tail(options), part) is key(..., options with part appended to its parts), and the tail alone is key(..., options)', () => {
    const options = fc.record({ suffix: fc.constantFrom('fw', 'queue', 'a-1'), parts: fc.array(anyResource, { maxLength: 3 }) }, { requiredKeys: [] });
    fc.assert(
      fc.property(tenantId, capability, anyResource, options, anyResource, (tenant, cap, resource, o, part) => {
        const tail = keys.tail(o);
        expect(keys.key(tenant, cap, resource, tail, part)).toBe(keys.key(tenant, cap, resource, { ...o, parts: [...(o.parts ?? []), part] }));
        expect(keys.key(tenant, cap, resource, tail)).toBe(keys.key(tenant, cap, resource, o));
        expect(keyTail(o)).toBe(tail);
      }),
      { numRuns: 1_000 },
    );
  });

  it('never builds a key for tenant A that starts with tenant B\'s namespace', () => {
    fc.assert(
      fc.property(tenantId, tenantId, capability, capability, anyResource, (a, b, capA, capB, resource) => {
        fc.pre(a !== b || capA !== capB);
        expect(keys.key(a, capA, resource).startsWith(keys.namespace(b, capB))).toBe(false);
        expect(keys.channel(a, capA, resource).startsWith(keys.namespace(b, capB))).toBe(false);
      }),
      { numRuns: 1_000 },
    );
    expect(keys.key('acme', 'lock', 'x').startsWith(keys.namespace(SHARED_TENANT, 'lock'))).toBe(false);
  });

  it('builds SCAN patterns from any user glob that never match another tenant\'s or capability\'s key', () => {
    fc.assert(
      fc.property(tenantId, tenantId, capability, capability, anyResource, anyResource, (a, b, capA, capB, glob, resource) => {
        fc.pre(a !== b || capA !== capB);
        const pattern = keys.pattern(a, capA, glob);
        expect(globMatches(pattern, keys.key(b, capB, resource))).toBe(false);
        expect(globMatches(pattern, keys.key(b, capB, resource, { suffix: 'queue' }))).toBe(false);
        expect(globMatches(keys.channelPattern(a, capA, glob), keys.channel(b, capB, resource))).toBe(false);
      }),
      { numRuns: 2_000 },
    );
  });

  it('takes every glob character but `*` literally: a glob without `*` matches exactly its own resource', () => {
    fc.assert(
      fc.property(tenantId, anyResource, anyResource, (tenant, literal, other) => {
        fc.pre(!literal.includes('*'));
        const pattern = keys.pattern(tenant, 'cache', literal);
        expect(globMatches(pattern, keys.key(tenant, 'cache', literal))).toBe(true);
        expect(globMatches(pattern, keys.key(tenant, 'cache', literal, { suffix: 'meta' }))).toBe(true);
        expect(globMatches(pattern, keys.key(tenant, 'cache', other))).toBe(literal === other);
        expect(globMatches(keys.channelPattern(tenant, 'events', literal), keys.channel(tenant, 'events', other))).toBe(literal === other);
      }),
      { numRuns: 2_000 },
    );
  });

  it('matches every resource a `*` glob describes', () => {
    fc.assert(
      fc.property(tenantId, fc.array(wellFormed, { minLength: 1, maxLength: 4 }), fc.array(wellFormed, { minLength: 4, maxLength: 4 }), (tenant, parts, fillers) => {
        const literalParts = parts.map((p) => p.replaceAll('*', ''));
        const glob = literalParts.join('*');
        const resource = literalParts.map((p, i) => (i === 0 ? p : fillers[i] + p)).join('');
        expect(globMatches(keys.pattern(tenant, 'cache', glob), keys.key(tenant, 'cache', resource))).toBe(true);
      }),
      { numRuns: 1_000 },
    );
  });

  it('escapeGlob makes any literal match only itself', () => {
    fc.assert(
      fc.property(wellFormed, wellFormed, (literal, other) => {
        expect(globMatches(escapeGlob(literal), literal)).toBe(true);
        expect(globMatches(escapeGlob(literal), other)).toBe(bytesOf(literal) === bytesOf(other));
        expect(globMatches(escapeGlob(literal), `${literal}x`)).toBe(false);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('KeyBuilder against a real Redis', () => {
  let redis: Redis;
  let cluster: Cluster;
  const prefix = uniquePrefix('keys');
  const builder = new KeyBuilder(prefix);
  const stored: string[] = [];

  beforeAll(async () => {
    redis = new Redis(testRedisUrl());
    cluster = new Cluster(testClusterNodes());
    const tenants = ['acme', 'acme2', 'b'];
    const resources = fc.sample(anyResource, { numRuns: 100, seed: 42 });
    for (const tenant of tenants) {
      for (const [i, resource] of resources.entries()) stored.push(builder.key(tenant, i % 2 ? 'lock' : 'cache', resource));
    }
    stored.push(builder.key('acme', 'cache', 'user:1'), builder.key('acme', 'cache', 'user:1', { suffix: 'meta' }));
    const unique = [...new Set(stored)];
    await redis.mset(...unique.flatMap((k) => [k, '1']));
    for (const k of unique) await redis.expire(k, 120);
  });

  afterAll(async () => {
    await redis.del(...new Set(stored));
    redis.disconnect();
    cluster.disconnect();
  });

  async function scan(match: string): Promise<string[]> {
    const found = new Set<string>();
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      batch.forEach((k) => found.add(k));
      cursor = next;
    } while (cursor !== '0');
    return [...found].sort();
  }

  it('keys round-trip through Redis byte for byte', async () => {
    const returned = await scan(`${escapeGlob(prefix)}:*`);
    expect(returned).toEqual([...new Set(stored)].sort());
  });

  it('SCAN MATCH with built patterns returns exactly the keys the glob model predicts, all of one tenant', async () => {
    const globs = [...fc.sample(anyResource, { numRuns: 60, seed: 7 }), '*', 'user:*', '', '%', '*:*', '[a-z]*', '\\*', '?'];
    for (const tenant of ['acme', 'b']) {
      for (const glob of globs) {
        const pattern = builder.pattern(tenant, 'cache', glob);
        const expected = [...new Set(stored)].filter((k) => globMatches(pattern, k)).sort();
        const found = await scan(pattern);
        expect(found).toEqual(expected);
        for (const key of found) expect(key.startsWith(builder.namespace(tenant, 'cache'))).toBe(true);
      }
    }
    expect(await scan(builder.pattern('acme', 'cache', 'user:*'))).toEqual([
      builder.key('acme', 'cache', 'user:1'),
      builder.key('acme', 'cache', 'user:1', { suffix: 'meta' }),
    ].sort());
  });

  it('escapeGlob literals match only themselves in SCAN MATCH', async () => {
    for (const key of [...new Set(stored)].slice(0, 80)) expect(await scan(escapeGlob(key))).toEqual([key]);
  });

  it('puts every key of one resource, the empty resource included, in one cluster slot', async () => {
    for (const resource of ['', 'invoice:42', '{x}', '}{', '\ud800']) {
      const slots = await Promise.all(
        [undefined, 'fence', 'queue'].map((suffix) => cluster.call('CLUSTER', 'KEYSLOT', builder.key('acme', 'lock', resource, { suffix }))),
      );
      expect(new Set(slots).size).toBe(1);
    }
  });
});
