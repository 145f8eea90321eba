import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Controller, Get, Injectable, Module, type INestApplication, type Type } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { Throttle, ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import { Redis } from 'ioredis';
import { CoordinationModule, RateLimit, RateLimitGuard } from '@nest-coordination/core';
import type { BenchCase, BenchContext, BenchGroupOptions, CaseInstance } from '../harness/types.js';
import { MinimalRedisThrottlerStorage } from './minimal-throttler-storage.js';

const HTTP = 'rate-limit: guarded HTTP endpoint (autocannon, 1000 users)';
const USERS = 1000;
// High enough that no user is denied during a run: every guarded case does the same work, one allowed check.
const LIMIT = 100_000;
const WINDOW_MS = 60_000;

const BARE = 'bare endpoint (no guard, no CoordinationModule)';
const TENANCY_ONLY = 'CoordinationModule, no guard (tenancy middleware + interceptor)';
const OURS = 'ours: RateLimitGuard (fixed-window)';
const THROTTLER = '@nestjs/throttler + Redis storage';

/** Every client gets the same settings as ours (auto-pipelining on), so only the limiter differs. */
async function connect(ctx: BenchContext): Promise<Redis> {
  const redis = new Redis(ctx.redisUrl, { lazyConnect: true, enableAutoPipelining: true });
  await redis.connect();
  return redis;
}

/** The one endpoint every case serves; only what guards it differs. */
@Controller()
class BareController {
  @Get('limited')
  limited() {
    return { ok: true };
  }
}

@Controller()
class OursController {
  @RateLimit({ scope: 'user', name: 'user', limit: LIMIT, windowMs: WINDOW_MS, algorithm: 'fixed-window' })
  @Get('limited')
  limited() {
    return { ok: true };
  }
}

@Controller()
class ThrottledController {
  @Throttle({ default: { limit: LIMIT, ttl: WINDOW_MS } })
  @Get('limited')
  limited() {
    return { ok: true };
  }
}

/** Both guards track the user from the same header, so both count 1000 keys. */
@Injectable()
class UserThrottlerGuard extends ThrottlerGuard {
  protected override async getTracker(req: Record<string, any>): Promise<string> {
    return String(req.headers['x-user']);
  }
}

/** What an authentication middleware would do; every case but the throttler's (which reads the header) runs it. */
const userFromHeader = (req: any, _res: unknown, next: () => void) => {
  req.user = { id: req.headers['x-user'] };
  next();
};

/** A Nest app with the given module and `userFromHeader` in front. */
async function nestApp(module: Type, withUser: boolean): Promise<INestApplication> {
  const app = await NestFactory.create(module, { logger: false });
  if (withUser) app.use(userFromHeader);
  return app;
}

/**
 * Runs autocannon (in a child process, so that its CPU is not counted as the app's: "node µs/op"
 * is the app's own cost per request) against `app` for the whole case and hands each response
 * to one op, with autocannon's own latency as the sample: ops/s = responses/s.
 */
async function underAutocannon(app: INestApplication, ctx: BenchContext, close: () => Promise<void>): Promise<CaseInstance> {
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  const ready: number[] = [];
  const waiting: Array<{ resolve(ms: number): void; reject(error: Error): void }> = [];
  let errors = 0;
  // Set when the child fails (it could not start, or it stopped before teardown): ops waiting for
  // a response, and every later op, fail with it instead of waiting forever.
  let failure: Error | undefined;
  let tearingDown = false;
  const fail = (error: Error) => {
    failure ??= error;
    for (const op of waiting.splice(0)) op.reject(failure);
  };
  const child: ChildProcess = fork(fileURLToPath(new URL('./autocannon.child.js', import.meta.url)), [`http://127.0.0.1:${port}/limited`, String(ctx.concurrency), String(USERS)]);
  child.on('message', (batch: { latencies: number[]; errors: number }) => {
    errors += batch.errors;
    for (const ms of batch.latencies) {
      const next = waiting.shift();
      if (next) next.resolve(ms);
      else if (ready.length < 100_000) ready.push(ms);
    }
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      if (!tearingDown) fail(new Error(`the autocannon child exited before the case ended (code ${code}, signal ${signal})`));
      resolve();
    });
    child.on('error', (error) => {
      fail(new Error(`the autocannon child failed: ${error.message}`, { cause: error }));
      // A child that never started emits no 'exit'.
      if (child.pid === undefined) resolve();
    });
  });
  return {
    async op() {
      if (failure) throw failure;
      if (errors > 0) throw new Error(`${errors} non-200 responses`);
      return ready.length > 0 ? ready.shift()! : new Promise<number>((resolve, reject) => waiting.push({ resolve, reject }));
    },
    async teardown() {
      tearingDown = true;
      if (child.connected) child.disconnect();
      await exited;
      waiting.splice(0).forEach((op) => op.resolve(0));
      await close();
    },
  };
}

const coordination = (ctx: BenchContext) =>
  CoordinationModule.forRoot({ connection: { url: ctx.redisUrl }, prefix: 'bench', health: { pingIntervalMs: 0 } });

export const cases: BenchCase[] = [
  {
    name: THROTTLER,
    group: HTTP,
    baseline: true,
    async setup(ctx) {
      const redis = await connect(ctx);
      @Module({
        imports: [ThrottlerModule.forRoot({ throttlers: [{ limit: LIMIT, ttl: WINDOW_MS }], storage: new MinimalRedisThrottlerStorage(redis) })],
        controllers: [ThrottledController],
        providers: [{ provide: APP_GUARD, useClass: UserThrottlerGuard }],
      })
      class ThrottlerApp {}
      const app = await nestApp(ThrottlerApp, false);
      return underAutocannon(app, ctx, async () => {
        await app.close();
        await redis.quit();
      });
    },
  },
  {
    name: BARE,
    group: HTTP,
    baseline: true,
    async setup(ctx) {
      @Module({ controllers: [BareController] })
      class BareApp {}
      const app = await nestApp(BareApp, true);
      return underAutocannon(app, ctx, () => app.close());
    },
  },
  {
    name: TENANCY_ONLY,
    group: HTTP,
    async setup(ctx) {
      @Module({ imports: [coordination(ctx)], controllers: [BareController] })
      class TenancyApp {}
      const app = await nestApp(TenancyApp, true);
      return underAutocannon(app, ctx, () => app.close());
    },
  },
  {
    name: OURS,
    group: HTTP,
    async setup(ctx) {
      @Module({
        imports: [coordination(ctx)],
        controllers: [OursController],
        providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
      })
      class OursApp {}
      const app = await nestApp(OursApp, true);
      return underAutocannon(app, ctx, () => app.close());
    },
  },
];

export const groups: BenchGroupOptions[] = [
  {
    name: HTTP,
    // autocannon shares the cores with the app and Redis: the median of three runs.
    repeat: 3,
    targets: [
      { case: OURS, versus: BARE, atLeast: 0.9 },
      { case: OURS, versus: THROTTLER, atLeast: 1.1 },
    ],
  },
];
