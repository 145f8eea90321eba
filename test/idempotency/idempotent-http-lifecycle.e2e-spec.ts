import 'reflect-metadata';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Controller, Get, Injectable, Post, Redirect, Res, UseGuards, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { from, type Observable } from 'rxjs';
import { Idempotent } from '@nest-coordination/core';
import { IDEMPOTENCY_STORE, type IdempotencyStore } from '../../libs/coordination/src/idempotency/idempotency-store.interface.js';
import { DRIVERS } from '../support/drivers.js';
import { expectNoTimersLeftBy } from '../support/timers.js';
import { until } from '../support/wait.js';
import { ARRIVAL_MS, gate, idempotencyApp, type IdempotencyTestApp } from './idempotency-test-app.js';

/**
 * The life of a claim over HTTP (express): a client that goes away, a streamed body, a redirect,
 * a conditional GET, an optional-auth `request.user = false`, a failed store, a wrapped handler.
 * The key is held exactly as long as the handler runs, and what is replayed is what was sent.
 */

const seen = { runs: 0, active: 0, release: gate(), closes: [] as Promise<void>[] };

/** `x-anonymous` → `request.user = false` (what @nestjs/passport's optional authentication leaves). */
@Injectable()
class OptionalAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string>; user?: unknown }>();
    if (req.headers['x-anonymous']) req.user = false;
    return true;
  }
}

interface RawResponse {
  status(code: number): RawResponse;
  write(chunk: string): void;
  end(chunk?: string): void;
  json(body: unknown): void;
  once(event: 'close', listener: () => void): void;
}

/** A class instance, as ORMs return: an outer ClassSerializerInterceptor would leave `secret` out. */
class RunEntity {
  constructor(readonly run: number, readonly secret: string) {}
}

/** Wraps the method in an anonymous function (its `name` is lost), as some logging/tracing decorators do. */
function Wrapped(): MethodDecorator {
  return (_target, _key, descriptor: PropertyDescriptor) => {
    const original = descriptor.value as (...args: unknown[]) => unknown;
    descriptor.value = function (this: unknown, ...args: unknown[]) {
      return original.apply(this, args);
    };
  };
}

@Controller('life')
@UseGuards(OptionalAuthGuard)
class LifeController {
  @Post('held')
  @Idempotent({ concurrent: 'reject' })
  async held(@Res({ passthrough: true }) res: RawResponse) {
    const run = (seen.runs += 1);
    if (seen.active > 0) return { run, alongside: seen.active }; // a second run while the first is held: answered at once
    seen.closes.push(new Promise((resolve) => res.once('close', resolve)));
    seen.active += 1;
    await seen.release.opened;
    seen.active -= 1;
    return { run };
  }

  @Post('held-entity')
  @Idempotent({ concurrent: 'reject' })
  async heldEntity(@Res({ passthrough: true }) res: RawResponse) {
    const run = (seen.runs += 1);
    seen.closes.push(new Promise((resolve) => res.once('close', resolve)));
    seen.active += 1;
    await seen.release.opened;
    seen.active -= 1;
    return new RunEntity(run, 'hunter2');
  }

  @Post('observable')
  @Idempotent({ waitMs: 20_000 })
  observable(): Observable<{ run: number }> {
    const run = (seen.runs += 1);
    return from(
      (async () => {
        if (run === 1) {
          await seen.release.opened;
          throw new Error('the first attempt fails');
        }
        return { run };
      })(),
    );
  }

  @Post('progress')
  @Idempotent({ concurrent: 'reject' })
  async progress(@Res() res: RawResponse) {
    seen.runs += 1;
    res.status(200);
    res.write('working...');
    await seen.release.opened;
    res.end(' done');
  }

  @Post('redirect')
  @Redirect('/static', 302)
  @Idempotent()
  redirect() {
    seen.runs += 1;
    return { url: `/orders/${seen.runs}` };
  }

  @Get('conditional')
  @Idempotent()
  conditional() {
    seen.runs += 1;
    return { fixed: true };
  }

  @Post('anonymous')
  @Idempotent()
  anonymous() {
    seen.runs += 1;
    return { run: seen.runs };
  }

  @Post('wrapped')
  @Idempotent()
  @Wrapped()
  wrapped(@Res() res: RawResponse): void {
    seen.runs += 1;
    res.status(201).json({ run: seen.runs });
  }
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** One request on a fresh connection: `answer` once the whole body arrived, `head` once the status line did; `abort()` drops the connection. */
function send(port: number, path: string, options: { method?: string; headers?: Record<string, string> } = {}) {
  let abort!: () => void;
  let head!: Promise<Omit<Answer, 'text'>>;
  const answer = new Promise<Answer>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: options.method ?? 'POST', headers: options.headers, agent: false });
    head = new Promise((resolveHead) => {
      req.on('response', (res) => {
        resolveHead({ status: res.statusCode ?? 0, headers: res.headers });
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
    });
    req.on('error', reject);
    abort = () => req.destroy();
    req.end();
  });
  answer.catch(() => undefined); // an aborted request's answer never comes
  return { answer, head, abort };
}

describe.each(DRIVERS.filter((d) => d.name !== 'cluster'))('@Idempotent over the life of a request ($name)', (driver) => {
  let app: IdempotencyTestApp;
  let server: http.Server;
  let port: number;
  beforeAll(async () => {
    app = await idempotencyApp(driver, {}, { http: true, controllers: [LifeController], providers: [OptionalAuthGuard] });
    server = (app.booted as unknown as { app: { getHttpServer(): http.Server } }).app.getHttpServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => app.close());
  beforeEach(() => {
    seen.runs = 0;
    seen.active = 0;
    seen.release = gate();
    seen.closes = [];
  });
  let keys = 0;
  const newKey = () => `life-${driver.name}-${++keys}-${Date.now()}`;
  const post = (path: string, key: string, headers: Record<string, string> = {}) => send(port, path, { headers: { 'Idempotency-Key': key, ...headers } });

  it('a client that goes away while the handler runs keeps the key held: its retry gets 409 until the handler ends, then the replay', async () => {
    const key = newKey();
    const first = post('/life/held', key);
    await until(() => seen.runs === 1, { timeoutMs: ARRIVAL_MS, message: 'the handler to run' });
    first.abort();
    await seen.closes[0];
    const retry = await post('/life/held', key).answer;
    expect(retry.status).toBe(409);
    expect(retry.headers['retry-after']).toBeDefined();
    expect(seen.runs).toBe(1);
    expect(seen.active).toBe(1);
    seen.release.open();
    await until(() => seen.active === 0, { timeoutMs: ARRIVAL_MS, message: 'the handler to end' });
    const replay = await until(async () => {
      const again = await post('/life/held', key).answer;
      return again.status === 409 ? undefined : again;
    }, { timeoutMs: ARRIVAL_MS, message: 'the key to settle' });
    expect(replay.status).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(JSON.parse(replay.text)).toEqual({ run: 1 });
    expect(seen.runs).toBe(1);
  });

  it('a client that goes away from a handler returning class instances frees the key once it ends: never stored unserialised, a retry runs', async () => {
    const key = newKey();
    const first = post('/life/held-entity', key);
    await until(() => seen.runs === 1, { timeoutMs: ARRIVAL_MS, message: 'the handler to run' });
    first.abort();
    await seen.closes[0];
    expect((await post('/life/held-entity', key).answer).status).toBe(409); // still held while it runs
    seen.release.open();
    await until(() => seen.active === 0, { timeoutMs: ARRIVAL_MS, message: 'the handler to end' });
    const retry = await until(async () => {
      const again = await post('/life/held-entity', key).answer;
      return again.status === 409 ? undefined : again;
    }, { timeoutMs: ARRIVAL_MS, message: 'the key to be freed' });
    expect(retry.status).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(JSON.parse(retry.text)).toMatchObject({ run: 2 });
  });

  it('a duplicate whose client left while it waited, then ran an Observable Nest tore down, settles the key and leaves no renewal timer', async () => {
    const key = newKey();
    let third: Answer | undefined;
    await expectNoTimersLeftBy(async () => {
      const first = post('/life/observable', key);
      await until(() => seen.runs === 1, { timeoutMs: ARRIVAL_MS, message: 'the first attempt to run' });
      const begins = app.calls.begin;
      const second = post('/life/observable', key);
      await until(() => app.calls.begin >= begins + 2, { timeoutMs: ARRIVAL_MS, message: 'the duplicate to wait' });
      second.abort();
      // The duplicate keeps polling: a few polls later the server has long seen its connection close.
      const afterAbort = app.calls.begin;
      await until(() => app.calls.begin >= afterAbort + 3, { timeoutMs: ARRIVAL_MS, message: 'the duplicate to poll on' });
      seen.release.open();
      expect((await first.answer).status).toBe(500);
      await until(() => seen.runs === 2, { timeoutMs: ARRIVAL_MS, message: 'the duplicate to run' });
      third = await until(async () => {
        const again = await post('/life/observable', key).answer;
        return again.status === 409 ? undefined : again;
      }, { timeoutMs: 5_000, message: 'the key to settle (not 409)' });
    }, 2_000);
    expect(third?.status).toBe(201);
    expect(JSON.parse(third?.text ?? '')).toEqual({ run: 2 });
    expect(seen.runs).toBe(2);
  });

  it('a streamed body holds the key until it ends (a duplicate meanwhile is a 409), and is not stored', async () => {
    const key = newKey();
    const first = post('/life/progress', key);
    expect((await first.head).status).toBe(200);
    const duplicate = post('/life/progress', key);
    expect((await duplicate.head).status).toBe(409);
    await duplicate.answer;
    expect(seen.runs).toBe(1);
    seen.release.open();
    expect((await first.answer).text).toBe('working... done');
    const retry = await until(async () => {
      const again = await post('/life/progress', key).answer;
      return again.status === 409 ? undefined : again;
    }, { timeoutMs: ARRIVAL_MS, message: 'the key to be freed' });
    expect(retry.text).toBe('working... done');
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(seen.runs).toBe(2);
  });

  it('@Redirect() with a URL the handler returned replays that URL, not the static one', async () => {
    const key = newKey();
    const first = await post('/life/redirect', key, { Accept: 'text/plain' }).answer;
    expect(first.status).toBe(302);
    expect(first.headers.location).toBe('/orders/1');
    const again = await post('/life/redirect', key, { Accept: 'text/plain' }).answer;
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.status).toBe(302);
    expect(again.headers.location).toBe('/orders/1');
    expect(again.text).toBe(first.text);
    expect(seen.runs).toBe(1);
  });

  it('a 304 answer to a conditional GET is not stored: the retry without If-None-Match gets the body; HEAD is not stored either', async () => {
    const etag = (await send(port, '/life/conditional', { method: 'GET', headers: { 'Idempotency-Key': newKey() } }).answer).headers.etag;
    expect(etag).toBeDefined();
    const key = newKey();
    const conditional = await send(port, '/life/conditional', { method: 'GET', headers: { 'Idempotency-Key': key, 'If-None-Match': String(etag) } }).answer;
    expect(conditional.status).toBe(304);
    const retry = await send(port, '/life/conditional', { method: 'GET', headers: { 'Idempotency-Key': key } }).answer;
    expect(retry.status).toBe(200);
    expect(JSON.parse(retry.text)).toEqual({ fixed: true });
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    const headKey = newKey();
    const head = await send(port, '/life/conditional', { method: 'HEAD', headers: { 'Idempotency-Key': headKey } }).answer;
    const headAgain = await send(port, '/life/conditional', { method: 'HEAD', headers: { 'Idempotency-Key': headKey } }).answer;
    expect(headAgain.headers['idempotent-replayed']).toBeUndefined();
    expect(headAgain.headers['content-length']).toBe(head.headers['content-length']);
    // The method is part of the fingerprint: a GET reusing the HEAD's key is another request.
    expect((await send(port, '/life/conditional', { method: 'GET', headers: { 'Idempotency-Key': headKey } }).answer).status).toBe(200);
    const getKey = newKey();
    await send(port, '/life/conditional', { method: 'GET', headers: { 'Idempotency-Key': getKey } }).answer;
    expect((await send(port, '/life/conditional', { method: 'HEAD', headers: { 'Idempotency-Key': getKey } }).answer).status).toBe(422);
  });

  it('request.user = false (optional authentication, nobody signed in) is anonymous, not a 500', async () => {
    const key = newKey();
    const first = await post('/life/anonymous', key, { 'x-anonymous': '1' }).answer;
    expect(first.status).toBe(201);
    const again = await post('/life/anonymous', key, { 'x-anonymous': '1' }).answer;
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(seen.runs).toBe(1);
  });

  it('a response the store failed to keep frees the key at once: the retry runs again rather than a 409 for the whole lease', async () => {
    const store = app.booted.get<IdempotencyStore>(IDEMPOTENCY_STORE);
    const complete = store.complete;
    store.complete = async () => {
      store.complete = complete;
      throw new Error('Redis went away');
    };
    try {
      const key = newKey();
      const first = await post('/life/anonymous', key).answer;
      expect(first.status).toBe(201);
      const again = await post('/life/anonymous', key).answer;
      expect(again.status).toBe(201);
      expect(again.headers['idempotent-replayed']).toBeUndefined();
      expect(seen.runs).toBe(2);
    } finally {
      store.complete = complete;
    }
  });

  it('a route answering through @Res() whose method a decorator wrapped in an anonymous function gets its replay written', async () => {
    const key = newKey();
    const first = await post('/life/wrapped', key).answer;
    expect(first.status).toBe(201);
    const again = await Promise.race([
      post('/life/wrapped', key).answer,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5_000).unref()),
    ]);
    expect(again?.headers['idempotent-replayed']).toBe('true');
    expect(again?.text).toBe(first.text);
    expect(seen.runs).toBe(1);
  });
});
