import { createHash, randomBytes } from 'node:crypto';
import type { LuaScript } from '../connection/lua-script.js';
import type { RedisConnection } from '../connection/redis-connection.js';
import type { NormalizedPolicy } from './rate-limit-policy.js';
import { RATE_LIMIT_MIXED_SCRIPT, RATE_LIMIT_SCRIPTS } from './rate-limit.scripts.js';
import type { RateLimitStore, StoreReply } from './rate-limit.store.js';
import type { RateLimitAlgorithm } from './rate-limit.types.js';

interface Prepared {
  name: string;
  lua: string;
  sha: string;
}

const prepare = (script: LuaScript): Prepared => ({ ...script, sha: createHash('sha1').update(script.lua).digest('hex') });
const SCRIPTS = Object.fromEntries(Object.entries(RATE_LIMIT_SCRIPTS).map(([algorithm, s]) => [algorithm, prepare(s)])) as Record<RateLimitAlgorithm, Prepared>;
const MIXED = prepare(RATE_LIMIT_MIXED_SCRIPT);

const isNoScript = (error: unknown): boolean => error instanceof Error && error.message.startsWith('NOSCRIPT');

/**
 * Rate-limit store on Redis: every check is one EVALSHA of an atomic script that reads the
 * server clock (TIME), so instances with skewed clocks agree. All keys of one check must
 * share a hash tag (the service builds them so).
 *
 * Sends EVALSHA itself rather than through ioredis `defineCommand`: with auto-pipelining,
 * ioredis tracks "script loaded" per socket object but hands scripts a fresh pipeline
 * stream each time, so every defined-command call goes out as a full EVAL of the body.
 */
export class RedisRateLimitStore implements RateLimitStore {
  /** Prefix of request ids, unique per store instance; ids name sliding-window log entries. */
  private readonly idPrefix = randomBytes(6).toString('base64url');
  private sequence = 0;

  constructor(private readonly connection: RedisConnection) {}

  check(keys: readonly string[], policies: readonly NormalizedPolicy[], cost: number, consume: boolean): Promise<StoreReply> {
    let script = SCRIPTS[policies[0].algorithm];
    const args: Array<string | number> = [keys.length, ...keys, consume ? '1' : '0', cost, `${this.idPrefix}${(this.sequence = (this.sequence + 1) % 0x7fffffff)}`];
    for (const policy of policies) {
      if (policy.algorithm !== policies[0].algorithm) script = MIXED;
      args.push(policy.code, policy.limit, policy.windowMs, policy.burst);
    }
    return this.connection.execute(script.name, (client) =>
      (client.evalsha(script.sha, ...(args as [number, ...string[]])) as Promise<StoreReply>).catch((error: unknown) => {
        if (!isNoScript(error)) throw error;
        return client.eval(script.lua, ...(args as [number, ...string[]])) as Promise<StoreReply>;
      }),
    );
  }

  async reset(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.connection.execute('rateLimitReset', (client) => client.del(...keys));
  }
}
