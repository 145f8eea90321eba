import { ErrorCode, InvalidKeyError, TenantInvalidError } from '../errors/coordination.error.js';
import { TenantContext } from '../tenancy/tenant-context.js';
import { KeyBuilder, MAX_ID_LENGTH, SHARED_TENANT, assertSafeId, assertTenantId } from './key-builder.js';

const keys = new KeyBuilder('coord');

describe('id and tenant validation', () => {
  it.each([...'*?[]\\{}', '\u0000', '\n', '\u001f', '\u007f'])('assertSafeId rejects %j', (ch) => {
    for (const id of [ch, `a${ch}`, `${ch}b`, `a${ch}b`]) {
      expect(() => assertSafeId(id, 'resource')).toThrow(InvalidKeyError);
    }
    expect(() => assertSafeId(`a${ch}`, 'lockName')).toThrow(/lockName/);
  });

  it('assertSafeId accepts ids with `:` and up to the length limit, and rejects empty, too long and non-strings', () => {
    expect(() => assertSafeId('invoice:42:line:1', 'key')).not.toThrow();
    expect(() => assertSafeId('x'.repeat(MAX_ID_LENGTH), 'key')).not.toThrow();
    expect(() => assertSafeId('x'.repeat(MAX_ID_LENGTH + 1), 'key')).toThrow(/at most 512/);
    expect(() => assertSafeId('', 'key')).toThrow(/empty/);
    expect(() => assertSafeId(42, 'key')).toThrow(/string/);
    const error = (() => {
      try {
        assertSafeId('a*', 'name');
      } catch (e) {
        return e as InvalidKeyError;
      }
    })();
    expect(error?.code).toBe(ErrorCode.InvalidKey);
    expect(error?.details).toMatchObject({ part: 'name' });
  });

  const badTenants = ['', '_shared', 'a:b', 'a*', 'x'.repeat(65), '../a', 'a b', 'a{b}', '-a', '.a', 'é'];

  it.each(badTenants)('rejects the tenant %j everywhere a tenant enters', (tenant) => {
    expect(() => assertTenantId(tenant)).toThrow(TenantInvalidError);
    const context = new TenantContext(false);
    expect(() => context.run(tenant, () => undefined)).toThrow(TenantInvalidError);
    expect(() => context.resolve(tenant)).toThrow(TenantInvalidError);
    if (tenant !== SHARED_TENANT) {
      expect(() => keys.key(tenant, 'lock', 'r')).toThrow(TenantInvalidError);
      expect(() => keys.pattern(tenant, 'lock')).toThrow(TenantInvalidError);
      expect(() => keys.channel(tenant, 'events', 'x')).toThrow(TenantInvalidError);
      expect(() => keys.channelPattern(tenant, 'events', '*')).toThrow(TenantInvalidError);
    }
  });

  const circular: Record<string, unknown> = {};
  circular.self = circular;
  it.each([
    [10n, 'a bigint'],
    [42, 'a number'],
    [null, 'null'],
    [Symbol('acme'), 'a symbol'],
    [['acme'], 'an array'],
    [circular, 'an object'],
    [() => 'acme', 'a function'],
  ])('rejects the non-string tenant %p with TenantInvalidError naming its type', (tenant, kind) => {
    for (const check of [() => assertTenantId(tenant), () => new TenantContext(false).resolve(tenant as unknown as string)]) {
      let error: unknown;
      try {
        check();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(TenantInvalidError);
      expect((error as Error).message).toContain(`must be a string, got ${kind}`);
    }
  });

  it('echoes at most the first 64 characters of a malformed tenant, and says how long it was', () => {
    const huge = `${'x'.repeat(8_000)}*`;
    let error: unknown;
    try {
      assertTenantId(huge);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TenantInvalidError);
    const message = (error as Error).message;
    expect(message).toContain(`"${'x'.repeat(64)}…" (8001 characters)`);
    expect(message.length).toBeLessThan(300);
    expect(JSON.stringify((error as TenantInvalidError).details).length).toBeLessThan(300);
  });

  it('accepts well-formed tenants, and the reserved shared tenant only in the key builder', () => {
    for (const tenant of ['acme', 'A1', 'acme.eu-west_2', 'x'.repeat(64), '0']) expect(() => assertTenantId(tenant)).not.toThrow();
    expect(keys.key(SHARED_TENANT, 'lock', 'r')).toBe('coord:_shared:lock:{r}');
  });

  it('rejects malformed prefixes, capabilities and suffixes', () => {
    for (const prefix of ['', 'a:b', 'a*', '{a}', 'x'.repeat(65)]) expect(() => new KeyBuilder(prefix)).toThrow(/prefix/);
    for (const cap of ['', 'Lock', 'lock:x', 'lock*', '1lock', 'l'.repeat(33)]) expect(() => keys.key('acme', cap, 'r')).toThrow(/capability/);
    for (const suffix of ['', 'a:b', 'A', '{x}']) expect(() => keys.key('acme', 'lock', 'r', { suffix })).toThrow(/suffix/);
  });

  it('builds the documented layout', () => {
    expect(keys.key('acme', 'lock', 'invoice:42')).toBe('coord:acme:lock:{invoice%3a42}');
    expect(keys.key('acme', 'lock', 'invoice:42', { suffix: 'fence' })).toBe('coord:acme:lock:{invoice%3a42}:fence');
    expect(keys.key('acme', 'ratelimit', '@acme', { suffix: 'gcra', parts: ['company', 'user:u*1'] })).toBe(
      'coord:acme:ratelimit:{@acme}:gcra:company:user%3au%2a1',
    );
    expect(keys.key('acme', 'lock', '')).toBe('coord:acme:lock:{%}');
    expect(keys.pattern('acme', 'cache', 'user:*')).toBe('coord:acme:cache:{user%3a*}*');
    expect(keys.channel('acme', 'events', 'crew.run')).toBe('coord:acme:events:crew.run');
    expect(keys.channelPattern('acme', 'events', 'crew.*')).toBe('coord:acme:events:crew.*');
  });
});
