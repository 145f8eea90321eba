// Child process of rate-limit-fleet.multiprocess.e2e-spec.ts: one Nest instance of a fleet on a
// private Redis. Reports 'ready' once it sees the whole fleet alive; on 'go' (Redis is gone by
// then) consumes `attempts` times from one counter and reports what it was told.
// argv: redisUrl prefix fleetSize key limit windowMs attempts
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
import { CoordinationModule, RateLimitService } from '@nest-coordination/core';

const [url, prefix, fleetSize, key, limit, windowMs, attempts] = process.argv.slice(2);

class Empty {}
Module({})(Empty);

const app = await NestFactory.createApplicationContext(
  {
    module: Empty,
    imports: [
      CoordinationModule.forRoot({
        connection: { url, commandTimeoutMs: 1_000, connectTimeoutMs: 5_000 },
        reconnect: { baseDelayMs: 50, maxDelayMs: 200 },
        prefix,
        health: { pingIntervalMs: 0 },
        // Live for 3 heartbeats (3 s): a child stalled by a loaded machine does not drop out.
        rateLimit: { heartbeatIntervalMs: 1_000 },
      }),
    ],
  },
  { logger: false },
);
const rateLimits = app.get(RateLimitService);
// An instance joins the fleet at its first check.
await rateLimits.consume('warm-up', { limit: 1_000, windowMs: Number(windowMs) });

process.once('message', async () => {
  const answers = [];
  for (let i = 0; i < Number(attempts); i++) {
    const r = await rateLimits.consume(key, { name: 'fleet', limit: Number(limit), windowMs: Number(windowMs) });
    answers.push({ allowed: r.allowed, source: r.source });
  }
  process.send({ answers, liveInstances: rateLimits.liveInstances }, async () => {
    await app.close();
    process.exit(0);
  });
});

// Ready once this instance has seen the whole fleet (each heartbeat counts the instances alive).
const poll = setInterval(() => {
  if (rateLimits.liveInstances >= Number(fleetSize)) {
    clearInterval(poll);
    process.send('ready');
  }
}, 20);
