// One instance of the multi-process @SingletonJob tests (test/leader/singleton-job.multiprocess.spec.ts):
// its own CoordinationModule and ScheduleModule on the shared Redis (standalone, or the cluster when
// `cluster` lists its nodes) under `prefix`, with a `@Cron('* * * * * *') @SingletonJob(job)` provider.
// Plain ESM importing the built library (libs/coordination/dist); the decorators are applied by hand.
// Usage: fork(file, [json options]); messages:
//   -> { type: 'ready', pid }                 bootstrap done: the cron timer runs
//   -> { type: 'holding', pid, scheduledAt, fencingToken }  (hold) this process runs the first tick of
//                                             the fleet, and its handler never returns
// Every run RPUSHes JSON { scheduledAt (ms), fencingToken, pid } to `<keys>:runs` (the test's keys,
// one hash tag), at the start of the handler.
import 'reflect-metadata';
import { Injectable, Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Cron, ScheduleModule } from '@nestjs/schedule';
import { CoordinationModule, SingletonJob } from '@nest-coordination/core';
import { Cluster, Redis } from 'ioredis';
import { childOptions } from '../../support/child-app.mjs';

const options = childOptions();
const redis = options.cluster ? new Cluster(options.cluster) : new Redis(options.redisUrl);
const { keys } = options;

class EverySecond {
  async tick(tick) {
    const scheduledAt = tick.scheduledAt.getTime();
    await redis.rpush(`${keys}:runs`, JSON.stringify({ scheduledAt, fencingToken: tick.fencingToken, pid: process.pid }));
    // hold: the first run of the fleet never returns; its run lease is renewed until this process dies.
    if (options.hold && (await redis.set(`${keys}:holder`, String(process.pid), 'NX')) === 'OK') {
      process.send({ type: 'holding', pid: process.pid, scheduledAt, fencingToken: tick.fencingToken });
      await new Promise(() => undefined);
    }
  }
}

const descriptor = () => Object.getOwnPropertyDescriptor(EverySecond.prototype, 'tick');
const decorate = (decorator) => Object.defineProperty(EverySecond.prototype, 'tick', decorator(EverySecond.prototype, 'tick', descriptor()) ?? descriptor());
decorate(SingletonJob(options.job, options.leaseMs ? { leaseMs: options.leaseMs } : {}));
decorate(Cron('* * * * * *'));
Injectable()(EverySecond);

class JobModule {}
const connection = options.cluster ? { cluster: options.cluster } : { url: options.redisUrl };
Module({
  imports: [
    CoordinationModule.forRoot({ connection, prefix: options.prefix, instanceId: `pid-${process.pid}`, health: { pingIntervalMs: 0 } }),
    ScheduleModule.forRoot(),
  ],
  providers: [EverySecond],
})(JobModule);

Logger.overrideLogger(false);
await NestFactory.createApplicationContext(JobModule, { logger: false });
process.send({ type: 'ready', pid: process.pid });
