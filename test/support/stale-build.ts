import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** How to rebuild libs/coordination/dist (what `npm run build:lib` runs). */
export const REBUILD_LIB = 'npx tsc -p libs/coordination/tsconfig.lib.json && node scripts/copy-assets.mjs';

/**
 * The sources of one capability folder (`libs/coordination/src/<folder>/**`: .ts but specs, and
 * the Lua scripts) whose built file in `dist/<folder>` is missing or older: what forked children,
 * which import dist, would run stale.
 *
 * @example
 * staleBuild('tasks'); // ['redis-task.backend.ts'] after editing it without a rebuild
 */
export function staleBuild(folder: string): string[] {
  const source = fileURLToPath(new URL(`../../libs/coordination/src/${folder}/`, import.meta.url));
  const built = fileURLToPath(new URL(`../../libs/coordination/dist/${folder}/`, import.meta.url));
  const stale: string[] = [];
  for (const name of readdirSync(source, { recursive: true, encoding: 'utf8' })) {
    const output = name.endsWith('.lua') ? name : name.endsWith('.ts') && !name.endsWith('.spec.ts') ? name.replace(/\.ts$/, '.js') : undefined;
    if (output === undefined) continue;
    const stat = statSync(join(built, output), { throwIfNoEntry: false });
    if (stat === undefined || stat.mtimeMs < statSync(join(source, name)).mtimeMs) stale.push(name);
  }
  return stale.sort();
}

/**
 * Throws naming the stale files (and how to rebuild) when `dist/<folder>` is older than its sources.
 *
 * @example
 * assertFreshBuild('tasks', 'the worker processes');
 */
export function assertFreshBuild(folder: string, who: string): void {
  const stale = staleBuild(folder);
  if (stale.length === 0) return;
  const listed = `${stale.slice(0, 5).join(', ')}${stale.length > 5 ? `, and ${stale.length - 5} more` : ''}`;
  throw new Error(`libs/coordination/dist/${folder} is older than its sources (${listed}): ${who} import dist and would run stale code. Rebuild it: ${REBUILD_LIB}`);
}
