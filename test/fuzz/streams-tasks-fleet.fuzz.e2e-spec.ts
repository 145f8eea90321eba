import fc from 'fast-check';
import { Injectable } from '@nestjs/common';
import {
  CoordinationCore, IdempotencyService, LeaderService, StreamService, TaskHandler, TaskService, TenantResolver, UnrecoverableTaskError, defineStream, defineTask,
  type IdempotencyClaim, type LeaderCampaign, type StreamSubscription, type TaskInfo,
} from '@nest-coordination/core';
import type { BootedModule } from '../support/boot.js';
import { DRIVERS } from '../support/drivers.js';
import { IdPool, arrayArg, callbackArg, flagged, isCallbackFailure, signalArg, tenantOnly, ttlMs } from './fuzz-args.js';
import { fuzzSuite, type FuzzMethod } from './fuzz-runner.js';
import { anyValue, hostilePayload, hostileString, idArg, notAString, optionsArg, plainId, tenantOption, validTenant } from './fuzz-support.js';

/**
 * Property fuzzing of StreamService, TaskService, IdempotencyService, LeaderService (and its
 * campaigns), the tenant context and resolver, and the definition helpers: every public method.
 * See fuzz-runner.ts for the properties.
 */
const streams = (b: BootedModule) => b.get(StreamService);
const tasks = (b: BootedModule) => b.get(TaskService);
const idempotency = (b: BootedModule) => b.get(IdempotencyService);
const leaders = (b: BootedModule) => b.get(LeaderService);

/**
 * The id a task argument stands for. The examples ask for a task in a given state, made now:
 * `{ delayed: tenant }` (cancellable), `{ failed: tenant }` (retryable), `{ done: tenant }` (finished).
 */
async function taskIdOf(b: BootedModule, value: unknown): Promise<string> {
  const wanted = value as { delayed?: string; failed?: string; done?: string } | null;
  if (typeof wanted?.delayed === 'string') return (await tasks(b).enqueue('fuzz.done', 1, { tenant: wanted.delayed, delayMs: 60_000 })).id;
  const tenant = wanted?.failed ?? wanted?.done;
  if (typeof tenant !== 'string') return taskPool.idOf(value);
  const task = await tasks(b).enqueue(wanted?.failed ? 'fuzz.fail' : 'fuzz.done', 1, { tenant });
  await tasks(b).waitFor(task.id, { tenant, timeoutMs: 10_000 });
  return task.id;
}

/** Task names the handlers of FuzzTaskHandlers run. */
const FUZZ_TASKS = ['fuzz.done', 'fuzz.fail'];

const streamName = fc.oneof(fc.stringMatching(/^[a-z][a-z0-9.-]{0,10}$/) as fc.Arbitrary<unknown>, idArg);
/** A stream: a name, a definition (with a maxLen), or something else. */
const streamRef: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: streamName },
  { weight: 1, arbitrary: optionsArg({ name: streamName, maxLen: fc.integer({ min: 0, max: 100 }) }, ['name']) },
);
const entryId = fc.oneof(fc.constantFrom('0', '0-0', '-', '+', '$', '>', '1-1', '99999999999999-0', '1-18446744073709551616'), hostileString, notAString);
const groupName = fc.oneof(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/) as fc.Arbitrary<unknown>, idArg);

const taskNameArg = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...FUZZ_TASKS) as fc.Arbitrary<unknown> }, { weight: 2, arbitrary: fc.stringMatching(/^[a-z][a-z0-9._-]{0,10}$/) }, { weight: 2, arbitrary: idArg });
const taskRef: fc.Arbitrary<unknown> = fc.oneof({ weight: 3, arbitrary: taskNameArg }, { weight: 1, arbitrary: optionsArg({ name: taskNameArg }, ['name']) });
const taskShape = {
  priority: fc.integer({ min: 0, max: 10 }), delayMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 60_000 })), attempts: fc.integer({ min: 1, max: 3 }),
  backoff: optionsArg({ type: fc.constantFrom('fixed', 'exponential'), delayMs: fc.integer({ min: 0, max: 1_000 }) }, ['type', 'delayMs']),
  jobId: fc.oneof(fc.stringMatching(/^[a-z0-9-]{1,12}$/) as fc.Arbitrary<unknown>, idArg),
};

/** Tasks successful enqueues returned, so later calls find real ones. */
const taskPool = new IdPool(
  fc.oneof(fc.tuple(fc.stringMatching(/^[a-z][a-z0-9.-]{0,8}$/), plainId).map(([name, job]) => `${name}:${job}`) as fc.Arbitrary<unknown>, idArg),
  'none:none',
);
const remember = (info: TaskInfo) => {
  taskPool.add(info.id, info.tenant);
  return info;
};

/** Tasks the handler below runs: `fuzz.done` completes with its payload, `fuzz.fail` fails for good (then retry has work). */
@Injectable()
class FuzzTaskHandlers {
  @TaskHandler('fuzz.done')
  done(payload: unknown): unknown {
    return payload;
  }

  @TaskHandler('fuzz.fail')
  fail(): never {
    throw new UnrecoverableTaskError('fails on purpose');
  }
}

const roleName = fc.oneof(fc.stringMatching(/^[a-z][a-z0-9.-]{0,10}$/) as fc.Arbitrary<unknown>, idArg);
const roleOptions = optionsArg({ tenant: tenantOption, fleet: fc.boolean() });
const campaignOptions = optionsArg({ tenant: tenantOption, fleet: fc.boolean(), leaseMs: fc.integer({ min: 1_000, max: 60_000 }) });
const leaderShared = (args: unknown[]) => (flagged(args, 'fleet') ? ['leader'] : []);

const idempotencyOptions = optionsArg({
  tenant: tenantOption, ttlMs, fingerprint: hostilePayload, concurrent: fc.constantFrom('wait', 'reject'), waitMs: fc.integer({ min: 0, max: 20 }),
  namespace: fc.oneof(fc.stringMatching(/^[a-z]{1,8}$/) as fc.Arbitrary<unknown>, idArg),
});
const idempotencyKey = fc.oneof(fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/) as fc.Arbitrary<unknown>, idArg);

/** Gives back a claim a successful begin returned: completes it with a payload, or abandons it. */
async function settleClaim(claim: IdempotencyClaim<unknown>, value: unknown, abandon: boolean): Promise<unknown> {
  if (claim.replay) return claim.value;
  if (abandon) return claim.abandon();
  return claim.complete(value);
}

/** Ends what `campaign` started, whatever happened meanwhile. */
async function resign(campaign: unknown): Promise<void> {
  if (typeof (campaign as LeaderCampaign | undefined)?.resign === 'function') await (campaign as LeaderCampaign).resign();
}

/** A request to resolve a tenant from: hostile header values, users, shapes. */
const request: fc.Arbitrary<unknown> = fc.oneof(
  fc.record({ headers: fc.record({ 'x-tenant-id': fc.oneof(validTenant as fc.Arbitrary<unknown>, hostileString, fc.array(hostileString, { maxLength: 2 }), notAString) }, { requiredKeys: [] }) }),
  fc.record({ headers: fc.oneof(fc.constant({}), anyValue), user: anyValue }),
  anyValue,
);

const METHODS: FuzzMethod[] = [
  { example: ['crew-events', { maxLen: 10 }], name: 'defineStream', args: fc.tuple(streamName, fc.oneof(optionsArg({ maxLen: fc.integer({ min: 0, max: 100 }) }), fc.constant(undefined))), call: (_, [n, o]) => defineStream(n as string, o as never) },
  { example: ['email.send'], name: 'defineTask', args: fc.tuple(taskNameArg), call: (_, [n]) => defineTask(n as string) },

  { example: ['ex', { a: 1 }, { tenant: 'acme' }], name: 'streams.append', args: fc.tuple(streamRef, hostilePayload, optionsArg({ tenant: tenantOption, maxLen: fc.integer({ min: 0, max: 100 }) })), call: (b, [s, e, o]) => streams(b).append(s as string, e, o as never) },
  {
    example: ['ex', { tenant: 'acme' }], name: 'streams.read', args: fc.tuple(streamRef, optionsArg({ tenant: tenantOption, from: entryId, after: entryId, count: fc.integer({ min: 1, max: 50 }) })),
    call: (b, [s, o]) => streams(b).read(s as string, o as never),
  },
  { example: ['ex', { tenant: 'acme' }], name: 'streams.length', args: fc.tuple(streamRef, tenantOnly), call: (b, [s, o]) => streams(b).length(s as string, o as never) },
  {
    example: ['ex', 'g', () => undefined, { tenant: 'acme' }], name: 'streams.consume', runs: 25,
    args: fc.tuple(streamRef, groupName, fc.oneof(fc.constant(() => undefined) as fc.Arbitrary<unknown>, anyValue), optionsArg({
      tenant: tenantOption, concurrency: fc.integer({ min: 1, max: 4 }), batch: fc.integer({ min: 1, max: 10 }), blockMs: fc.integer({ min: 10, max: 100 }),
      maxDeliveries: fc.integer({ min: 1, max: 5 }), claimIdleMs: fc.integer({ min: 1_000, max: 60_000 }), startFrom: fc.constantFrom('earliest', 'latest'), consumer: groupName,
    })),
    call: (b, [s, g, h, o]) => streams(b).consume(s as string, g as string, h as never, o as never),
    cleanup: (subscription) => (subscription as StreamSubscription).stop(),
  },
  { example: ['ex', 'g', { tenant: 'acme' }], name: 'streams.pending', args: fc.tuple(streamRef, groupName, tenantOnly), call: (b, [s, g, o]) => streams(b).pending(s as string, g as string, o as never) },
  { example: ['ex', { tenant: 'acme' }], name: 'streams.groups', args: fc.tuple(streamRef, tenantOnly), call: (b, [s, o]) => streams(b).groups(s as string, o as never) },
  {
    example: ['ex', { tenant: 'acme' }], name: 'streams.deadLetters', args: fc.tuple(streamRef, optionsArg({ tenant: tenantOption, count: fc.integer({ min: 1, max: 50 }), after: entryId })),
    call: (b, [s, o]) => streams(b).deadLetters(s as string, o as never),
  },
  {
    name: 'streams.replayDeadLetter', args: fc.tuple(streamRef, entryId, tenantOnly),
    refusalsOnly: 'a dead letter needs a consumer that failed maxDeliveries times (the stream contract suites replay real ones)',
    call: (b, [s, id, o]) => streams(b).replayDeadLetter(s as string, id as string, o as never),
  },

  {
    example: ['fuzz.done', { a: 1 }, { tenant: 'acme' }], name: 'tasks.enqueue', args: fc.tuple(taskRef, hostilePayload, optionsArg({ ...taskShape, tenant: tenantOption })), shared: () => ['tasks-bullmq'],
    call: async (b, [t, p, o]) => remember(await tasks(b).enqueue(t as string, p, o as never)),
  },
  {
    example: ['fuzz.done', [{ payload: 1 }], { tenant: 'acme' }], name: 'tasks.enqueueMany', args: fc.tuple(taskRef, arrayArg(optionsArg({ ...taskShape, payload: hostilePayload }, ['payload']), 3), tenantOnly), shared: () => ['tasks-bullmq'],
    call: async (b, [t, items, o]) => (await tasks(b).enqueueMany(t as string, items as never, o as never)).map(remember),
  },
  { example: [{ done: 'acme' }, { tenant: 'acme' }], name: 'tasks.get', args: fc.tuple(taskPool.arg, tenantOnly), shared: () => ['tasks-bullmq'], call: async (b, [id, o]) => tasks(b).get(await taskIdOf(b, id), taskPool.optionsFor(id, o) as never) },
  { example: [{ delayed: 'acme' }, { tenant: 'acme' }], name: 'tasks.cancel', args: fc.tuple(taskPool.arg, tenantOnly), shared: () => ['tasks-bullmq'], call: async (b, [id, o]) => tasks(b).cancel(await taskIdOf(b, id), taskPool.optionsFor(id, o) as never) },
  { example: [{ failed: 'acme' }, { tenant: 'acme' }], name: 'tasks.retry', args: fc.tuple(taskPool.arg, tenantOnly), shared: () => ['tasks-bullmq'], call: async (b, [id, o]) => tasks(b).retry(await taskIdOf(b, id), taskPool.optionsFor(id, o) as never) },
  {
    example: ['fuzz.fail', { tenant: 'acme' }], name: 'tasks.failed', args: fc.tuple(taskRef, optionsArg({ tenant: tenantOption, limit: fc.integer({ min: 1, max: 50 }), offset: fc.integer({ min: 0, max: 10 }) })),
    shared: () => ['tasks-bullmq'], call: (b, [t, o]) => tasks(b).failed(t as string, o as never),
  },
  {
    example: ['fuzz.done', { tenant: 'acme' }], name: 'tasks.list', args: fc.tuple(taskRef, optionsArg({ tenant: tenantOption, limit: fc.integer({ min: 1, max: 50 }), offset: fc.integer({ min: 0, max: 10 }) })),
    shared: () => ['tasks-bullmq'], call: (b, [t, o]) => tasks(b).list(t as string, o as never),
  },
  { example: ['fuzz.done', { tenant: 'acme' }], name: 'tasks.depth', args: fc.tuple(taskRef, tenantOnly), shared: () => ['tasks-bullmq'], call: (b, [t, o]) => tasks(b).depth(t as string, o as never) },
  {
    example: [{ done: 'acme' }, { tenant: 'acme', timeoutMs: 10 }], name: 'tasks.waitFor', args: fc.tuple(taskPool.arg, optionsArg({ tenant: tenantOption, timeoutMs: fc.integer({ min: 1, max: 2_000 }) })), shared: () => ['tasks-bullmq'],
    call: async (b, [id, o]) => {
      // Most tasks have no handler: a real one is waited for 2 s at most, whatever timeoutMs the options hold.
      let options = taskPool.optionsFor(id, o);
      if (taskPool.isPooled(id) && typeof options === 'object' && options !== null) options = { ...options, timeoutMs: 2_000 };
      return tasks(b).waitFor(await taskIdOf(b, id), options as never);
    },
  },

  {
    example: ['ex-run', () => 1, { tenant: 'acme' }], name: 'idempotency.run', args: fc.tuple(idempotencyKey, fc.oneof(callbackArg as fc.Arbitrary<unknown>, anyValue), idempotencyOptions), passesThrough: isCallbackFailure,
    call: (b, [k, fn, o]) => idempotency(b).run(k as string, fn as () => unknown, o as never),
  },
  {
    example: ['ex-begin', { tenant: 'acme' }, 1, false], name: 'idempotency.begin (complete or abandon)', args: fc.tuple(idempotencyKey, idempotencyOptions, hostilePayload, fc.boolean()),
    call: async (b, [k, o, value, abandon]) => settleClaim(await idempotency(b).begin(k as string, o as never), value, abandon as boolean),
  },

  {
    example: ['ex-role', { tenant: 'acme' }], name: 'leaders.campaign', args: fc.tuple(roleName, campaignOptions), runs: 25, shared: leaderShared,
    call: (b, [r, o]) => leaders(b).campaign(r as string, o as never), cleanup: resign,
  },
  {
    example: ['acme', {}], name: 'leaderCampaign.elected', args: fc.tuple(validTenant, fc.oneof(optionsArg({ signal: signalArg }), fc.constant(null).map(() => ({ signal: AbortSignal.timeout(20) })))), runs: 20,
    tenants: ([tenant]) => [tenant as string],
    passesThrough: (error) => error instanceof Error && (error.message === 'caller gave up' || error.name === 'TimeoutError') || error === 'a string reason',
    call: async (b, [tenant, o]) => {
      const campaign = leaders(b).campaign(`elected-${Math.random().toString(36).slice(2)}`, { tenant: tenant as string });
      try {
        return (await campaign.elected(o as never)).fencingToken;
      } finally {
        await campaign.resign();
      }
    },
  },
  { example: ['ex-role', { tenant: 'acme' }], name: 'leaders.isLeader', args: fc.tuple(roleName, roleOptions), shared: leaderShared, call: (b, [r, o]) => leaders(b).isLeader(r as string, o as never) },
  { example: ['ex-role', { tenant: 'acme' }], name: 'leaders.term', args: fc.tuple(roleName, roleOptions), shared: leaderShared, call: (b, [r, o]) => leaders(b).term(r as string, o as never) },
  {
    example: ['ex-role', { tenant: 'acme' }], name: 'leaders.leadership', args: fc.tuple(roleName, roleOptions), shared: leaderShared,
    call: (b, [r, o]) => leaders(b).leadership(r as string, o as never).subscribe(() => undefined).unsubscribe(),
  },
  { example: ['ex-role', { tenant: 'acme' }], name: 'leaders.leader', args: fc.tuple(roleName, roleOptions), shared: leaderShared, call: (b, [r, o]) => leaders(b).leader(r as string, o as never) },
  { example: ['ex-role', { tenant: 'acme' }], name: 'leaders.resign', args: fc.tuple(roleName, roleOptions), shared: leaderShared, call: (b, [r, o]) => leaders(b).resign(r as string, o as never) },

  { example: ['acme'], name: 'tenants.run', args: fc.tuple(tenantOption), call: (b, [t]) => b.get(CoordinationCore).tenants.run(t as string, () => b.get(CoordinationCore).tenants.current()) },
  { example: ['acme', 'fuzz.op'], name: 'tenants.resolve', args: fc.tuple(tenantOption, fc.oneof(fc.constant('fuzz.op'), hostileString)), call: (b, [t, op]) => b.get(CoordinationCore).tenants.resolve(t as string, op as string) },
  { example: [{ headers: { 'x-tenant-id': 'acme' } }], name: 'tenantResolver.fromRequest', args: fc.tuple(request), call: (b, [r]) => b.get(TenantResolver).fromRequest(r) },
];

describe.each(DRIVERS.filter((d) => d.name !== 'cluster'))('fuzz: streams, tasks, idempotency, leaders, tenancy ($name)', (driver) => {
  fuzzSuite(driver, METHODS, { extras: { providers: [FuzzTaskHandlers] } });
});
