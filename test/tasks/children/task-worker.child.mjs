// One worker process of the multi-process task tests (test/tasks/*.multiprocess.spec.ts): its own
// CoordinationModule on the shared Redis (standalone, or the cluster when `cluster` lists its
// nodes) with a `@TaskHandler(task, { concurrency })` provider, under `prefix`, with the `tasks`
// options given. Plain ESM importing the built library (libs/coordination/dist); the decorators
// are applied by hand. Usage: fork(file, [json options]); messages:
//   -> { type: 'ready' }            bootstrap done: the worker takes tasks
//   -> { type: 'started', key, worker }  (blockJob) this process is the first in the fleet to start
//                                   task `blockJob`: its handler never returns
// Every handler call writes to Redis under the test's keys (`keys` prefix, one hash tag), keyed
// by `<tenant>/<jobId>`:
//   <keys>:starts    HINCRBY at the start of every attempt
//   <keys>:runs      HINCRBY once the handler did its work, right before it returns (a completion)
//   <keys>:workers   HINCRBY per worker name at each completion
//   <keys>:tenants   RPUSH the key when the task's context names another tenant than its payload
//   <keys>:blocked   SET NX to the name of the worker that holds task `blockJob` forever
import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CoordinationModule, TaskHandler } from '@nest-coordination/core';
import { Cluster, Redis } from 'ioredis';
import { childOptions } from '../../support/child-app.mjs';

const options = childOptions();
const redis = options.cluster ? new Cluster(options.cluster) : new Redis(options.redisUrl);
const { keys, worker } = options;

class TaskWorker {
  async run(payload, task) {
    const key = `${task.tenant}/${task.jobId}`;
    await redis.hincrby(`${keys}:starts`, key, 1);
    if (payload.tenant !== task.tenant) await redis.rpush(`${keys}:tenants`, key);
    // The first start of blockJob in the whole fleet blocks, whichever process takes it; a later one (the retry) runs.
    if (task.jobId === options.blockJob && (await redis.set(`${keys}:blocked`, worker, 'NX')) === 'OK') {
      process.send({ type: 'started', key, worker });
      // Never returns: the task stays active, its lock renewed, until this process is killed.
      await new Promise(() => undefined);
    }
    if (options.holdMs) await sleep(options.holdMs);
    await redis.hincrby(`${keys}:runs`, key, 1);
    await redis.hincrby(`${keys}:workers`, worker, 1);
    return { worker };
  }
}

TaskHandler(options.task, { concurrency: options.concurrency })(TaskWorker.prototype, 'run', Object.getOwnPropertyDescriptor(TaskWorker.prototype, 'run'));
Injectable()(TaskWorker);

class TaskWorkerModule {}
const connection = options.cluster ? { cluster: options.cluster } : { url: options.redisUrl };
Module({
  imports: [CoordinationModule.forRoot({ connection, prefix: options.prefix, health: { pingIntervalMs: 0 }, tasks: options.tasks })],
  providers: [TaskWorker],
})(TaskWorkerModule);

await NestFactory.createApplicationContext(TaskWorkerModule, { logger: false });
process.send({ type: 'ready' });
