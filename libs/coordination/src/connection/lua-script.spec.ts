import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadLuaScript, luaScript } from './lua-script.js';

describe('loadLuaScript', () => {
  const dir = mkdtempSync(join(tmpdir(), 'coord-lua-spec-'));
  const base = pathToFileURL(join(dir, 'x')).href;
  writeFileSync(join(dir, 'a.lua'), 'return 1\n');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the file relative to the base URL and computes the SHA1 that EVALSHA needs', () => {
    const script = loadLuaScript('coordSpecA', base, './a.lua');
    expect(script).toEqual({
      name: 'coordSpecA',
      lua: 'return 1\n',
      sha: createHash('sha1').update('return 1\n').digest('hex'),
    });
  });

  it('refuses names that are not alphanumeric', () => {
    expect(() => loadLuaScript('coord-spec', base, './a.lua')).toThrow(/alphanumeric/);
    expect(() => luaScript('1abc', 'return 1')).toThrow(/alphanumeric/);
  });
});
