import 'reflect-metadata';
import { Controller, Post, Res, UseGuards } from '@nestjs/common';
import request from 'supertest';
import { CoordinationExceptionFilter, Idempotent, type CoordinationModuleOptions } from '@nest-coordination/core';
import { DRIVERS, type DriverCase } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { ARRIVAL_MS, UserGuard, gate, idempotencyApp, type IdempotencyTestApp, type ResponseLike } from './idempotency-test-app.js';

/**
 * The options of the `idempotency` module section above the store: the replay ttl end to end
 * (route, `run` and module default, on the memory driver's ManualClock), `header`,
 * `replayHeaders`, `userOf`, the module-level `required` / `concurrent` / `waitMs` defaults of
 * a route without its own, and a key header sent twice.
 */

/** What the handlers did, per test. */
const seen = { runs: 0, release: gate() };

@Controller('opts')
@UseGuards(UserGuard)
class OptionsController {
  /** No per-route options: every policy comes from the module. */
  @Post('plain')
  @Idempotent()
  plain(@Res({ passthrough: true }) res: ResponseLike) {
    const run = (seen.runs += 1);
    res.setHeader('X-Kept', `kept-${run}`);
    res.setHeader('X-Dropped', `dropped-${run}`);
    return { run };
  }

  @Post('long-ttl')
  @Idempotent({ ttlMs: 60_000 })
  longTtl() {
    return { run: (seen.runs += 1) };
  }

  @Post('optional')
  @Idempotent({ required: false })
  optional() {
    return { run: (seen.runs += 1) };
  }

  /** Held until the test opens `seen.release`; no per-route options. */
  @Post('held')
  @Idempotent()
  async held() {
    const run = (seen.runs += 1);
    await seen.release.opened;
    return { run };
  }

  /** Held too, its duplicates waiting (over a module-level 'reject' or `waitMs`). */
  @Post('held-wait')
  @Idempotent({ concurrent: 'wait', waitMs: 600_000 })
  async heldWait() {
    const run = (seen.runs += 1);
    await seen.release.opened;
    return { run };
  }
}

type Http = ReturnType<typeof request>;

async function optionsApp(driver: DriverCase, options: CoordinationModuleOptions): Promise<{ app: IdempotencyTestApp; http: Http }> {
  const app = await idempotencyApp(driver, options, {
    http: true,
    controllers: [OptionsController],
    providers: [UserGuard],
    configure: (nest) => nest.useGlobalFilters(new CoordinationExceptionFilter()),
  });
  const http = request((app.booted as unknown as { app: { getHttpServer(): Parameters<typeof request>[0] } }).app.getHttpServer());
  return { app, http };
}

/**
 * `request` with header `name` on one line per value: Node's client writes an array value as
 * repeated lines (supertest's types only allow that for Cookie); the server's Node joins them
 * into `a, b` in `request.headers` and keeps each line in `rawHeaders`.
 */
function withLines<T extends { set(name: string, value: string): T }>(test: T, name: string, values: string[]): T {
  return test.set(name, values as unknown as string);
}

let keys = 0;
const newKey = (label: string) => `opt-${label}-${++keys}-${Date.now()}`;

/**
 * Sends `key` to `path` (a handler held until `seen.release` opens), then a duplicate while it is
 * held: the duplicate is refused with 409 E_IDEMPOTENCY_IN_FLIGHT after ONE look at the key (a
 * waiting duplicate would poll it again). Releases the handler; returns the 409 and the first answer.
 */
async function refusedAtFirstLook(app: IdempotencyTestApp, http: Http, path: string, key: string) {
  const first = http.post(path).set('Idempotency-Key', key).then((r) => r);
  await until(() => seen.runs === 1, { timeoutMs: ARRIVAL_MS, message: 'the first request to run' });
  const begins = app.calls.begin;
  const duplicate = await http.post(path).set('Idempotency-Key', key).expect(409);
  expect(duplicate.body).toMatchObject({ code: 'E_IDEMPOTENCY_IN_FLIGHT' });
  expect(app.calls.begin - begins).toBe(1);
  seen.release.open();
  const answer = await first;
  expect(answer.status).toBe(201);
  return { duplicate, first: answer };
}

/**
 * Sends `key` to `path` (a handler held until `seen.release` opens), then a duplicate that waits:
 * it polls the key until the first is released, and both answer 201 with the first's body.
 * Returns the duplicate's answer.
 */
async function waitsForTheFirst(app: IdempotencyTestApp, http: Http, path: string, key: string) {
  const first = http.post(path).set('Idempotency-Key', key).then((r) => r);
  await until(() => seen.runs === 1, { timeoutMs: ARRIVAL_MS, message: 'the first request to run' });
  const begins = app.calls.begin;
  const duplicate = http.post(path).set('Idempotency-Key', key).then((r) => r);
  await until(() => app.calls.begin - begins >= 2, { timeoutMs: ARRIVAL_MS, message: 'the duplicate to poll the key' });
  seen.release.open();
  const [a, b] = await Promise.all([first, duplicate]);
  expect([a.status, b.status]).toEqual([201, 201]);
  expect(b.body).toEqual({ run: 1 });
  expect(seen.runs).toBe(1);
  return b;
}

beforeEach(() => {
  seen.runs = 0;
  seen.release = gate();
});

const MEMORY = DRIVERS.filter((d) => d.name === 'memory');
const MEMORY_AND_STANDALONE = DRIVERS.filter((d) => d.name !== 'cluster');

describe.each(MEMORY)('idempotency replay ttl end to end, on the ManualClock ($name)', (driver) => {
  const MODULE_TTL_MS = 3_000;
  let app: IdempotencyTestApp;
  let http: Http;
  beforeAll(async () => {
    ({ app, http } = await optionsApp(driver, { idempotency: { ttlMs: MODULE_TTL_MS } }));
  });
  afterAll(() => app.close());

  it('@Idempotent({ ttlMs }): replayed until ttlMs passed (past the module default), then the handler runs again', async () => {
    const key = newKey('route-ttl');
    const first = await http.post('/opts/long-ttl').set('Idempotency-Key', key).expect(201);
    expect(first.body).toEqual({ run: 1 });
    app.clock.advance(60_000 - 1);
    const inside = await http.post('/opts/long-ttl').set('Idempotency-Key', key).expect(201);
    expect(inside.headers['idempotent-replayed']).toBe('true');
    expect(inside.body).toEqual({ run: 1 });
    expect(seen.runs).toBe(1);
    app.clock.advance(1);
    const after = await http.post('/opts/long-ttl').set('Idempotency-Key', key).expect(201);
    expect(after.headers['idempotent-replayed']).toBeUndefined();
    expect(after.body).toEqual({ run: 2 });
    // The new response is stored in turn.
    const replay = await http.post('/opts/long-ttl').set('Idempotency-Key', key).expect(201);
    expect(replay.body).toEqual({ run: 2 });
    expect(seen.runs).toBe(2);
  });

  it('a route without ttlMs keeps its replay for the module default idempotency.ttlMs', async () => {
    const key = newKey('module-ttl');
    await http.post('/opts/plain').set('Idempotency-Key', key).expect(201);
    app.clock.advance(MODULE_TTL_MS - 1);
    const inside = await http.post('/opts/plain').set('Idempotency-Key', key).expect(201);
    expect(inside.headers['idempotent-replayed']).toBe('true');
    expect(inside.body).toEqual({ run: 1 });
    app.clock.advance(1);
    const after = await http.post('/opts/plain').set('Idempotency-Key', key).expect(201);
    expect(after.headers['idempotent-replayed']).toBeUndefined();
    expect(after.body).toEqual({ run: 2 });
    expect(seen.runs).toBe(2);
  });

  it('IdempotencyService.run(key, fn, { ttlMs }): the stored value until ttlMs passed, then fn runs again', async () => {
    const key = newKey('run-ttl');
    let calls = 0;
    const fn = () => ({ call: (calls += 1) });
    expect(await app.idempotency.run(key, fn, { ttlMs: 10_000 })).toEqual({ call: 1 });
    app.clock.advance(10_000 - 1);
    expect(await app.idempotency.run(key, fn, { ttlMs: 10_000 })).toEqual({ call: 1 });
    expect(calls).toBe(1);
    app.clock.advance(1);
    expect(await app.idempotency.run(key, fn, { ttlMs: 10_000 })).toEqual({ call: 2 });
    expect(await app.idempotency.run(key, fn, { ttlMs: 10_000 })).toEqual({ call: 2 });
    expect(calls).toBe(2);
  });

  it('IdempotencyService.run without ttlMs: the module default idempotency.ttlMs', async () => {
    const key = newKey('run-module-ttl');
    let calls = 0;
    const fn = () => (calls += 1);
    expect(await app.idempotency.run(key, fn)).toBe(1);
    app.clock.advance(MODULE_TTL_MS - 1);
    expect(await app.idempotency.run(key, fn)).toBe(1);
    app.clock.advance(1);
    expect(await app.idempotency.run(key, fn)).toBe(2);
    expect(calls).toBe(2);
  });
});

describe.each(MEMORY_AND_STANDALONE)('idempotency module options: header, replayHeaders, userOf ($name)', (driver) => {
  let app: IdempotencyTestApp;
  let http: Http;
  beforeAll(async () => {
    ({ app, http } = await optionsApp(driver, {
      idempotency: {
        header: 'X-Request-Key',
        replayHeaders: ['Content-Type', 'X-Kept'],
        userOf: (req) => (req as { headers: Record<string, string | undefined> }).headers['x-account'],
      },
    }));
  });
  afterAll(() => app.close());

  it('header: the configured header carries the key; Idempotency-Key is then an ordinary header', async () => {
    const key = newKey('header');
    const first = await http.post('/opts/plain').set('X-Request-Key', key).expect(201);
    const again = await http.post('/opts/plain').set('x-request-key', key).expect(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(seen.runs).toBe(1);
    const ignored = newKey('ignored');
    const a = await http.post('/opts/plain').set('Idempotency-Key', ignored).expect(201);
    const b = await http.post('/opts/plain').set('Idempotency-Key', ignored).expect(201);
    expect(b.headers['idempotent-replayed']).toBeUndefined();
    expect([a.body, b.body]).toEqual([{ run: 2 }, { run: 3 }]);
    // Not read, so not validated either.
    await http.post('/opts/plain').set('Idempotency-Key', '""').expect(201);
    expect(seen.runs).toBe(4);
  });

  it('replayHeaders: a listed header (any case) is replayed, an unlisted one is not', async () => {
    const key = newKey('replay-headers');
    const first = await http.post('/opts/plain').set('X-Request-Key', key).expect(201);
    expect(first.headers['x-kept']).toBe('kept-1');
    expect(first.headers['x-dropped']).toBe('dropped-1');
    const again = await http.post('/opts/plain').set('X-Request-Key', key).expect(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.headers['x-kept']).toBe('kept-1');
    expect(again.headers['x-dropped']).toBeUndefined();
    expect(again.headers['content-type']).toBe(first.headers['content-type']);
    expect(again.text).toBe(first.text);
    expect(seen.runs).toBe(1);
  });

  it('userOf: the configured function names the per-user namespace, whatever request.user holds', async () => {
    const key = newKey('user-of');
    await http.post('/opts/plain').set('X-Request-Key', key).set('x-account', 'acct-1').set('x-user', 'ada').expect(201);
    // Another request.user, the same userOf user: the same key space (and fingerprint): replayed.
    const sameAccount = await http.post('/opts/plain').set('X-Request-Key', key).set('x-account', 'acct-1').set('x-user', 'bob').expect(201);
    expect(sameAccount.headers['idempotent-replayed']).toBe('true');
    expect(sameAccount.body).toEqual({ run: 1 });
    // The same request.user, another userOf user: another key space: the handler runs.
    const otherAccount = await http.post('/opts/plain').set('X-Request-Key', key).set('x-account', 'acct-2').set('x-user', 'ada').expect(201);
    expect(otherAccount.headers['idempotent-replayed']).toBeUndefined();
    expect(otherAccount.body).toEqual({ run: 2 });
    // userOf answering undefined: the anonymous namespace, again another one.
    const anonymous = await http.post('/opts/plain').set('X-Request-Key', key).set('x-user', 'ada').expect(201);
    expect(anonymous.body).toEqual({ run: 3 });
    expect(seen.runs).toBe(3);
  });

  it('the configured header sent twice is a 400 E_IDEMPOTENCY_KEY_INVALID, the handler never runs', async () => {
    const key = newKey('twice-custom');
    const twice = await withLines(http.post('/opts/plain'), 'X-Request-Key', [key, newKey('other')]).expect(400);
    expect(twice.body).toMatchObject({ code: 'E_IDEMPOTENCY_KEY_INVALID', status: 400 });
    expect(seen.runs).toBe(0);
  });
});

describe.each(MEMORY_AND_STANDALONE)("idempotency module defaults: required and concurrent 'reject' ($name)", (driver) => {
  let app: IdempotencyTestApp;
  let http: Http;
  beforeAll(async () => {
    ({ app, http } = await optionsApp(driver, { idempotency: { required: true, concurrent: 'reject' } }));
  });
  afterAll(() => app.close());

  it('required: a route without options refuses a request without the header (400); @Idempotent({ required: false }) runs it', async () => {
    const missing = await http.post('/opts/plain').expect(400);
    expect(missing.body).toMatchObject({ code: 'E_IDEMPOTENCY_KEY_REQUIRED', status: 400 });
    expect(seen.runs).toBe(0);
    await http.post('/opts/optional').expect(201);
    await http.post('/opts/optional').expect(201);
    expect(seen.runs).toBe(2);
    await http.post('/opts/plain').set('Idempotency-Key', newKey('required')).expect(201);
    expect(seen.runs).toBe(3);
  });

  it("concurrent 'reject': a duplicate of a request in flight gets 409 from its first look at the key, without waiting", async () => {
    const key = newKey('reject');
    // One look at the key: a waiting duplicate ('wait', the default) would have polled it again.
    const { duplicate } = await refusedAtFirstLook(app, http, '/opts/held', key);
    expect(Number(duplicate.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const replay = await http.post('/opts/held').set('Idempotency-Key', key).expect(201);
    expect(replay.body).toEqual({ run: 1 });
    expect(seen.runs).toBe(1);
  });

  it("a route's own concurrent: 'wait' overrides the module's 'reject'", async () => {
    const duplicate = await waitsForTheFirst(app, http, '/opts/held-wait', newKey('route-wait'));
    expect(duplicate.headers['idempotent-replayed']).toBe('true');
  });
});

describe.each(MEMORY_AND_STANDALONE)('idempotency module defaults: waitMs; the default header sent twice ($name)', (driver) => {
  let app: IdempotencyTestApp;
  let http: Http;
  beforeAll(async () => {
    ({ app, http } = await optionsApp(driver, { idempotency: { waitMs: 0 } }));
  });
  afterAll(() => app.close());

  it('waitMs: a route without options waits no longer than the module waitMs (0: 409 from the first look)', async () => {
    // With the default waitMs (10 s) the duplicate would have polled the key again.
    await refusedAtFirstLook(app, http, '/opts/held', newKey('wait-0'));
    expect(seen.runs).toBe(1);
  });

  it("a route's own waitMs overrides the module's", async () => {
    await waitsForTheFirst(app, http, '/opts/held-wait', newKey('route-wait-ms'));
  });

  it('Idempotency-Key on two header lines (Node joins them as "a, b") is a 400 E_IDEMPOTENCY_KEY_INVALID, never the key "a, b"', async () => {
    const a = newKey('twice-a');
    const b = newKey('twice-b');
    const twice = await withLines(http.post('/opts/plain'), 'Idempotency-Key', [a, b]).expect(400);
    expect(twice.body).toMatchObject({ code: 'E_IDEMPOTENCY_KEY_INVALID', status: 400 });
    // The same value twice is refused too: the header is defined as a single item.
    await withLines(http.post('/opts/plain'), 'Idempotency-Key', [a, a]).expect(400);
    expect(seen.runs).toBe(0);
    // One line holding "a, b" is one key (printable ASCII): unaffected.
    const joined = `${a}, ${b}`;
    await http.post('/opts/plain').set('Idempotency-Key', joined).expect(201);
    const replay = await http.post('/opts/plain').set('Idempotency-Key', joined).expect(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(seen.runs).toBe(1);
  });
});
