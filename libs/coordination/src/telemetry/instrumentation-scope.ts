import { readFileSync } from 'node:fs';

/**
 * The OpenTelemetry instrumentation scope of the library's meters and tracers: the package name
 * and the version in its package.json (`libs/coordination/package.json`, two levels above both
 * `src/telemetry/` and `dist/telemetry/`).
 *
 * @example
 * provider.getMeter(INSTRUMENTATION_SCOPE.name, INSTRUMENTATION_SCOPE.version);
 */
export const INSTRUMENTATION_SCOPE: Readonly<{ name: string; version: string }> = Object.freeze({
  name: '@nest-coordination/core',
  version: (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version,
});
