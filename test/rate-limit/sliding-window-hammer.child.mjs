// Child process of rate-limit-accuracy.e2e-spec.ts: one Nest instance hammering one key
// under an exact sliding window, reporting the Redis server time of every admission.
// argv: redisUrl prefix key limit windowMs durationMs concurrency
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
import { CoordinationModule } from '@nest-coordination/core';
// Internals (not in the public API) from the build the parent made.
import { RATE_LIMIT_STORE } from '../../libs/coordination/dist/rate-limit/rate-limit-store.interface.js';
import { normalizePolicy } from '../../libs/coordination/dist/rate-limit/rate-limit-policy.js';

const [url, prefix, key, limit, windowMs, durationMs, concurrency] = process.argv.slice(2);

class Empty {}
Module({})(Empty);

const app = await NestFactory.createApplicationContext(
  {
    module: Empty,
    imports: [CoordinationModule.forRoot({ connection: { url }, prefix, health: { pingIntervalMs: 0 } })],
  },
  { logger: false },
);
const store = app.get(RATE_LIMIT_STORE);
const policy = normalizePolicy({ limit: Number(limit), windowMs: Number(windowMs), algorithm: 'sliding-window' });

process.once('message', async () => {
  const admitted = [];
  let attempts = 0;
  const deadline = Date.now() + Number(durationMs);
  // The store's answer carries the server time (us) of each decision.
  const worker = async () => {
    while (Date.now() < deadline) {
      attempts++;
      const answer = await store.check([key], [policy], 1, true);
      if (answer.allowed) admitted.push(answer.nowUs);
    }
  };
  await Promise.all(Array.from({ length: Number(concurrency) }, worker));
  process.send({ admitted, attempts }, async () => {
    await app.close();
    process.exit(0);
  });
});
process.send('ready');
