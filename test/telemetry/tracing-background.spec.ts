import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import {
  IdempotencyService, LeaderService, StreamService, TaskHandler, TaskService, defineTask, type TaskContext,
} from '@nest-coordination/core';
import { bootModule, type BootedModule } from '../support/boot.js';
import { DRIVERS } from '../support/drivers.js';
import { TestSpans, isChildOf, useAsyncContext } from '../support/otel-traces.js';
import { rejectionOf, until } from '../support/wait.js';

useAsyncContext();

const TENANT = 'acme';
const CASES = DRIVERS.filter((d) => d.name !== 'cluster');
const STEP = defineTask<{ n: number }, number>('trace.step');

/** The test provider's tracer: a span made inside the library's callbacks, to see where it nests. */
let userSpan: (name: string) => void = () => undefined;

@Injectable()
class Steps {
  @TaskHandler(STEP)
  run(payload: { n: number }, _task: TaskContext): number {
    userSpan(`user.step ${payload.n}`);
    if (payload.n < 0) throw new Error(`step ${payload.n} failed`);
    return payload.n;
  }
}

describe.each(CASES)('spans of the background capabilities ($name)', (driver) => {
  let otel: TestSpans;
  let booted: BootedModule;

  beforeAll(async () => {
    otel = new TestSpans();
    userSpan = (name) => otel.provider.getTracer('user').startSpan(name).end();
    booted = await bootModule({ ...driver.options(), health: { pingIntervalMs: 0 }, telemetry: { tracerProvider: otel.provider } }, { providers: [Steps] });
  });

  afterAll(async () => {
    await booted?.close();
    await otel?.shutdown();
  });

  beforeEach(() => otel.reset());

  describe('tasks', () => {
    it('task.enqueue is a PRODUCER span under the caller; task.run a CONSUMER span parented on it, across the queue', async () => {
      const tasks = booted.get(TaskService);
      const task = await otel.inSpan('POST /steps', () => tasks.enqueue(STEP, { n: 1 }, { tenant: TENANT }));
      await tasks.waitFor(task.id, { tenant: TENANT, timeoutMs: 10_000 });
      await until(() => otel.named('task.run').length === 1, { timeoutMs: 10_000, message: 'the task.run span' });
      const enqueue = otel.one('task.enqueue', { 'coordination.key': 'trace.step', 'coordination.tenant': TENANT });
      expect(enqueue.kind).toBe(SpanKind.PRODUCER);
      expect(enqueue.attributes['coordination.task.id']).toBe(task.id);
      expect(isChildOf(enqueue, otel.one('POST /steps'))).toBe(true);
      const run = otel.one('task.run', { 'coordination.key': 'trace.step', 'coordination.tenant': TENANT, 'coordination.task.id': task.id });
      expect(run.kind).toBe(SpanKind.CONSUMER);
      expect(run.attributes['coordination.task.attempt']).toBe(1);
      expect(run.status.code).toBe(SpanStatusCode.UNSET);
      expect(isChildOf(run, enqueue)).toBe(true);
      expect(isChildOf(otel.one('user.step 1'), run)).toBe(true);
    });

    it('a handler that throws makes task.run an error', async () => {
      const tasks = booted.get(TaskService);
      const task = await tasks.enqueue(STEP, { n: -1 }, { tenant: TENANT, attempts: 1 });
      expect((await tasks.waitFor(task.id, { tenant: TENANT, timeoutMs: 10_000 })).state).toBe('failed');
      await until(() => otel.named('task.run').length === 1, { timeoutMs: 10_000, message: 'the task.run span' });
      const run = otel.one('task.run', { 'coordination.task.id': task.id });
      expect(run.status).toEqual({ code: SpanStatusCode.ERROR, message: 'step -1 failed' });
      expect(run.parentSpanContext).toBeDefined(); // the enqueue's, though the enqueue had no parent
    });
  });

  describe('streams', () => {
    it('stream.append names the entry; each handled entry is a stream.consume CONSUMER span of its own trace', async () => {
      const streams = booted.get(StreamService);
      const handled: string[] = [];
      const subscription = await otel.inSpan('boot', () => streams.consume<{ n: number }>('orders', 'billing', async (entry) => {
        userSpan(`user.handle ${entry.payload.n}`);
        if (entry.payload.n < 0) throw new Error('cannot bill');
        handled.push(entry.id);
      }, { tenant: TENANT, maxDeliveries: 1 }));
      try {
        const id = await streams.append('orders', { n: 1 }, { tenant: TENANT });
        await streams.append('orders', { n: -1 }, { tenant: TENANT });
        await until(() => otel.named('stream.consume').length === 2, { timeoutMs: 10_000, message: 'two stream.consume spans' });
        expect(handled).toEqual([id]);
        expect(otel.named('stream.append', { 'coordination.key': 'orders', 'coordination.tenant': TENANT }).map((s) => s.kind)).toEqual([SpanKind.PRODUCER, SpanKind.PRODUCER]);
        expect(otel.one('stream.append', { 'coordination.stream.entry_id': id })).toBeDefined();
        const consumed = otel.one('stream.consume', { 'coordination.key': 'orders', 'coordination.stream.group': 'billing', 'coordination.stream.entry_id': id });
        expect(consumed.kind).toBe(SpanKind.CONSUMER);
        expect(consumed.attributes['coordination.tenant']).toBe(TENANT);
        expect(consumed.parentSpanContext).toBeUndefined(); // not the span active where consume() was called
        expect(isChildOf(otel.one('user.handle 1'), consumed)).toBe(true);
        const failed = otel.named('stream.consume').find((s) => s !== consumed)!;
        expect(failed.status).toEqual({ code: SpanStatusCode.ERROR, message: 'cannot bill' });
      } finally {
        await subscription.stop();
      }
    });
  });

  describe('idempotency', () => {
    it('idempotency.run holds the work; its idempotency.begin child says whether the value was replayed', async () => {
      const idempotency = booted.get(IdempotencyService);
      const charge = async () => {
        userSpan('user.charge');
        return 42;
      };
      expect(await idempotency.run('pay-1', charge, { tenant: TENANT })).toBe(42);
      expect(await idempotency.run('pay-1', charge, { tenant: TENANT })).toBe(42);
      const runs = otel.named('idempotency.run', { 'coordination.key': 'pay-1', 'coordination.tenant': TENANT });
      const begins = otel.named('idempotency.begin', { 'coordination.key': 'pay-1' });
      expect(runs).toHaveLength(2);
      expect(begins.map((s) => s.attributes['coordination.idempotency.replayed'])).toEqual([false, true]);
      expect(isChildOf(begins[0], runs[0])).toBe(true);
      expect(isChildOf(begins[1], runs[1])).toBe(true);
      expect(isChildOf(otel.one('user.charge'), runs[0])).toBe(true);
    });

    it('idempotency.begin on its own; work that throws makes idempotency.run an error', async () => {
      const idempotency = booted.get(IdempotencyService);
      const claim = await idempotency.begin<number>('pay-2', { tenant: TENANT });
      if (claim.replay) throw new Error('a fresh key was replayed');
      await claim.complete(1);
      expect(otel.one('idempotency.begin', { 'coordination.key': 'pay-2' }).attributes['coordination.idempotency.replayed']).toBe(false);
      const failure = new Error('card declined');
      expect(await rejectionOf(idempotency.run('pay-3', async () => { throw failure; }, { tenant: TENANT }))).toBe(failure);
      expect(otel.one('idempotency.run', { 'coordination.key': 'pay-3' }).status).toEqual({ code: SpanStatusCode.ERROR, message: 'card declined' });
    });
  });

  describe('leader election', () => {
    it('each election attempt is a leader.campaign span of its own trace, saying whether it won', async () => {
      const campaign = await otel.inSpan('boot', async () => booted.get(LeaderService).campaign('billing', { tenant: TENANT }));
      try {
        const term = await campaign.elected();
        await until(() => otel.named('leader.campaign', { 'coordination.leader.elected': true }).length === 1, { timeoutMs: 10_000, message: 'a won leader.campaign span' });
        const won = otel.one('leader.campaign', { 'coordination.leader.elected': true });
        expect(won.attributes).toMatchObject({ 'coordination.key': 'billing', 'coordination.tenant': TENANT, 'coordination.leader.fencing_token': term.fencingToken });
        expect(won.parentSpanContext).toBeUndefined();
      } finally {
        await campaign.resign();
      }
    });
  });
});
