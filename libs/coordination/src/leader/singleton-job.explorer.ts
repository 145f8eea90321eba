import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { assertServicesInjected } from '../core/injection-check.js';
import { className, isStaticSingleton, prototypeOf } from '../core/module-ownership.js';
import { cronSchedule, intervalSchedule, loadCronTime, type CronSource, type CronTimeClass, type JobSchedule } from './job-schedule.js';
import { LEADER_LIMITS } from './leader.options.js';
import { assertRoleName } from './leader-validation.js';
import { SINGLETON_JOB_METADATA, SINGLETON_JOB_RUNNER_SLOT, singletonJobMetadata, type SingletonJobMetadata } from './singleton-job.decorator.js';
import { SingletonJobRunner } from './singleton-job.runner.js';

/** @nestjs/schedule's metadata keys and scheduler types (schedule.constants.js, enums/scheduler-type.enum.js). */
const SCHEDULER_TYPE = 'SCHEDULER_TYPE';
const SCHEDULE_CRON_OPTIONS = 'SCHEDULE_CRON_OPTIONS';
const SCHEDULE_INTERVAL_OPTIONS = 'SCHEDULE_INTERVAL_OPTIONS';
const CRON = 1;
const TIMEOUT = 2;
const INTERVAL = 3;

/** One `@SingletonJob` method found at bootstrap. */
interface FoundJob {
  readonly where: string;
  readonly metadata: SingletonJobMetadata;
  readonly type: unknown;
  readonly method: object;
}

/**
 * Registers every `@SingletonJob` method of this application with the SingletonJobRunner that Nest
 * injected into its instance (onModuleInit, before @nestjs/schedule starts the timers at
 * bootstrap), computing its schedule from the `@Cron()` / `@Interval()` metadata on the same
 * method. The bootstrap fails, naming `Class.method` and the fix, for: no `@Cron()` / `@Interval()`,
 * a `@Timeout()` (it fires once per instance: there is no shared tick), two methods with one job
 * name, an invalid name or `leaseMs`, an invalid cron expression or time zone, an instance
 * without its runner (a useFactory / useValue provider), and a transient provider (@nestjs/schedule
 * would call its method on an instance Nest never built). A request-scoped provider is ignored
 * with a warning (@nestjs/schedule does not schedule it). `cron` (a dependency of @nestjs/schedule)
 * is imported only when a cron singleton job exists.
 *
 * @example
 * // Registered by CoordinationModule. This provider fails the boot (no schedule):
 * @SingletonJob('nightly-report') report() {}
 * // while this one runs once per fleet each night:
 * @Cron('0 0 2 * * *') @SingletonJob('nightly-report') report(tick: JobTick) {}
 */
@Injectable()
export class SingletonJobExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly runner: SingletonJobRunner,
  ) {}

  async onModuleInit(): Promise<void> {
    assertServicesInjected(this.discovery, this.scanner, {
      slot: SINGLETON_JOB_RUNNER_SLOT,
      decorators: { [SINGLETON_JOB_METADATA]: '@SingletonJob()' },
      alternative: 'LeaderService.campaign() and isLeader() in a plain @Cron() handler',
    });
    const problems: string[] = [];
    const found = this.discover(problems);
    problems.push(...found.map(problemOf).filter((p): p is string => p !== undefined));
    const names = new Map<string, string>();
    for (const job of found) {
      const other = names.get(job.metadata.name);
      if (other) problems.push(`${job.where}: job name ${JSON.stringify(job.metadata.name)} is used by ${other} too; give each @SingletonJob its own name`);
      else names.set(job.metadata.name, job.where);
    }
    if (problems.length > 0) throw new Error(`Invalid @SingletonJob() methods:\n- ${problems.join('\n- ')}`);
    let CronTime: CronTimeClass | undefined;
    const schedules: Array<[FoundJob, JobSchedule]> = [];
    for (const job of found) {
      if (job.type === CRON) CronTime ??= await loadCronTime();
      schedules.push([job, scheduleOf(job, CronTime)]);
    }
    for (const [job, schedule] of schedules) this.runner.register(job.metadata.name, job.where, schedule, job.metadata.options.leaseMs);
  }

  /**
   * The `@SingletonJob` methods of the static singletons whose runner is this module instance's;
   * those of transient providers are added to `problems`.
   */
  private discover(problems: string[]): FoundJob[] {
    const found: FoundJob[] = [];
    for (const wrapper of [...this.discovery.getProviders(), ...this.discovery.getControllers()]) {
      const prototype = prototypeOf(wrapper);
      if (!prototype) continue;
      const methods = this.scanner.getAllMethodNames(prototype).filter((name) => singletonJobMetadata(prototype[name]) !== undefined);
      if (methods.length === 0) continue;
      const owner = className(wrapper);
      if (wrapper.isTransient) {
        // @nestjs/schedule does schedule a transient provider's methods, on an instance Nest never
        // constructed (no runner injected): every tick would fail. Fail the boot instead.
        for (const name of methods) {
          const { name: job } = singletonJobMetadata(prototype[name])!;
          problems.push(
            `${owner}.${name}: @SingletonJob(${JSON.stringify(job)}) cannot run on a transient provider ` +
              `(@nestjs/schedule calls it on an instance Nest did not build, without its SingletonJobRunner); make ${owner} a singleton (the default scope)`,
          );
        }
        continue;
      }
      if (!isStaticSingleton(wrapper)) {
        this.runner.logger.warn(`@SingletonJob on ${owner} (${methods.join(', ')}) ignored: ${owner} is request-scoped, and @nestjs/schedule does not schedule it`);
        continue;
      }
      // With several CoordinationModule instances in one application, each registers the jobs of the instances it injected.
      if (SINGLETON_JOB_RUNNER_SLOT.of(wrapper.instance) !== this.runner) continue;
      for (const name of methods) {
        const method = prototype[name] as object;
        found.push({ where: `${owner}.${name}`, metadata: singletonJobMetadata(method)!, type: Reflect.getMetadata(SCHEDULER_TYPE, method), method });
      }
    }
    return found;
  }
}

/** What is wrong with one method's decorators, if anything. */
function problemOf({ where, metadata, type }: FoundJob): string | undefined {
  const { name, options } = metadata;
  try {
    assertRoleName(name, 'name');
  } catch (error) {
    return `${where}: @SingletonJob() job name: ${error instanceof Error ? error.message : String(error)} (1..${LEADER_LIMITS.nameLength} characters without control characters)`;
  }
  const leaseMs = options?.leaseMs;
  const { min, max } = LEADER_LIMITS.jobLeaseMs;
  if (leaseMs !== undefined && (!Number.isInteger(leaseMs) || leaseMs < min || leaseMs > max)) {
    return `${where}: @SingletonJob(${JSON.stringify(name)}) leaseMs must be an integer of ${min}..${max} ms, got ${String(leaseMs)}`;
  }
  if (type === TIMEOUT) {
    return `${where}: @SingletonJob(${JSON.stringify(name)}) cannot run with @Timeout(): a timeout fires once per instance at its own time, with no tick shared by the fleet; use @Cron() or @Interval()`;
  }
  if (type !== CRON && type !== INTERVAL) {
    return `${where}: @SingletonJob(${JSON.stringify(name)}) needs @Cron() or @Interval() from @nestjs/schedule on the same method (above or below it), and ScheduleModule.forRoot() imported`;
  }
  return undefined;
}

function scheduleOf(job: FoundJob, CronTime: CronTimeClass | undefined): JobSchedule {
  try {
    if (job.type === CRON) return cronSchedule(CronTime!, Reflect.getMetadata(SCHEDULE_CRON_OPTIONS, job.method) as CronSource);
    const interval = Reflect.getMetadata(SCHEDULE_INTERVAL_OPTIONS, job.method) as { timeout?: unknown } | undefined;
    return intervalSchedule(interval?.timeout as number);
  } catch (error) {
    throw new Error(`${job.where}: @SingletonJob(${JSON.stringify(job.metadata.name)}) cannot compute its ticks: ${error instanceof Error ? error.message : String(error)}`);
  }
}
