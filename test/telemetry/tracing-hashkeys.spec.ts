import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { SpanStatusCode } from '@opentelemetry/api';
import {
  LockAbortedError, LockLostError, LockService, LockTimeoutError, TaskHandler, TaskService, defineTask, type TaskContext,
} from '@nest-coordination/core';
import { createHash } from 'node:crypto';
import { bootModule, type BootedModule } from '../support/boot.js';
import { DRIVERS } from '../support/drivers.js';
import { TestSpans, useAsyncContext } from '../support/otel-traces.js';
import { rejectionOf, until } from '../support/wait.js';

useAsyncContext();

const TENANT = 'acme';
/** A key with personal data in it: with hashKeys, nothing of it may reach a span. */
const SECRET = 'user:ada@example.com';
const PRIVATE = 'example.com';
/** Task names allow no "@": the name and the job id still carry a private part. */
const CASES = DRIVERS.filter((d) => d.name !== 'cluster');
const MAIL = defineTask<{ n: number }, number>('mail.ada-example.com');

const digest = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 16);

@Injectable()
class Mailer {
  @TaskHandler(MAIL)
  run(payload: { n: number }, _task: TaskContext): number {
    return payload.n;
  }
}

describe.each(CASES)('hashKeys: no key in failures or task ids ($name)', (driver) => {
  let otel: TestSpans;
  let booted: BootedModule;

  beforeAll(async () => {
    otel = new TestSpans();
    booted = await bootModule(
      { ...driver.options(), health: { pingIntervalMs: 0 }, telemetry: { tracerProvider: otel.provider, hashKeys: true } },
      { providers: [Mailer] },
    );
  });

  afterAll(async () => {
    await booted?.close();
    await otel?.shutdown();
  });

  beforeEach(() => otel.reset());

  /** Everything the spans ended so far would export, as text. */
  const exported = () => JSON.stringify(otel.all().map((s) => [s.name, s.attributes, s.events, s.status]));

  it('an acquire aborted by its signal: exception and status name the error by code, the key by its digest, no stack', async () => {
    const locks = booted.get(LockService);
    const holder = await locks.acquire(SECRET, { tenant: TENANT });
    try {
      const abort = new AbortController();
      const waiting = locks.acquire(SECRET, { tenant: TENANT, waitMs: 30_000, signal: abort.signal });
      await until(async () => (await locks.inspect(SECRET, { tenant: TENANT })).waiters === 1, { timeoutMs: 10_000, message: 'the second acquire to wait' });
      abort.abort();
      expect(await rejectionOf(waiting)).toBeInstanceOf(LockAbortedError);
    } finally {
      await holder.release();
    }
    const aborted = otel.named('lock.acquire').find((s) => s.status.code === SpanStatusCode.ERROR)!;
    expect(aborted.status).toEqual({ code: SpanStatusCode.ERROR, message: 'E_LOCK_ABORTED' });
    expect(aborted.events.map((e) => [e.name, e.attributes])).toEqual([
      ['exception', { 'exception.type': 'E_LOCK_ABORTED', 'exception.message': `Waiting for lock "${digest(SECRET)}" was aborted by the caller's signal` }],
    ]);
    expect(exported()).not.toContain(PRIVATE);
  });

  it('a release of a lock that expired meanwhile', async () => {
    const locks = booted.get(LockService);
    const lock = await locks.acquire(SECRET, { tenant: TENANT, ttlMs: 200, autoRenew: false });
    await until(() => lock.signal.aborted, { timeoutMs: 10_000, message: 'the lock to expire' });
    expect(await rejectionOf(lock.release())).toBeInstanceOf(LockLostError);
    const release = otel.one('lock.release');
    expect(release.status).toEqual({ code: SpanStatusCode.ERROR, message: 'E_LOCK_LOST' });
    expect(release.events[0].attributes?.['exception.message']).toContain(digest(SECRET));
    expect(release.events[0].attributes?.['exception.stacktrace']).toBeUndefined();
    expect(exported()).not.toContain(PRIVATE);
  });

  it('a withLock whose callback fails on another key: that key is a digest too', async () => {
    const locks = booted.get(LockService);
    const other = 'user:bob@example.com';
    const holder = await locks.acquire(other, { tenant: TENANT });
    try {
      const failure = await rejectionOf(locks.withLock(SECRET, () => locks.acquire(other, { tenant: TENANT, waitMs: 0 }), { tenant: TENANT }));
      expect(failure).toBeInstanceOf(LockTimeoutError);
    } finally {
      await holder.release();
    }
    const section = otel.one('lock.withLock');
    expect(section.status).toEqual({ code: SpanStatusCode.ERROR, message: 'E_LOCK_TIMEOUT' });
    expect(section.events[0].attributes?.['exception.message']).toContain(digest(other));
    expect(exported()).not.toContain(PRIVATE);
  });

  it('coordination.task.id of task.enqueue and task.run is a digest of the task id', async () => {
    const tasks = booted.get(TaskService);
    const task = await tasks.enqueue(MAIL, { n: 1 }, { tenant: TENANT, jobId: 'welcome-ada@example.com' });
    await tasks.waitFor(task.id, { tenant: TENANT, timeoutMs: 10_000 });
    await until(() => otel.named('task.run').length === 1, { timeoutMs: 10_000, message: 'the task.run span' });
    for (const name of ['task.enqueue', 'task.run']) {
      expect(otel.one(name).attributes).toMatchObject({ 'coordination.key': digest(MAIL.name), 'coordination.task.id': digest(task.id) });
    }
    expect(exported()).not.toContain(PRIVATE);
  });
});
