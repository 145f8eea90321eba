import { KeyBuilder } from '../keys/key-builder.js';
import { CacheKeys, MAX_REMEMBERED_KEYS } from './cache-keys.js';

describe('CacheKeys', () => {
  const builder = new KeyBuilder('coord');

  it('builds the KeyBuilder key of an entry, the same on every call', () => {
    const keys = new CacheKeys(builder);
    expect(keys.entry('acme', 'crew:7')).toBe('coord:acme:cache:{crew%3a7}');
    expect(keys.entry('acme', 'crew:7')).toBe(builder.key('acme', 'cache', 'crew:7'));
    expect(keys.entry('globex', 'crew:7')).toBe('coord:globex:cache:{crew%3a7}');
  });

  it('remembers at most MAX_REMEMBERED_KEYS keys over all tenants, and still answers right after starting over', () => {
    const keys = new CacheKeys(builder);
    const remembered = (): number => [...(keys as unknown as { entries: Map<string, Map<string, string>> }).entries.values()].reduce((n, m) => n + m.size, 0);
    for (let i = 0; i < MAX_REMEMBERED_KEYS * 2 + 5; i++) keys.entry(`t${i % 50}`, `k${i}`);
    expect(remembered()).toBeLessThanOrEqual(MAX_REMEMBERED_KEYS);
    expect(keys.entry('t3', 'k3')).toBe(builder.key('t3', 'cache', 'k3'));
  });

  it('validates a tenant before remembering anything for it', () => {
    const keys = new CacheKeys(builder);
    expect(() => keys.entry('bad tenant', 'k')).toThrow(/tenant/i);
    expect(() => keys.entry('bad tenant', 'k')).toThrow(/tenant/i);
  });
});
