import 'reflect-metadata';
import {
  BadRequestException, Catch, ClassSerializerInterceptor, Controller, HttpException, Injectable, Post, Req, Res, UseGuards,
  type ArgumentsHost, type CanActivate, type ExceptionFilter, type ExecutionContext,
} from '@nestjs/common';
import { APP_FILTER, APP_INTERCEPTOR } from '@nestjs/core';
import { Exclude } from 'class-transformer';
import request from 'supertest';
import { Idempotent, IdempotencyInterceptor } from '@nest-coordination/core';
import { DRIVERS } from '../support/drivers.js';
import { expectNoTimersLeftBy } from '../support/timers.js';
import { idempotencyApp, type IdempotencyTestApp } from './idempotency-test-app.js';

/**
 * What @Idempotent stores is what was SENT (express): after every interceptor and exception
 * filter, with its final status; what cannot be replayed as sent is not stored. Also: applied
 * twice, it runs once; users without an id never share a key space.
 */

/** How many times the handlers ran, per test. */
const seen = { runs: 0 };

/** `x-user-id` → `request.user = { userId }` (NestJS's JWT docs' shape); `x-user-nameless` → a user with no id. */
@Injectable()
class JwtLikeGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string>; user?: Record<string, unknown> }>();
    if (req.headers['x-user-id']) req.user = { userId: req.headers['x-user-id'], username: 'someone' };
    if (req.headers['x-user-nameless']) req.user = { username: req.headers['x-user-nameless'] };
    return true;
  }
}

class Account {
  id!: number;
  name!: string;
  @Exclude() password!: string;
  constructor(fields: Account) {
    Object.assign(this, fields);
  }
}

/** Renders HttpExceptions its own way (another shape, another content type, the exception's class name). */
@Catch(HttpException)
class HouseStyleFilter implements ExceptionFilter {
  catch(exception: HttpException, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<{ status(code: number): { type(t: string): { send(body: string): void } } }>();
    const status = exception.getStatus();
    res.status(status).type('application/vnd.house+json').send(JSON.stringify({ house: exception.constructor.name, status, detail: exception.getResponse() }));
  }
}

interface RawResponse {
  status(code: number): RawResponse;
  json(body: unknown): void;
}

@Controller('capture')
@UseGuards(JwtLikeGuard)
class CaptureController {
  @Post('account')
  @Idempotent()
  account() {
    seen.runs += 1;
    return new Account({ id: seen.runs, name: 'ada', password: 'hunter2' });
  }

  @Post('refused')
  @Idempotent()
  refused() {
    seen.runs += 1;
    throw new BadRequestException({ reason: 'no such crew', run: seen.runs });
  }

  @Post('cyclic')
  @Idempotent({ concurrent: 'reject' })
  cyclic() {
    seen.runs += 1;
    const body: Record<string, unknown> = { run: seen.runs };
    body.self = body;
    throw new BadRequestException(body);
  }

  @Post('unavailable')
  @Idempotent()
  unavailable(@Res({ passthrough: true }) res: RawResponse) {
    seen.runs += 1;
    res.status(503);
    return { run: seen.runs, retry: 'later' };
  }

  @Post('web-response')
  @Idempotent()
  webResponse() {
    seen.runs += 1;
    return new Response(JSON.stringify({ run: seen.runs }), { status: 201, headers: { 'content-type': 'application/json' } });
  }

  @Post('generator')
  @Idempotent()
  generator() {
    seen.runs += 1;
    const run = seen.runs;
    return (async function* chunks() {
      yield `chunk ${run}`;
    })();
  }

  @Post('raw')
  @Idempotent()
  raw(@Res() res: RawResponse): void {
    seen.runs += 1;
    res.status(201).json({ run: seen.runs, raw: true });
  }

  @Post('whoami')
  @Idempotent()
  whoami(@Req() req: { user?: unknown }) {
    seen.runs += 1;
    return { run: seen.runs, user: req.user ?? null };
  }

  @Post('unparsed')
  @Idempotent()
  unparsed(@Req() req: { body?: unknown }) {
    seen.runs += 1;
    return { run: seen.runs, parsed: req.body !== undefined };
  }
}

/** @Idempotent on the class AND on a method: the interceptor is applied twice to `method`. */
@Idempotent({ scope: 'tenant' })
@Controller('twice')
class TwiceController {
  @Post('method')
  @Idempotent({ concurrent: 'reject' })
  method() {
    seen.runs += 1;
    return { run: seen.runs };
  }

  @Post('class')
  classOnly() {
    seen.runs += 1;
    return { run: seen.runs };
  }
}

@Controller('global')
class GlobalController {
  @Post('marked')
  @Idempotent({ concurrent: 'reject' })
  marked() {
    seen.runs += 1;
    return { run: seen.runs };
  }

  @Post('unmarked')
  unmarked() {
    seen.runs += 1;
    return { run: seen.runs };
  }
}

type Http = ReturnType<typeof request>;
const httpOf = (app: IdempotencyTestApp): Http =>
  request((app.booted as unknown as { app: { getHttpServer(): Parameters<typeof request>[0] } }).app.getHttpServer());

describe.each(DRIVERS.filter((d) => d.name !== 'cluster'))('@Idempotent stores what was sent ($name)', (driver) => {
  let app: IdempotencyTestApp;
  let http: Http;
  beforeAll(async () => {
    app = await idempotencyApp(driver, {}, {
      http: true,
      controllers: [CaptureController, TwiceController],
      providers: [
        JwtLikeGuard,
        { provide: APP_INTERCEPTOR, useClass: ClassSerializerInterceptor },
        { provide: APP_FILTER, useClass: HouseStyleFilter },
      ],
    });
    http = httpOf(app);
  });
  afterAll(() => app.close());
  beforeEach(() => {
    seen.runs = 0;
  });
  let keys = 0;
  const newKey = () => `capture-${driver.name}-${++keys}-${Date.now()}`;

  it('replays the bytes an outer ClassSerializerInterceptor sent: an @Exclude()d field is never stored nor replayed', async () => {
    const key = newKey();
    const first = await http.post('/capture/account').set('Idempotency-Key', key).expect(201);
    expect(first.body).toEqual({ id: 1, name: 'ada' });
    const again = await http.post('/capture/account').set('Idempotency-Key', key).expect(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.text).toBe(first.text);
    expect(again.text).not.toContain('hunter2');
    expect(again.headers['content-type']).toBe(first.headers['content-type']);
    expect(seen.runs).toBe(1);
    if (app.core.connection) {
      const record = await app.core.connection.client.hgetall(app.recordKey(key, undefined, 'u:'));
      expect(Object.keys(record).length).toBeGreaterThan(0);
      expect(JSON.stringify(record)).not.toContain('hunter2');
    }
  });

  it("replays a stored 4xx byte for byte as the app's exception filter rendered it", async () => {
    const key = newKey();
    const first = await http.post('/capture/refused').set('Idempotency-Key', key).expect(400);
    expect(first.headers['content-type']).toMatch(/^application\/vnd\.house\+json/);
    expect(JSON.parse(first.text)).toMatchObject({ house: 'BadRequestException', detail: { run: 1 } });
    const again = await http.post('/capture/refused').set('Idempotency-Key', key).expect(400);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.text).toBe(first.text);
    expect(again.headers['content-type']).toBe(first.headers['content-type']);
    expect(seen.runs).toBe(1);
  });

  it('an exception filter that crashes rendering a 4xx (here: its body is cyclic, JSON cannot encode it) frees the key: the retry is not a 409, and no renewal timer is left', async () => {
    const key = newKey();
    await expectNoTimersLeftBy(async () => {
      const first = await http.post('/capture/cyclic').set('Idempotency-Key', key);
      expect(first.status).toBeGreaterThanOrEqual(400);
    }, 2_000);
    const again = await http.post('/capture/cyclic').set('Idempotency-Key', key);
    expect(again.status).not.toBe(409);
    expect(seen.runs).toBe(2);
  });

  it('a 503 set on the response (the handler returned normally) is not stored: the retry runs again', async () => {
    const key = newKey();
    await http.post('/capture/unavailable').set('Idempotency-Key', key).expect(503);
    const again = await http.post('/capture/unavailable').set('Idempotency-Key', key).expect(503);
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(again.body).toEqual({ run: 2, retry: 'later' });
  });

  it('a web Response or an async generator is streamed, not stored: each retry runs again', async () => {
    const webKey = newKey();
    const web = await http.post('/capture/web-response').set('Idempotency-Key', webKey).expect(201);
    expect(JSON.parse(web.text)).toEqual({ run: 1 });
    const webAgain = await http.post('/capture/web-response').set('Idempotency-Key', webKey).expect(201);
    expect(JSON.parse(webAgain.text)).toEqual({ run: 2 });
    const genKey = newKey();
    const gen = await http.post('/capture/generator').set('Idempotency-Key', genKey).buffer(true).parse(textParser as never).expect(201);
    expect(gen.body).toBe('chunk 3');
    const genAgain = await http.post('/capture/generator').set('Idempotency-Key', genKey).buffer(true).parse(textParser as never).expect(201);
    expect(genAgain.body).toBe('chunk 4');
    expect(seen.runs).toBe(4);
  });

  it('a route that answers through @Res() gets its replay written (not left hanging), byte for byte', async () => {
    const key = newKey();
    const first = await http.post('/capture/raw').set('Idempotency-Key', key).expect(201);
    const again = await http.post('/capture/raw').set('Idempotency-Key', key).timeout(5_000).expect(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.text).toBe(first.text);
    expect(seen.runs).toBe(1);
  });

  it('@Idempotent on the class and the method runs the handler once (method options win); the class alone applies too', async () => {
    const key = newKey();
    const first = await http.post('/twice/method').set('Idempotency-Key', key).expect(201);
    expect(first.body).toEqual({ run: 1 });
    const again = await http.post('/twice/method').set('Idempotency-Key', key).expect(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    const classKey = newKey();
    await http.post('/twice/class').set('Idempotency-Key', classKey).expect(201);
    const classAgain = await http.post('/twice/class').set('Idempotency-Key', classKey).expect(201);
    expect(classAgain.headers['idempotent-replayed']).toBe('true');
    expect(seen.runs).toBe(2);
  });

  it("per-user keys read request.user.userId; a user without an id is refused (500) rather than sharing another user's responses", async () => {
    const key = newKey();
    const alice = await http.post('/capture/whoami').set('Idempotency-Key', key).set('x-user-id', 'alice').expect(201);
    const bob = await http.post('/capture/whoami').set('Idempotency-Key', key).set('x-user-id', 'bob').expect(201);
    expect(bob.headers['idempotent-replayed']).toBeUndefined();
    expect(bob.body).toMatchObject({ run: 2, user: { userId: 'bob' } });
    expect(alice.body).toMatchObject({ run: 1, user: { userId: 'alice' } });
    const nameless = await http.post('/capture/whoami').set('Idempotency-Key', key).set('x-user-nameless', 'carol');
    expect(nameless.status).toBe(500);
    expect(seen.runs).toBe(2);
  });

  it('an unparsed body is fingerprinted by its content type and length: another body under the key is a 422', async () => {
    const key = newKey();
    const first = await http.post('/capture/unparsed').set('Idempotency-Key', key).set('Content-Type', 'application/x-custom').send('aaa').expect(201);
    expect(first.body).toEqual({ run: 1, parsed: false });
    await http.post('/capture/unparsed').set('Idempotency-Key', key).set('Content-Type', 'application/x-custom').send('aaaa').expect(422);
    await http.post('/capture/unparsed').set('Idempotency-Key', key).set('Content-Type', 'application/x-other').send('aaa').expect(422);
    const same = await http.post('/capture/unparsed').set('Idempotency-Key', key).set('Content-Type', 'application/x-custom').send('bbb').expect(201);
    expect(same.text).toBe(first.text);
    expect(seen.runs).toBe(1);
  });
});

describe('IdempotencyInterceptor registered globally (the first APP_INTERCEPTOR) and @Idempotent on the route', () => {
  let app: IdempotencyTestApp;
  let http: Http;
  beforeAll(async () => {
    app = await idempotencyApp(DRIVERS[0], {}, {
      http: true,
      controllers: [GlobalController],
      providers: [{ provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor }, { provide: APP_INTERCEPTOR, useClass: ClassSerializerInterceptor }],
    });
    http = httpOf(app);
  });
  afterAll(() => app.close());
  beforeEach(() => {
    seen.runs = 0;
  });

  it('runs the handler once (no 409 against its own claim) and replays; routes without @Idempotent are left alone', async () => {
    const first = await http.post('/global/marked').set('Idempotency-Key', 'global-1').expect(201);
    expect(first.body).toEqual({ run: 1 });
    const again = await http.post('/global/marked').set('Idempotency-Key', 'global-1').expect(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.text).toBe(first.text);
    await http.post('/global/unmarked').set('Idempotency-Key', 'global-2').expect(201);
    const unmarked = await http.post('/global/unmarked').set('Idempotency-Key', 'global-2').expect(201);
    expect(unmarked.body).toEqual({ run: 3 });
    expect(unmarked.headers['idempotent-replayed']).toBeUndefined();
  });
});

function textParser(res: NodeJS.ReadableStream & { setEncoding(e: string): void }, done: (err: Error | null, body: string) => void): void {
  let text = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => (text += chunk));
  res.on('end', () => done(null, text));
}

