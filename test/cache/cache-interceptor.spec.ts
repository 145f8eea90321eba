import 'reflect-metadata';
import { Controller, Get, HttpCode, NotFoundException, Param, Post, Query, Res, UseInterceptors } from '@nestjs/common';
import request from 'supertest';
import { CacheInterceptor, CacheResponse, CacheService, ManualClock } from '@nest-coordination/core';
import { bootApp, type BootedApp } from '../support/boot.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';

const TTL_MS = 10_000;
const STALE_MS = 20_000;

/** Counts handler runs per route, so a test sees whether a response came from the cache. */
class Runs {
  private readonly counts = new Map<string, number>();
  next(route: string): number {
    const n = (this.counts.get(route) ?? 0) + 1;
    this.counts.set(route, n);
    return n;
  }
  of(route: string): number {
    return this.counts.get(route) ?? 0;
  }
  reset(): void {
    this.counts.clear();
  }
}
const runs = new Runs();

@UseInterceptors(CacheInterceptor)
@Controller('crews')
class CrewsController {
  @Get('user/me')
  @CacheResponse({ ttlMs: TTL_MS, varyByUser: true })
  me() {
    return { run: runs.next('me') };
  }

  @Get('user/account')
  @CacheResponse({ ttlMs: TTL_MS, varyByUser: 'account.id' })
  account(@Res({ passthrough: true }) res: { setHeader(name: string, value: string): void }) {
    res.setHeader('Cache-Control', 'private');
    return { run: runs.next('account') };
  }

  @Get('no-store')
  @CacheResponse({ ttlMs: TTL_MS })
  noStore(@Res({ passthrough: true }) res: { setHeader(name: string, value: string): void }) {
    res.setHeader('Cache-Control', 'no-store');
    return { run: runs.next('no-store') };
  }

  @Get('private')
  @CacheResponse({ ttlMs: TTL_MS })
  private(@Res({ passthrough: true }) res: { setHeader(name: string, value: string): void }) {
    res.setHeader('Cache-Control', 'private, max-age=60');
    return { run: runs.next('private') };
  }

  @Get('missing')
  @CacheResponse({ ttlMs: TTL_MS })
  missing() {
    runs.next('missing');
    throw new NotFoundException('no such crew');
  }

  @Get('accepted')
  @HttpCode(202)
  @CacheResponse({ ttlMs: TTL_MS })
  accepted() {
    return { run: runs.next('accepted') };
  }

  @Get('uncached')
  uncached() {
    return { run: runs.next('uncached') };
  }

  @Get(':id')
  @CacheResponse({ ttlMs: TTL_MS, staleMs: STALE_MS, tags: (req: { params: { id: string } }) => [`crew:${req.params.id}`] })
  crew(@Param('id') id: string, @Query() query: Record<string, string>) {
    return { id, query, run: runs.next(`crew:${id}`) };
  }

  @Post(':id')
  @CacheResponse({ ttlMs: TTL_MS })
  update(@Param('id') id: string) {
    return { id, run: runs.next(`post:${id}`) };
  }
}

describe.each(DRIVERS)('CacheInterceptor ($name)', (driver) => {
  let booted: BootedApp;
  let clock: ManualClock;
  const http = () => request(booted.app.getHttpServer());
  /** A GET as tenant `tenant` (header), optionally as user `user` (stands in for an auth guard). */
  const get = (path: string, tenant = 'acme', headers: Record<string, string> = {}) => http().get(path).set({ 'x-tenant-id': tenant, ...headers });

  beforeEach(async () => {
    runs.reset();
    clock = new ManualClock(Date.now());
    booted = await bootApp(
      { ...driver.options(), prefix: uniquePrefix('cint'), clock, health: { pingIntervalMs: 0 } },
      {
        controllers: [CrewsController],
        configure: (app) => app.use((req: any, _res: unknown, next: () => void) => {
          if (req.headers['x-user']) req.user = { id: req.headers['x-user'], account: { id: `acct-${req.headers['x-user']}` } };
          next();
        }),
      },
    );
  });

  afterEach(async () => {
    await booted.close();
  });

  it('caches a GET response: MISS, then HIT with the same body', async () => {
    const id = uniquePrefix('c');
    const first = await get(`/crews/${id}`).expect(200);
    expect(first.headers['x-cache']).toBe('MISS');
    const second = await get(`/crews/${id}`).expect(200);
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.body).toEqual(first.body);
    expect(runs.of(`crew:${id}`)).toBe(1);
    // The entry: the path, then the handler; the body stored with the Content-Type the handler set (none here).
    await expect(booted.get(CacheService).get(`http:/crews/${id}#CrewsController.crew`, { tenant: 'acme' })).resolves.toEqual({ body: first.body });
  });

  it('counts each request once in the stats: a MISS one miss, a HIT one hit, a STALE one stale serve', async () => {
    const cache = booted.get(CacheService);
    const id = uniquePrefix('c');
    const counted = async (xCache: string) => {
      const before = cache.stats();
      await get(`/crews/${id}`).expect(200).expect('X-Cache', xCache);
      const after = cache.stats();
      return { hits: after.hits - before.hits, misses: after.misses - before.misses, staleServes: after.staleServes - before.staleServes };
    };
    expect(await counted('MISS')).toEqual({ hits: 0, misses: 1, staleServes: 0 });
    expect(await counted('HIT')).toEqual({ hits: 1, misses: 0, staleServes: 0 });
    clock.advance(TTL_MS + 1);
    expect(await counted('STALE')).toEqual({ hits: 1, misses: 0, staleServes: 1 });
    await until(() => runs.of(`crew:${id}`) === 2, { timeoutMs: 10_000, message: 'the background refresh to run the handler' });
  });

  it('keys by tenant and by query, whatever the order of its parameters', async () => {
    const id = uniquePrefix('c');
    await get(`/crews/${id}?a=1&b=2`).expect(200).expect('X-Cache', 'MISS');
    const reordered = await get(`/crews/${id}?b=2&a=1`).expect(200).expect('X-Cache', 'HIT');
    expect(reordered.body).toEqual({ id, query: { a: '1', b: '2' }, run: 1 });
    await get(`/crews/${id}?a=1&b=3`).expect(200).expect('X-Cache', 'MISS');
    await get(`/crews/${id}?a=1&b=2`, 'globex').expect(200).expect('X-Cache', 'MISS');
    await get(`/crews/${id}?a=1&b=2`, 'globex').expect(200).expect('X-Cache', 'HIT');
    expect(runs.of(`crew:${id}`)).toBe(3);
  });

  it('serves STALE within staleMs and refreshes the entry in the background', async () => {
    const id = uniquePrefix('c');
    const first = await get(`/crews/${id}`).expect(200).expect('X-Cache', 'MISS');
    clock.advance(TTL_MS + 1);
    const stale = await get(`/crews/${id}`).expect(200).expect('X-Cache', 'STALE');
    expect(stale.body).toEqual(first.body);
    const fresh = await until(async () => {
      const response = await get(`/crews/${id}`).expect(200);
      return response.headers['x-cache'] === 'HIT' && response.body.run === 2 && response;
    }, { timeoutMs: 10_000, message: 'the background refresh to store the second run' });
    expect(fresh.body).toEqual({ id, query: {}, run: 2 });
    expect(runs.of(`crew:${id}`)).toBe(2);
  });

  it('drops the response when one of its tags is invalidated', async () => {
    const id = uniquePrefix('c');
    await get(`/crews/${id}`).expect('X-Cache', 'MISS');
    await booted.get(CacheService).invalidateTags([`crew:${id}`], { tenant: 'acme' });
    const again = await get(`/crews/${id}`).expect(200).expect('X-Cache', 'MISS');
    expect(again.body.run).toBe(2);
  });

  it('keys by user only with varyByUser, and does not cache a request without a user there', async () => {
    await get('/crews/user/me', 'acme', { 'x-user': 'u1' }).expect('X-Cache', 'MISS');
    await get('/crews/user/me', 'acme', { 'x-user': 'u1' }).expect('X-Cache', 'HIT');
    const other = await get('/crews/user/me', 'acme', { 'x-user': 'u2' }).expect('X-Cache', 'MISS');
    expect(other.body.run).toBe(2);
    const anonymous = await get('/crews/user/me').expect(200);
    expect(anonymous.headers['x-cache']).toBeUndefined();
    expect(anonymous.body.run).toBe(3);
    await expect(booted.get(CacheService).has('http:/crews/user/me:user:u1#CrewsController.me', { tenant: 'acme' })).resolves.toBe(true);
    // A property path of request.user; `private` responses are stored when they vary by user.
    await get('/crews/user/account', 'acme', { 'x-user': 'u1' }).expect('X-Cache', 'MISS');
    await get('/crews/user/account', 'acme', { 'x-user': 'u1' }).expect('X-Cache', 'HIT');
    await expect(booted.get(CacheService).has('http:/crews/user/account:user:acct-u1#CrewsController.account', { tenant: 'acme' })).resolves.toBe(true);
  });

  it('does not store responses the handler marked no-store, or private without varyByUser', async () => {
    for (const route of ['no-store', 'private']) {
      await get(`/crews/${route}`).expect(200).expect('X-Cache', 'MISS');
      const again = await get(`/crews/${route}`).expect(200).expect('X-Cache', 'MISS');
      expect(again.body.run).toBe(2);
    }
  });

  it('does not store non-200 responses', async () => {
    await get('/crews/missing').expect(404);
    await get('/crews/missing').expect(404);
    expect(runs.of('missing')).toBe(2);
    await get('/crews/accepted').expect(202).expect('X-Cache', 'MISS');
    const again = await get('/crews/accepted').expect(202).expect('X-Cache', 'MISS');
    expect(again.body.run).toBe(2);
  });

  it('passes non-GET requests and routes without @CacheResponse through', async () => {
    const id = uniquePrefix('c');
    const post = await http().post(`/crews/${id}`).set('x-tenant-id', 'acme').expect(201);
    expect(post.headers['x-cache']).toBeUndefined();
    await http().post(`/crews/${id}`).set('x-tenant-id', 'acme').expect(201);
    expect(runs.of(`post:${id}`)).toBe(2);
    const head = await http().head(`/crews/${id}`).set('x-tenant-id', 'acme').expect(200);
    expect(head.headers['x-cache']).toBeUndefined();
    expect((await get('/crews/uncached').expect(200)).headers['x-cache']).toBeUndefined();
    await get('/crews/uncached').expect(200);
    expect(runs.of('uncached')).toBe(2);
  });
});
