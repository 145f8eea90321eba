import 'reflect-metadata';
import { BadRequestException, Body, Controller, Header, HttpCode, InternalServerErrorException, Param, Post, Req, Res, UseGuards } from '@nestjs/common';
import request from 'supertest';
import { CoordinationExceptionFilter, Idempotent, InvalidArgumentError } from '@nest-coordination/core';
import { DRIVERS } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { ARRIVAL_MS, UserGuard, gate, idempotencyApp, type IdempotencyTestApp, type ResponseLike } from './idempotency-test-app.js';

/** What the handlers did, per test. */
const seen = { runs: 0, release: gate() };

@Controller('crews')
@UseGuards(UserGuard)
class CrewRunsController {
  @Post(':id/runs')
  @Idempotent()
  @Header('Cache-Control', 'no-store')
  start(@Param('id') id: string, @Body() body: unknown, @Res({ passthrough: true }) res: ResponseLike) {
    seen.runs += 1;
    res.setHeader('Location', `/crews/${id}/runs/${seen.runs}`);
    res.setHeader('X-Not-Replayed', String(seen.runs));
    return { run: seen.runs, body, at: new Date(0), unicode: 'é✓' };
  }

  @Post('text')
  @Idempotent()
  @HttpCode(202)
  text() {
    seen.runs += 1;
    return `accepted ${seen.runs}`;
  }

  @Post('empty')
  @Idempotent()
  @HttpCode(204)
  empty(): void {
    seen.runs += 1;
  }

  @Post('refused')
  @Idempotent()
  refused() {
    seen.runs += 1;
    throw new BadRequestException({ reason: 'no such crew', run: seen.runs });
  }

  @Post('crash')
  @Idempotent()
  crash() {
    seen.runs += 1;
    if (seen.runs === 1) throw new InternalServerErrorException('database down');
    if (seen.runs === 2) throw new Error('not an HTTP error');
    return { run: seen.runs };
  }

  @Post('slow')
  @Idempotent({ concurrent: 'reject' })
  async slow() {
    const run = (seen.runs += 1);
    await seen.release.opened;
    return { run };
  }

  @Post('slow-wait')
  @Idempotent({ waitMs: 200 })
  async slowWait() {
    const run = (seen.runs += 1);
    await seen.release.opened;
    return { run };
  }

  @Post('burst')
  @Idempotent()
  async burst() {
    const run = (seen.runs += 1);
    await seen.release.opened;
    return { run };
  }

  @Post('required')
  @Idempotent({ required: true })
  required() {
    seen.runs += 1;
    return { run: seen.runs };
  }

  @Post('shared')
  @Idempotent({ scope: 'tenant' })
  shared(@Req() req: { user?: { id: string } }) {
    seen.runs += 1;
    return { run: seen.runs, user: req.user?.id ?? null };
  }
}

describe.each(DRIVERS)('@Idempotent routes over HTTP ($name)', (driver) => {
  let app: IdempotencyTestApp;
  let http: ReturnType<typeof request>;
  beforeAll(async () => {
    app = await idempotencyApp(driver, {}, {
      http: true,
      controllers: [CrewRunsController],
      providers: [UserGuard],
      configure: (nest) => nest.useGlobalFilters(new CoordinationExceptionFilter()),
    });
    http = request((app.booted as unknown as { app: { getHttpServer(): Parameters<typeof request>[0] } }).app.getHttpServer());
  });
  afterAll(() => app.close());
  beforeEach(() => {
    seen.runs = 0;
    seen.release = gate();
  });
  let keys = 0;
  const newKey = () => `key-${driver.name}-${++keys}-${Date.now()}`;

  it('replays the first response byte for byte (status, body, Location, Content-Type, Cache-Control) with Idempotent-Replayed: true', async () => {
    const key = newKey();
    const first = await http.post('/crews/7/runs').set('Idempotency-Key', key).send({ crew: 7, nested: { b: 1, a: 2 } }).expect(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(first.headers.location).toBe('/crews/7/runs/1');
    const again = await http.post('/crews/7/runs').set('Idempotency-Key', key).send({ crew: 7, nested: { a: 2, b: 1 } }).expect(201);
    expect(seen.runs).toBe(1);
    expect(again.text).toBe(first.text);
    expect(Buffer.from(again.text)).toEqual(Buffer.from(first.text));
    for (const header of ['location', 'content-type', 'cache-control', 'content-length']) expect(again.headers[header]).toBe(first.headers[header]);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.headers['x-not-replayed']).toBeUndefined();
    // A quoted structured-field string names the same key.
    const quoted = await http.post('/crews/7/runs').set('Idempotency-Key', `"${key}"`).send({ crew: 7, nested: { a: 2, b: 1 } }).expect(201);
    expect(quoted.text).toBe(first.text);
    expect(seen.runs).toBe(1);
  });

  it('replays a text response and an empty one with their status', async () => {
    const textKey = newKey();
    const text = await http.post('/crews/text').set('Idempotency-Key', textKey).expect(202);
    const textAgain = await http.post('/crews/text').set('Idempotency-Key', textKey).expect(202);
    expect(textAgain.text).toBe(text.text);
    expect(textAgain.headers['content-type']).toBe(text.headers['content-type']);
    const emptyKey = newKey();
    await http.post('/crews/empty').set('Idempotency-Key', emptyKey).expect(204);
    const emptyAgain = await http.post('/crews/empty').set('Idempotency-Key', emptyKey).expect(204);
    expect(emptyAgain.headers['idempotent-replayed']).toBe('true');
    expect(seen.runs).toBe(2);
  });

  it('the key reused with another body, path or (tenant-scoped) user is a 422; per-user keys of two users never meet', async () => {
    const key = newKey();
    await http.post('/crews/7/runs').set('Idempotency-Key', key).send({ crew: 7 }).expect(201);
    const otherBody = await http.post('/crews/7/runs').set('Idempotency-Key', key).send({ crew: 8 }).expect(422);
    expect(otherBody.body).toMatchObject({ code: 'E_IDEMPOTENCY_MISMATCH', status: 422 });
    expect(otherBody.headers['content-type']).toMatch(/^application\/problem\+json/);
    await http.post('/crews/8/runs').set('Idempotency-Key', key).send({ crew: 7 }).expect(422);
    await http.post('/crews/7/runs?dry=1').set('Idempotency-Key', key).send({ crew: 7 }).expect(422);
    expect(seen.runs).toBe(1);
    // scope 'user' (default): another user's key is another key.
    await http.post('/crews/7/runs').set('Idempotency-Key', key).set('x-user', 'bob').send({ crew: 7 }).expect(201);
    expect(seen.runs).toBe(2);
    // scope 'tenant': one key space; another user's request is another request.
    const shared = newKey();
    await http.post('/crews/shared').set('Idempotency-Key', shared).set('x-user', 'ada').expect(201);
    await http.post('/crews/shared').set('Idempotency-Key', shared).set('x-user', 'bob').expect(422);
    const replay = await http.post('/crews/shared').set('Idempotency-Key', shared).set('x-user', 'ada').expect(201);
    expect(replay.body).toEqual({ run: 3, user: 'ada' });
  });

  it("a duplicate in flight: 409 with Retry-After at once ('reject') or once waitMs passed ('wait'); then the replay", async () => {
    const key = newKey();
    const first = http.post('/crews/slow').set('Idempotency-Key', key).then((r) => r);
    await until(() => seen.runs === 1, { timeoutMs: ARRIVAL_MS, message: 'the first request to run' });
    const conflict = await http.post('/crews/slow').set('Idempotency-Key', key).expect(409);
    expect(conflict.body).toMatchObject({ code: 'E_IDEMPOTENCY_IN_FLIGHT' });
    expect(Number(conflict.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const waitKey = newKey();
    const waiting = http.post('/crews/slow-wait').set('Idempotency-Key', waitKey).then((r) => r);
    await until(() => seen.runs === 2, { timeoutMs: ARRIVAL_MS, message: 'the second route to run' });
    const waited = await http.post('/crews/slow-wait').set('Idempotency-Key', waitKey).expect(409);
    expect(Number(waited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    seen.release.open();
    expect((await first).status).toBe(201);
    expect((await waiting).status).toBe(201);
    const replay = await http.post('/crews/slow').set('Idempotency-Key', key).expect(201);
    expect(replay.body).toEqual({ run: 1 });
    expect(seen.runs).toBe(2);
  });

  it('concurrent requests with one key run the handler once and all get the same response', async () => {
    const key = newKey();
    const begins = app.calls.begin;
    const all = Array.from({ length: 4 }, () => http.post('/crews/burst').set('Idempotency-Key', key).then((r) => r));
    await until(() => app.calls.begin - begins >= 5, { timeoutMs: ARRIVAL_MS, message: 'the duplicates to poll the key' });
    seen.release.open();
    const responses = await Promise.all(all);
    expect(seen.runs).toBe(1);
    for (const response of responses) {
      expect(response.status).toBe(201);
      expect(response.text).toBe(responses[0].text);
    }
    expect(responses.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(3);
  });

  it('a 5xx or a non-HTTP error frees the key (the retry runs again); a 4xx HttpException is replayed', async () => {
    const key = newKey();
    await http.post('/crews/crash').set('Idempotency-Key', key).expect(500);
    await http.post('/crews/crash').set('Idempotency-Key', key).expect(500);
    const third = await http.post('/crews/crash').set('Idempotency-Key', key).expect(201);
    expect(third.body).toEqual({ run: 3 });
    await http.post('/crews/crash').set('Idempotency-Key', key).expect(201);
    expect(seen.runs).toBe(3);
    const refusedKey = newKey();
    const refused = await http.post('/crews/refused').set('Idempotency-Key', refusedKey).expect(400);
    const again = await http.post('/crews/refused').set('Idempotency-Key', refusedKey).expect(400);
    expect(again.text).toBe(refused.text);
    expect(again.body).toEqual({ reason: 'no such crew', run: 4 });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(refused.headers['idempotent-replayed']).toBeUndefined();
    expect(seen.runs).toBe(4);
  });

  it('no key: runs as usual, or 400 when required; a malformed key is a 400', async () => {
    await http.post('/crews/text').expect(202);
    await http.post('/crews/text').expect(202);
    expect(seen.runs).toBe(2);
    const missing = await http.post('/crews/required').expect(400);
    expect(missing.body).toMatchObject({ code: 'E_IDEMPOTENCY_KEY_REQUIRED' });
    const tooLong = await http.post('/crews/required').set('Idempotency-Key', 'x'.repeat(256)).expect(400);
    expect(tooLong.body).toMatchObject({ code: 'E_IDEMPOTENCY_KEY_INVALID' });
    await http.post('/crews/text').set('Idempotency-Key', '""').expect(400);
    expect(seen.runs).toBe(2);
    await http.post('/crews/required').set('Idempotency-Key', newKey()).expect(201);
  });

  it('tenant isolation: the same key in two tenants is two records, never replayed across', async () => {
    const key = newKey();
    const acme = await http.post('/crews/7/runs').set('Idempotency-Key', key).set('x-tenant-id', 'acme').send({}).expect(201);
    const globex = await http.post('/crews/7/runs').set('Idempotency-Key', key).set('x-tenant-id', 'globex').send({}).expect(201);
    expect(globex.headers['idempotent-replayed']).toBeUndefined();
    expect(acme.body.run).toBe(1);
    expect(globex.body.run).toBe(2);
    const acmeAgain = await http.post('/crews/7/runs').set('Idempotency-Key', key).set('x-tenant-id', 'acme').send({}).expect(201);
    expect(acmeAgain.body.run).toBe(1);
    expect(seen.runs).toBe(2);
  });
});

describe('@Idempotent() options', () => {
  it('are checked when the decorator is applied', () => {
    expect(() => Idempotent({ ttlMs: 10 })).toThrow(InvalidArgumentError);
    expect(() => Idempotent({ scope: 'everyone' as never })).toThrow(/scope/);
    expect(() => Idempotent({ concurrent: 'queue' as never })).toThrow(/concurrent/);
    expect(() => Idempotent({ waitMs: -1 })).toThrow(/waitMs/);
    expect(() => Idempotent({ required: 'yes' as never })).toThrow(/required/);
    expect(() => Idempotent({ tll: 1_000 } as never)).toThrow(/tll/);
  });
});
