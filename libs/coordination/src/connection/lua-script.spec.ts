import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadLuaScript, luaScript } from './lua-script.js';

describe('loadLuaScript / luaScript', () => {
  const dir = mkdtempSync(join(tmpdir(), 'coord-lua-spec-'));
  writeFileSync(join(dir, 'a.lua'), '-- KEYS: none\nreturn 1\n');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the file relative to the base URL and carries the SHA1 EVALSHA needs', () => {
    const script = loadLuaScript('coordSpecA', pathToFileURL(join(dir, 'x.ts')).href, './a.lua');
    expect(script.name).toBe('coordSpecA');
    expect(script.lua).toBe('-- KEYS: none\nreturn 1\n');
    expect(script.sha).toBe(createHash('sha1').update(script.lua).digest('hex'));
    expect(luaScript('coordSpecB', 'return 2').sha).not.toBe(script.sha);
  });

  it('refuses names that are not alphanumeric', () => {
    for (const name of ['coord-spec', '1abc', '', 'a b']) expect(() => luaScript(name, 'return 1')).toThrow(/alphanumeric/);
  });
});
