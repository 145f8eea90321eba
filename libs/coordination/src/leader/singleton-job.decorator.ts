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
 * A run holds the job (renewed at a third of `leaseMs` while it runs), so later ticks are skipped
 * on every instance until it returns: runs never overlap.
 *
 * Place it above or below `@Cron()` / `@Interval()` (metadata is copied to the wrapper). `name`
 * identifies the job fleet-wide (1..100 characters, unique in the application). A `@Timeout()`,
 * a method without a schedule, a duplicate name or an invalid name fails the bootstrap naming the
 * method. Errors of the handler are logged and counted (singleton_job_runs_total{outcome:
 * 'failed'}), not rethrown into the scheduler; the next tick runs as usual.
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
