// One application process of test/idempotency/idempotency.multiprocess.spec.ts: a Nest HTTP app
// (express, on a free port) with its own CoordinationModule on the shared Redis (standalone, or the
// cluster when `cluster` lists its nodes) under `prefix`, and one `@Idempotent()` route:
//   POST /runs   INCR <keys>:runs (how often a handler ran, fleet-wide), hold `holdMs`, then answer
//                201 with { run, pid, body } (run: the INCR's value, pid: this process)
// Plain ESM importing the built library (libs/coordination/dist); decorators are applied by hand.
// Messages: -> { type: 'ready', port }
import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import { Body, Controller, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CoordinationModule, Idempotent } from '@nest-coordination/core';
import { Cluster, Redis } from 'ioredis';
import { childOptions } from '../../support/child-app.mjs';

const options = childOptions();
const redis = options.cluster ? new Cluster(options.cluster) : new Redis(options.redisUrl);

class RunsController {
  async start(body) {
    const run = await redis.incr(`${options.keys}:runs`);
    await sleep(options.holdMs);
    return { run, pid: process.pid, body };
  }
}

// @Body() on the first parameter, @Post() and @Idempotent() on the method, @Controller('runs') on the class.
Body()(RunsController.prototype, 'start', 0);
const descriptor = Object.getOwnPropertyDescriptor(RunsController.prototype, 'start');
Post()(RunsController.prototype, 'start', descriptor);
Idempotent()(RunsController.prototype, 'start', descriptor);
Controller('runs')(RunsController);

class AppModule {}
const connection = options.cluster ? { cluster: options.cluster } : { url: options.redisUrl };
Module({
  imports: [CoordinationModule.forRoot({ connection, prefix: options.prefix, health: { pingIntervalMs: 0 } })],
  controllers: [RunsController],
})(AppModule);

const app = await NestFactory.create(AppModule, { logger: false });
await app.listen(0, '127.0.0.1');
process.on('disconnect', () => process.exit(1));
process.send({ type: 'ready', port: app.getHttpServer().address().port });
