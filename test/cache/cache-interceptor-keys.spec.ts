import 'reflect-metadata';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Controller, Get, Param, Query, Res, UseInterceptors, Version, VersioningType } from '@nestjs/common';
import request from 'supertest';
import { CacheInterceptor, CacheResponse } from '@nest-coordination/core';
import { bootApp, type BootedApp } from '../support/boot.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';

/**
 * How CacheInterceptor keys a request: on the path exactly as the router saw it (never
 * normalised) and on the handler that answered it, so a response is never served for another
 * route; repeated query parameters keep their order.
 */

let runs = 0;

@UseInterceptors(CacheInterceptor)
@Controller()
class PagesController {
  @Get('home')
  @CacheResponse({ ttlMs: 60_000 })
  home() {
    return { page: 'home', run: ++runs };
  }

  @Get('pages/:a/:b')
  @CacheResponse({ ttlMs: 60_000 })
  pages(@Param('a') a: string, @Param('b') b: string) {
    return { page: 'pages', a, b, run: ++runs };
  }

  @Get('list')
  @CacheResponse({ ttlMs: 60_000 })
  list(@Query('sort') sort: string | string[]) {
    return { sort, run: ++runs };
  }

  @Get('report.csv')
  @CacheResponse({ ttlMs: 60_000 })
  csv(@Res({ passthrough: true }) res: { type(value: string): void }) {
    res.type('text/csv');
    return `name,run\nalpha,${++runs}\n`;
  }
}

@UseInterceptors(CacheInterceptor)
@Controller('api')
class VersionedController {
  @Get('plan')
  @Version('1')
  @CacheResponse({ ttlMs: 60_000 })
  planV1() {
    return { version: 1, run: ++runs };
  }

  @Get('plan')
  @Version('2')
  @CacheResponse({ ttlMs: 60_000 })
  planV2() {
    return { version: 2, run: ++runs };
  }
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** Sends `path` byte for byte (supertest and fetch normalise `..` and `%2e%2e` away). */
function rawGet(port: number, path: string, headers: Record<string, string>): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe.each(DRIVERS)('CacheInterceptor keys ($name)', (driver) => {
  let booted: BootedApp;
  let port: number;
  const TENANT = { 'x-tenant-id': 'acme' };
  const get = (path: string, headers: Record<string, string> = {}) => request(booted.app.getHttpServer()).get(path).set({ ...TENANT, ...headers });

  beforeEach(async () => {
    booted = await bootApp(
      { ...driver.options(), prefix: uniquePrefix('cik'), health: { pingIntervalMs: 0 } },
      {
        controllers: [PagesController, VersionedController],
        configure: (app) => app.enableVersioning({ type: VersioningType.HEADER, header: 'x-api-version' }),
      },
    );
    await booted.app.listen(0, '127.0.0.1');
    port = (booted.app.getHttpServer().address() as AddressInfo).port;
  });

  afterEach(async () => {
    await booted.close();
  });

  it('keys on the raw path: a dot-segment path cached by one route is never served for the path it normalises to', async () => {
    const traversal = await rawGet(port, '/pages/%2e%2e/home', TENANT);
    expect(traversal.status).toBe(200);
    expect(traversal.body).toMatchObject({ page: 'pages', a: '..', b: 'home' });
    expect(traversal.headers['x-cache']).toBe('MISS');
    const home = await get('/home').expect(200);
    expect(home.body).toMatchObject({ page: 'home' });
    expect(home.headers['x-cache']).toBe('MISS');
    // Each path keeps its own entry.
    expect((await rawGet(port, '/pages/%2e%2e/home', TENANT)).headers['x-cache']).toBe('HIT');
    await get('/home').expect(200).expect('X-Cache', 'HIT');
    const dotted = await rawGet(port, '/pages/./home', TENANT);
    expect(dotted.body).toMatchObject({ page: 'pages', a: '.', b: 'home' });
  });

  it('keys on the handler: two versions of one path keep separate entries', async () => {
    const v1 = await get('/api/plan', { 'x-api-version': '1' }).expect(200).expect('X-Cache', 'MISS');
    expect(v1.body).toMatchObject({ version: 1 });
    const v2 = await get('/api/plan', { 'x-api-version': '2' }).expect(200);
    expect(v2.body).toMatchObject({ version: 2 });
    expect(v2.headers['x-cache']).toBe('MISS');
    await get('/api/plan', { 'x-api-version': '1' }).expect('X-Cache', 'HIT').expect((res) => expect(res.body).toEqual(v1.body));
  });

  it('sorts query parameters by name only: the order of repeated values is part of the key', async () => {
    const first = await get('/list?sort=name&sort=date').expect(200).expect('X-Cache', 'MISS');
    expect(first.body.sort).toEqual(['name', 'date']);
    const reversed = await get('/list?sort=date&sort=name').expect(200);
    expect(reversed.body.sort).toEqual(['date', 'name']);
    expect(reversed.headers['x-cache']).toBe('MISS');
    // Other parameters still move freely around them.
    await get('/list?x=1&sort=name&sort=date').expect(200).expect('X-Cache', 'MISS');
    const moved = await get('/list?sort=name&x=1&sort=date').expect(200).expect('X-Cache', 'HIT');
    expect(moved.body.sort).toEqual(['name', 'date']);
  });

  it('sends the Content-Type the handler set on a HIT too', async () => {
    const miss = await get('/report.csv').expect(200).expect('X-Cache', 'MISS');
    expect(miss.headers['content-type']).toMatch(/^text\/csv/);
    const hit = await get('/report.csv').expect(200).expect('X-Cache', 'HIT');
    expect(hit.text).toBe(miss.text);
    expect(hit.headers['content-type']).toMatch(/^text\/csv/);
  });
});
