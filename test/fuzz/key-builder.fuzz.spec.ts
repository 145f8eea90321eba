import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { CoordinationError, InvalidKeyError, TenantInvalidError } from '@nest-coordination/core';
import { KeyBuilder } from '../support/internals.js';
import { assertSafeId, assertTenantId, decodeId, encodeId } from '../../libs/coordination/src/keys/key-builder.js';
import { globToRegExp } from '../../libs/coordination/src/keys/glob.js';
import { anyValue, assertTyped, fuzzParameters, hostileString, settle, specialChar, validTenant } from './fuzz-support.js';

/**
 * Properties of the one key builder every capability uses (internal, not exported): the encoding
 * of ids is injective on the bytes Redis sees and reversible, a key's tenant and hash tag cannot be
 * forged by any id, and a SCAN / PSUBSCRIBE pattern matches exactly the keys it should.
 */
const id = fc.oneof(hostileString, fc.string({ unit: fc.oneof(specialChar, fc.constantFrom('a', '%', '3', 'a')), maxLength: 10 }));
const shortId = id.filter((value) => value.length <= 1_000);
const keys = new KeyBuilder('coord');

describe('fuzz: KeyBuilder', () => {
  it('encodeId is injective on the UTF-8 bytes Redis receives, and decodeId reverses it', () => {
    fc.assert(
      fc.property(id, id, (a, b) => {
        expect(decodeId(encodeId(a))).toBe(a);
        if (a !== b) expect(Buffer.from(encodeId(a)).equals(Buffer.from(encodeId(b)))).toBe(false);
      }),
      fuzzParameters(2_000),
    );
  });

  it('an encoded id holds no glob, hash-tag, separator, whitespace or control character, nor a lone surrogate', () => {
    fc.assert(
      fc.property(id, (value) => {
        // eslint-disable-next-line no-control-regex
        expect(encodeId(value)).not.toMatch(/[*?[\]\\{}:\u0000-\u0020\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
      }),
      fuzzParameters(2_000),
    );
  });

  it('a key is <prefix>:<tenant>:<capability>:{<encoded resource>}: no resource moves its tenant, capability or hash tag', () => {
    fc.assert(
      fc.property(validTenant, id, fc.option(fc.array(id, { maxLength: 2 }), { nil: undefined }), (tenant, resource, parts) => {
        const key = keys.key(tenant, 'cache', resource, { suffix: 'meta', parts });
        const [prefix, keyTenant, capability] = key.split(':');
        expect([prefix, keyTenant, capability]).toEqual(['coord', tenant, 'cache']);
        // One hash tag: the first `{` ... `}` is the resource's, so the cluster slot is the resource's alone.
        const tag = key.slice(key.indexOf('{') + 1, key.indexOf('}'));
        expect(decodeId(tag === '%' ? '' : tag)).toBe(resource);
        expect(key.split('{').length).toBe(2);
        expect(key.split('}').length).toBe(2);
      }),
      fuzzParameters(1_000),
    );
  });

  it('pattern(tenant, capability, glob) matches the key of a resource iff the glob does (`*` the only wildcard), never another tenant\'s', () => {
    fc.assert(
      // Ids are at most 512 characters wherever a pattern is built from one (a 70 000-character glob is too large a RegExp).
      fc.property(validTenant, validTenant, shortId, shortId, (tenant, other, glob, resource) => {
        const pattern = globToRegExp(keys.pattern(tenant, 'cache', glob));
        const literal = new RegExp(`^${glob.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')).join('[\\s\\S]*')}$`);
        expect(pattern.test(keys.key(tenant, 'cache', resource))).toBe(literal.test(resource));
        if (other !== tenant) expect(pattern.test(keys.key(other, 'cache', resource))).toBe(false);
        const channels = globToRegExp(keys.channelPattern(tenant, 'events', glob));
        expect(channels.test(keys.channel(tenant, 'events', resource))).toBe(literal.test(resource));
        if (other !== tenant) expect(channels.test(keys.channel(other, 'events', resource))).toBe(false);
      }),
      fuzzParameters(1_000),
    );
  });

  it('tenant, prefix and id checks throw only their typed errors, whatever they are given', async () => {
    await fc.assert(
      fc.asyncProperty(anyValue, async (value) => {
        for (const [name, call, type] of [
          ['assertTenantId', () => assertTenantId(value), TenantInvalidError],
          ['assertSafeId', () => assertSafeId(value), InvalidKeyError],
          ['new KeyBuilder', () => new KeyBuilder(value as string), InvalidKeyError],
          ['keys.key (tenant)', () => keys.key(value as string, 'cache', 'r'), CoordinationError],
          ['keys.pattern (tenant)', () => keys.pattern(value as string, 'cache', '*'), CoordinationError],
        ] as const) {
          const outcome = await settle(call);
          assertTyped(name, outcome);
          if (!outcome.ok) expect(outcome.error).toBeInstanceOf(type);
        }
      }),
      fuzzParameters(1_000),
    );
  });

  // Found by the property above: a prefix that is a symbol failed with the RegExp's TypeError.
  it.each([['a symbol', Symbol('prefix')], ['a number', 7], ['null', null]])('new KeyBuilder refuses %s as the prefix with InvalidKeyError', (_, prefix) => {
    expect(() => new KeyBuilder(prefix as never)).toThrow(InvalidKeyError);
  });
});
