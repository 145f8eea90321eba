import 'reflect-metadata';
import { Controller, Get, UseInterceptors } from '@nestjs/common';
import request from 'supertest';
import { CacheInterceptor, CacheResponse, CacheService, InvalidArgumentError, ManualClock } from '@nest-coordination/core';
import { bootApp, type BootedApp } from '../support/boot.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { ARRIVAL_MS, gate } from './cache-test-app.js';

/**
 * A client's `Cache-Control: no-cache`: ignored by default (a client must not be able to run the
 * handler at will), honoured with `honorClientNoCache`, and then still through getOrSet: the
 * reload keeps `staleMs` and coalesces with the loads of the same key.
 */

const TTL_MS = 10_000;
const STALE_MS = 20_000;
let runs = 0;
/** While set, the `slow` handler waits for it. */
let hold: Promise<void> | undefined;
let entered: (() => void) | undefined;

@UseInterceptors(CacheInterceptor)
@Controller('nc')
class NoCacheController {
  @Get('default')
  @CacheResponse({ ttlMs: TTL_MS })
  byDefault() {
    return { run: ++runs };
  }

  @Get('honoured')
  @CacheResponse({ ttlMs: TTL_MS, staleMs: STALE_MS, honorClientNoCache: true })
  honoured() {
    return { run: ++runs };
  }

  @Get('slow')
  @CacheResponse({ ttlMs: TTL_MS, honorClientNoCache: true })
  async slow() {
    const run = ++runs;
    entered?.();
    await hold;
    return { run };
  }
}

describe.each(DRIVERS)('CacheInterceptor and a client no-cache ($name)', (driver) => {
  let booted: BootedApp;
  let clock: ManualClock;
  const get = (path: string, headers: Record<string, string> = {}) =>
    request(booted.app.getHttpServer()).get(path).set({ 'x-tenant-id': 'acme', ...headers });
  const noCache = { 'cache-control': 'no-cache' };

  beforeEach(async () => {
    runs = 0;
    hold = undefined;
    entered = undefined;
    clock = new ManualClock(Date.now());
    booted = await bootApp({ ...driver.options(), prefix: uniquePrefix('cinc'), clock, health: { pingIntervalMs: 0 } }, { controllers: [NoCacheController] });
  });

  afterEach(async () => {
    await booted.close();
  });

  it('ignores a client no-cache by default: the cached response is served', async () => {
    await get('/nc/default').expect(200).expect('X-Cache', 'MISS');
    const again = await get('/nc/default', noCache).expect(200);
    expect(again.headers['x-cache']).toBe('HIT');
    expect(again.body).toEqual({ run: 1 });
    expect(runs).toBe(1);
  });

  it('with honorClientNoCache, reloads the response and keeps its staleMs', async () => {
    await get('/nc/honoured').expect(200).expect('X-Cache', 'MISS');
    const reloaded = await get('/nc/honoured', noCache).expect(200).expect('X-Cache', 'MISS');
    expect(reloaded.body).toEqual({ run: 2 });
    await get('/nc/honoured').expect(200).expect('X-Cache', 'HIT').expect({ run: 2 });
    // The reloaded entry was written with the route's staleMs: served stale past its ttlMs.
    clock.advance(TTL_MS + 1);
    await get('/nc/honoured').expect(200).expect('X-Cache', 'STALE').expect({ run: 2 });
  });

  /**
   * GET /nc/slow with `firstHeaders`, then, while its handler is held, a second GET with
   * `secondHeaders`; the handler is let go once the second waits for the first (`waiting` says
   * what the test expects it to wait for). Both responses.
   */
  async function overlapping(firstHeaders: Record<string, string>, secondHeaders: Record<string, string>, waiting: string) {
    const release = gate();
    const inside = gate();
    hold = release.promise;
    entered = () => inside.open();
    const cache = booted.get(CacheService);
    const coalescedBefore = cache.stats().coalesced;
    const first = get('/nc/slow', firstHeaders).then((res) => res);
    let second: typeof first | undefined;
    try {
      await inside.promise;
      second = get('/nc/slow', secondHeaders).then((res) => res);
      await until(() => cache.stats().coalesced > coalescedBefore, { timeoutMs: ARRIVAL_MS, message: waiting });
    } finally {
      release.open();
    }
    return Promise.all([first, second]);
  }

  it('with honorClientNoCache, concurrent reloads of one key run the handler once', async () => {
    const [a, b] = await overlapping(noCache, noCache, 'the second reload to wait for the first');
    expect(a.body).toEqual({ run: 1 });
    expect(b!.body).toEqual({ run: 1 });
    expect(runs).toBe(1);
  });

  it('with honorClientNoCache, a reload arriving while the response loads joins that load and lets it be stored', async () => {
    const [a, b] = await overlapping({}, noCache, 'the reload to wait for the load');
    expect([a.body, b!.body]).toEqual([{ run: 1 }, { run: 1 }]);
    // The load's value was stored: the reload did not cancel its write.
    await get('/nc/slow').expect(200).expect('X-Cache', 'HIT').expect({ run: 1 });
    expect(runs).toBe(1);
  });
});

describe('@CacheResponse({ honorClientNoCache })', () => {
  it('must be a boolean', () => {
    expect(() => CacheResponse({ honorClientNoCache: 'yes' as never })).toThrow(InvalidArgumentError);
    expect(() => CacheResponse({ honorClientNoCache: 'yes' as never })).toThrow(expect.objectContaining({ argument: 'honorClientNoCache' }));
  });
});
