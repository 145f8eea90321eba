// The real @nestjs/throttler 6, for tests running inside Jest. The package is CommonJS and
// requires @nestjs/common and @nestjs/core, which are ESM-only in Nest 12: plain Node (>= 20.19)
// loads it through require(esm), but Jest's module runtime cannot (it needs Node >= 24.9 for
// that). So its unmodified dist files are evaluated here as CommonJS modules, their `require` of
// @nestjs/common and @nestjs/core answered with the very ESM modules the test's Nest
// application uses, and of node built-ins with Node's own. The child-process tests
// (throttler-processes.e2e-spec.ts) load the package natively instead.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as common from '@nestjs/common';
import * as core from '@nestjs/core';

type ThrottlerPackage = typeof import('@nestjs/throttler');

const nodeRequire = createRequire(import.meta.url);
const loaded = new Map<string, { exports: Record<string, unknown> }>();

function load(file: string): Record<string, unknown> {
  let module = loaded.get(file);
  if (module) return module.exports;
  module = { exports: {} };
  loaded.set(file, module);
  const run = new Function('exports', 'require', 'module', '__filename', '__dirname', readFileSync(file, 'utf8'));
  run.call(module.exports, module.exports, (id: string) => requireFrom(dirname(file), id), module, file, dirname(file));
  return module.exports;
}

function requireFrom(dir: string, id: string): unknown {
  if (id === '@nestjs/common') return common;
  if (id === '@nestjs/core') return core;
  if (id.startsWith('./') || id.startsWith('../')) return load(`${join(dir, id)}.js`);
  return nodeRequire(id);
}

/** `import('@nestjs/throttler')`, as Jest can load it. */
export const nestjsThrottler = load(nodeRequire.resolve('@nestjs/throttler')) as unknown as ThrottlerPackage;
export const { ThrottlerGuard, ThrottlerModule, ThrottlerStorageService, Throttle, SkipThrottle, ThrottlerException } = nestjsThrottler;
