// Copies the library's non-TypeScript assets (Lua scripts) next to the compiled JS, since
// tsc only emits .js/.d.ts and the stores load their .lua files relative to import.meta.url.
import { cpSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const src = 'libs/coordination/src';
const out = 'libs/coordination/dist';

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.lua')) cpSync(path, join(out, relative(src, path)));
  }
}
walk(src);
