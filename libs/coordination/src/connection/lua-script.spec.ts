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

describe('readLuaSource includes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'coord-lua-include-'));
  writeFileSync(join(dir, 'shared.lua'), 'local function shared() return 1 end\n');
  writeFileSync(join(dir, 'mid.lua'), '--! include ./shared.lua\nlocal function mid() return shared() end\n');
  writeFileSync(join(dir, 'main.lua'), '--! include ./shared.lua\n--! include ./mid.lua\nreturn mid()\n');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('expands each included file once, relative to the including file', () => {
    const script = loadLuaScript('coordSpecInclude', pathToFileURL(join(dir, 'x.ts')).href, './main.lua');
    expect(script.lua).toBe('local function shared() return 1 end\n\nlocal function mid() return shared() end\nreturn mid()\n');
    expect(script.lua.match(/function shared/g)).toHaveLength(1);
  });
});
