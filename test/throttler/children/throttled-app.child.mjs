// Child process of throttler-processes.e2e-spec.ts: one instance of an HTTP app guarded by the
// real @nestjs/throttler ThrottlerGuard (loaded natively: plain Node requires its CommonJS, and
// through it the ESM @nestjs/common) on CoordinationThrottlerStorage from the built
// `@nest-coordination/core/throttler`. Switched from `ThrottlerModule.forRoot(options)` by the one
// line the README shows. Sends its port once listening; exits when the parent goes.
// argv[2]: { redisUrl, prefix, limit, ttl }
import 'reflect-metadata';
import { Controller, Get, Injectable, Module } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import { CoordinationModule } from '@nest-coordination/core';
import { withCoordinationStorage } from '@nest-coordination/core/throttler';

process.on('disconnect', () => process.exit(1));
const { redisUrl, prefix, limit, ttl } = JSON.parse(process.argv[2]);

class PagesController {
  page() {
    return 'page';
  }
}
Controller()(PagesController);
Get('page')(PagesController.prototype, 'page', Object.getOwnPropertyDescriptor(PagesController.prototype, 'page'));

/** Tracks clients by their `x-client` header. */
class ClientThrottlerGuard extends ThrottlerGuard {
  async getTracker(req) {
    return String(req.headers['x-client']);
  }
}
Injectable()(ClientThrottlerGuard);

class AppModule {}
Module({
  imports: [
    // A generous rateLimit.timeoutMs: on a loaded machine a cold process's first scripts may take
    // longer than the default 250 ms, and this test is about the shared count, not the fallback.
    CoordinationModule.forRoot({ connection: { url: redisUrl }, prefix, health: { pingIntervalMs: 0 }, rateLimit: { timeoutMs: 10_000 } }),
    ThrottlerModule.forRootAsync(withCoordinationStorage({ throttlers: [{ ttl, limit }] })),
  ],
  controllers: [PagesController],
  providers: [{ provide: APP_GUARD, useClass: ClientThrottlerGuard }],
})(AppModule);

const app = await NestFactory.create(AppModule, { logger: false });
await app.listen(0, '127.0.0.1');
process.send({ port: app.getHttpServer().address().port });
