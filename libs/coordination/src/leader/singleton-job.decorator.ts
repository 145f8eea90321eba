import { ServiceSlot, serviceMethodDecorator } from '../core/method-decorators.js';
import type { JobTick, SingletonJobOptions } from './leader.types.js';
import { SingletonJobRunner } from './singleton-job.runner.js';

/** Metadata key of `@SingletonJob()` on the (wrapped) method: a SingletonJobMetadata. */
export const SINGLETON_JOB_METADATA = 'coordination:singleton-job';
/** The property Nest injects the instance's SingletonJobRunner into (see SingletonJob). */
export const SINGLETON_JOB_RUNNER_SLOT = new ServiceSlot(SingletonJobRunner);

/** What `@SingletonJob()` records on the method (read by SingletonJobExplorer). */
export interface SingletonJobMetadata {
  readonly name: string;
  readonly options: SingletonJobOptions;
}

/**
 * Makes a `@nestjs/schedule` `@Cron()` / `@Interval()` handler run on ONE instance of the fleet per
 * tick. Every instance's timer still fires; the wrapper computes the tick (the scheduled time, the
 * same on every instance), claims it in Redis (the memory driver: in this process), and only the
 * instance that claimed it calls the method, with a `JobTick` as its FIRST argument (what the
 * scheduler passes is dropped): the scheduled time, a fencing token strictly higher than every
 * earlier run's, and a signal that aborts when the run lease is lost or the application shuts down.
 * A run holds the job (its lease renewed at a third of `leaseMs` while it runs), so later ticks are
 * skipped on every instance until it returns. That holds while the lease holds: when renewals fail
 * (Redis unreachable) the signal aborts at the lease's local expiry, just before another instance
 * may claim a later tick. Runs therefore do not overlap only if handlers stop when `tick.signal`
 * aborts; for writes that must never come from an older run, pass `tick.fencingToken` to what you
 * write to (a fenced write rejects a lower token).
 *
 * Place it above or below `@Cron()` / `@Interval()` (metadata is copied to the wrapper). `name`
 * identifies the job fleet-wide, per key prefix (1..100 characters, unique in the application): two
 * services sharing a prefix and a job name share its ticks, so only one of them runs each. A
 * `@Cron()` without `timeZone` reads its fields in each process's time zone (`TZ`): give it a
 * `timeZone` unless every process runs in the same zone (instances in different zones would each
 * claim their own times: once per zone). `@Interval(ms)` ticks are the `ms`-long windows of the
 * clock (`floor(now / ms)`): each instance's `setInterval` runs in its own phase and drifts, so with
 * few instances a window may pass with no timer firing in it (that tick is not run).
 * A `@Timeout()`, a method without a schedule, a duplicate name, an invalid name or a transient
 * provider fails the bootstrap naming the method. Errors of the handler are logged and counted
 * (singleton_job_runs_total{outcome: 'failed'}), not rethrown into the scheduler; the next tick
 * runs as usual.
 *
 * @example
 * @Cron('0 0 2 * * *', { timeZone: 'Europe/Paris' })
 * @SingletonJob('nightly-report', { leaseMs: 120_000 })
 * async nightlyReport(tick: JobTick) {
 *   await this.reports.generate({ day: tick.scheduledAt, fencingToken: tick.fencingToken, signal: tick.signal });
 * }
 */
export function SingletonJob(name: string, options: SingletonJobOptions = {}): MethodDecorator {
  return serviceMethodDecorator({
    decorator: '@SingletonJob()',
    slot: SINGLETON_JOB_RUNNER_SLOT,
    metadataKey: SINGLETON_JOB_METADATA,
    metadata: { name, options } satisfies SingletonJobMetadata,
    alternative: 'LeaderService.campaign() and a check of isLeader() in the handler',
    run: (runner, call, args) =>
      runner.run(name, (tick: JobTick) => {
        // `call` applies the method to this very array: the tick replaces what the scheduler passed.
        args.length = 0;
        args.push(tick);
        return call();
      }),
  });
}

/**
 * The `@SingletonJob()` metadata of a method, if any.
 *
 * @example
 * const job = singletonJobMetadata(prototype[method]);
 */
export function singletonJobMetadata(method: unknown): SingletonJobMetadata | undefined {
  return typeof method === 'function' ? (Reflect.getOwnMetadata(SINGLETON_JOB_METADATA, method) as SingletonJobMetadata | undefined) : undefined;
}
