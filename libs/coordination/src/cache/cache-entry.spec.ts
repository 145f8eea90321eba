import { encodeEntry, parseEntry, tagsCurrent } from './cache-entry.js';

describe('cache entry codec', () => {
  it('round-trips an untagged entry: freshness, loader time and the value after the header', () => {
    const text = encodeEntry('1J{"a":1}', 1_700_000_060_000, 42, [], []);
    const header = parseEntry(text)!;
    expect(header).toMatchObject({ freshUntil: 1_700_000_060_000, deltaMs: 42, tagKeys: [], tagVersions: [] });
    expect(text.slice(header.bodyStart)).toBe('1J{"a":1}');
  });

  it('round-trips tags whose keys hold the separators, digits and braces', () => {
    const tagKeys = ['p:acme:cache-tag:{crew,7;1}', 'p:acme:cache-tag:{12,3,}', 'x'];
    const text = encodeEntry('1J"v;,1"', 5, 0.5, tagKeys, [0, 17, 9_007_199_254_740_991]);
    const header = parseEntry(text)!;
    expect(header.tagKeys).toEqual(tagKeys);
    expect(header.tagVersions).toEqual([0, 17, 9_007_199_254_740_991]);
    expect(header.deltaMs).toBe(0.5);
    expect(text.slice(header.bodyStart)).toBe('1J"v;,1"');
  });

  it('keeps an empty value and fractional or negative freshness', () => {
    const header = parseEntry(encodeEntry('', -12.5, 0, ['t'], [1]))!;
    expect(header).toMatchObject({ freshUntil: -12.5, tagKeys: ['t'], tagVersions: [1] });
    expect(header.bodyStart).toBe(encodeEntry('', -12.5, 0, ['t'], [1]).length);
  });

  it.each([
    ['a raw serialized value', '1J{"a":1}'],
    ['another format version', 'c2;1;0;0;1J1'],
    ['a truncated header', 'c1;1;0'],
    ['an empty number', 'c1;;0;0;1J1'],
    ['a non-numeric freshness', 'c1;x;0;0;1J1'],
    ['a negative loader time', 'c1;1;-1;0;1J1'],
    ['a tag block longer than the text', 'c1;1;0;99;1,1,t1J1'],
    ['a tag key longer than its block', 'c1;1;0;5;1,9,t1J1'],
    ['a tag without a version', 'c1;1;0;5;,1,t1J1'],
    ['a zero-length tag key', 'c1;1;0;4;1,0,1J1'],
  ])('reads %s as no entry', (_name, text) => {
    expect(parseEntry(text)).toBeUndefined();
  });

  it('tagsCurrent: valid only while every counter still has the stored version', () => {
    const header = parseEntry(encodeEntry('1J1', 1, 0, ['a', 'b'], [3, 0]))!;
    expect(tagsCurrent(header, [3, 0])).toBe(true);
    expect(tagsCurrent(header, [4, 0])).toBe(false);
    expect(tagsCurrent(header, [3, 1])).toBe(false);
    expect(tagsCurrent(parseEntry(encodeEntry('1J1', 1, 0, [], []))!, [])).toBe(true);
  });
});
