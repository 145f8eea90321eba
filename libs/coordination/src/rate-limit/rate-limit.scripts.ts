import { readFileSync } from 'node:fs';
import { luaScript, type LuaScript } from '../connection/lua-script.js';
import type { RateLimitAlgorithm } from './rate-limit.types.js';

const read = (file: string): string => readFileSync(new URL(`./lua/${file}`, import.meta.url), 'utf8');

const PRELUDE = read('prelude.lua');
const CHECK = read('check.lua');
const FRAGMENTS: Readonly<Record<RateLimitAlgorithm, string>> = {
  'sliding-window': read('sliding-window.lua'),
  'sliding-window-approx': read('sliding-window-approx.lua'),
  'fixed-window': read('fixed-window.lua'),
  'token-bucket': read('token-bucket.lua'),
  gcra: read('gcra.lua'),
};

// Each algorithm lives in one .lua fragment; a script is prelude + fragment(s) + check.lua,
// so the single-algorithm scripts (the hot path) stay small while the multi-policy script
// shares the exact same code. Each is one EVALSHA.
const assemble = (name: string, fragments: string[]): LuaScript => luaScript(name, [PRELUDE, ...fragments, CHECK].join('\n'));

/** One script per algorithm, for checks whose policies all use that algorithm. */
export const RATE_LIMIT_SCRIPTS: Readonly<Record<RateLimitAlgorithm, LuaScript>> = {
  'sliding-window': assemble('coordRateLimitSlidingWindow', [FRAGMENTS['sliding-window']]),
  'sliding-window-approx': assemble('coordRateLimitSlidingWindowApprox', [FRAGMENTS['sliding-window-approx']]),
  'fixed-window': assemble('coordRateLimitFixedWindow', [FRAGMENTS['fixed-window']]),
  'token-bucket': assemble('coordRateLimitTokenBucket', [FRAGMENTS['token-bucket']]),
  gcra: assemble('coordRateLimitGcra', [FRAGMENTS.gcra]),
};

/** Every algorithm, for checks that mix them. */
export const RATE_LIMIT_MIXED_SCRIPT: LuaScript = assemble('coordRateLimitMixed', Object.values(FRAGMENTS));
