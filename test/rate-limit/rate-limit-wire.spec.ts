import 'reflect-metadata';
import { Redis } from 'ioredis';
import { RateLimitService, type RateLimitAlgorithm } from '@nest-coordination/core';
import { testRedisUrl } from '../harness/env.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { scanKeys } from '../support/scan-keys.js';
import { until } from '../support/wait.js';

/**
 * What a check puts on the wire: every check sends its counter keys and arguments, so both are
 * kept short (README, "Rate limits": counter keys). Keys: `<prefix>:<tenant>:rl:{<key>}:<algorithm
 * segment>:<policy name>`; arguments: only what the algorithm at hand uses.
 */
const SEGMENT: Record<RateLimitAlgorithm, string> = {
  'sliding-window': 'sw', 'sliding-window-approx': 'swa', 'fixed-window': 'fw', 'token-bucket': 'tb', gcra: 'gcra',
};
const ALGORITHMS = Object.keys(SEGMENT) as RateLimitAlgorithm[];

describe.each(REDIS_DRIVERS)('rate-limit counter keys ($name)', (driver) => {
  const prefix = uniquePrefix('rlkeys');
  let booted: BootedModule;
  let service: RateLimitService;

  beforeAll(async () => {
    booted = await bootModule({ ...driver.options(), prefix, health: { pingIntervalMs: 0 } });
    service = booted.get(RateLimitService);
  });
  afterAll(() => booted.close());

  it.each(ALGORITHMS)('%s: <prefix>:<tenant>:rl:{<key>}:<algorithm>:<policy name>', async (algorithm) => {
    await service.consume('user:1', { name: 'per-user', limit: 5, windowMs: 60_000, algorithm, tenant: 'acme' });
    expect(await scanKeys(booted.core, `${prefix}:acme:rl:*`)).toContain(`${prefix}:acme:rl:{user%3a1}:${SEGMENT[algorithm]}:per-user`);
  });

  it('a partition: the partition is the hash tag, the key follows the policy name', async () => {
    await service.consumeMany([{ key: 'user:2', policy: { name: 'u', limit: 5, windowMs: 60_000, algorithm: 'gcra' } }], { tenant: 'acme' });
    expect(await scanKeys(booted.core, `${prefix}:acme:rl:{@acme}*`)).toEqual([`${prefix}:acme:rl:{@acme}:gcra:u:user%3a2`]);
  });

  it('a global counter: the shared namespace, its own segment and hash tag', async () => {
    await service.consume('ip:1', { name: 'all', limit: 5, windowMs: 60_000, algorithm: 'fixed-window', global: true, tenant: 'acme' });
    expect(await scanKeys(booted.core, `${prefix}:_shared:rlg:*`)).toEqual([`${prefix}:_shared:rlg:{@global}:fw:all:ip%3a1`]);
  });
});

describe('rate-limit check arguments (standalone, MONITOR)', () => {
  const prefix = uniquePrefix('rlwire');
  let booted: BootedModule;
  let service: RateLimitService;
  let client: Redis;
  let monitor: Redis;
  const seen: string[][] = [];

  beforeAll(async () => {
    booted = await bootModule({ connection: { url: testRedisUrl() }, prefix, health: { pingIntervalMs: 0 } });
    service = booted.get(RateLimitService);
    client = new Redis(testRedisUrl());
    monitor = await client.monitor();
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[0]?.toLowerCase() === 'evalsha' && args[3]?.startsWith(`${prefix}:`)) seen.push(args);
    });
  });
  afterAll(async () => {
    monitor.disconnect();
    client.disconnect();
    await booted.close();
  });

  /** The arguments after the keys of the check script call `consume` sends for `key`. */
  async function argvOf(key: string, call: () => Promise<unknown>): Promise<string[]> {
    await call();
    const command = await until(() => seen.find((args) => args[3].includes(`{${key}}`)), { timeoutMs: 20_000, message: `the EVALSHA of ${key}` });
    const keyCount = Number(command[2]);
    return command.slice(3 + keyCount);
  }

  it.each([
    // signed cost, limit, window: no request id, no burst, no algorithm code (the script is the algorithm's own)
    ['fixed-window', ['1', '7', '60000']],
    ['sliding-window-approx', ['1', '7', '60000']],
    // burst only where the algorithm uses it, and '' when it is the default (the limit)
    ['token-bucket', ['1', '7', '60000', '']],
    ['gcra', ['1', '7', '60000', '']],
  ] as const)('%s consume sends %j', async (algorithm, expected) => {
    expect(await argvOf(`${algorithm}-1`, () => service.consume(`${algorithm}-1`, { limit: 7, windowMs: 60_000, algorithm }))).toEqual(expected);
  });

  it.each(['token-bucket', 'gcra'] as const)('%s with a burst of its own sends it', async (algorithm) => {
    const key = `${algorithm}-burst`;
    expect(await argvOf(key, () => service.consume(key, { limit: 7, windowMs: 60_000, algorithm, burst: 9 }))).toEqual(['1', '7', '60000', '9']);
  });

  it('sliding-window consume adds a request id (it names the log entries), short and different per call', async () => {
    const first = await argvOf('sw-1', () => service.consume('sw-1', { limit: 7, windowMs: 60_000 }));
    const second = await argvOf('sw-2', () => service.consume('sw-2', { limit: 7, windowMs: 60_000 }));
    expect([first.length, first[0], first.slice(2)]).toEqual([4, '1', ['7', '60000']]);
    expect(first[1]).not.toBe(second[1]);
    expect(first[1].length).toBeLessThanOrEqual(16);
  });

  it('sliding-window peek sends an empty request id (a peek records no log entry)', async () => {
    expect(await argvOf('sw-peek', () => service.peek('sw-peek', { limit: 7, windowMs: 60_000 }))).toEqual(['-1', '', '7', '60000']);
  });

  it('mixed algorithms: the mixed script, a request id, then per policy code, limit, window, burst (\'\' when unused)', async () => {
    const argv = await argvOf('mixed-1', () => service.consumeMany([
      { key: 'a', policy: { name: 'u', limit: 7, windowMs: 60_000, algorithm: 'fixed-window' } },
      { key: 'b', policy: { name: 'c', limit: 7, windowMs: 60_000, algorithm: 'gcra', burst: 9 } },
    ], { partition: 'mixed-1' }));
    expect(argv[1]).toMatch(/^[\w-]{1,16}$/);
    expect([argv[0], ...argv.slice(2)]).toEqual(['1', '3', '7', '60000', '', '5', '7', '60000', '9']);
  });

  it('one algorithm, two policies: its own script, no request id, each policy\'s arguments and nothing after (server TIME decides)', async () => {
    const before = await serverMs();
    let decision: Awaited<ReturnType<RateLimitService['consumeMany']>> | undefined;
    const argv = await argvOf('same-1', async () => {
      decision = await service.consumeMany([
        { key: 'a', policy: { name: 'u', limit: 7, windowMs: 60_000, algorithm: 'fixed-window' } },
        { key: 'b', policy: { name: 'c', limit: 5, windowMs: 1_000, algorithm: 'fixed-window' } },
      ], { partition: 'same-1' });
    });
    const after = await serverMs();
    expect(argv).toEqual(['1', '7', '60000', '5', '1000']);
    // The script's time is the server's: each result's resetAt - resetAfterMs is the reply's now.
    for (const result of decision!.results) {
      const now = result.resetAt.getTime() - result.resetAfterMs;
      expect(now).toBeGreaterThanOrEqual(before - 1);
      expect(now).toBeLessThanOrEqual(after + 1);
    }
  });

  /** The Redis server's clock (TIME), ms. */
  async function serverMs(): Promise<number> {
    const [seconds, micros] = await client.time();
    return Number(seconds) * 1000 + Number(micros) / 1000;
  }

  it('peek sends the cost negated; a cost other than 1 as it is', async () => {
    expect(await argvOf('peek-1', () => service.peek('peek-1', { limit: 7, windowMs: 60_000, algorithm: 'fixed-window' }))).toEqual(['-1', '7', '60000']);
    expect(await argvOf('cost-3', () => service.consume('cost-3', { limit: 7, windowMs: 60_000, algorithm: 'fixed-window', cost: 3 }))).toEqual(['3', '7', '60000']);
  });
});
