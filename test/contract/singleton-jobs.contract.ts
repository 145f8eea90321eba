import { Injectable, type Type } from '@nestjs/common';
import { Cron, Interval, ScheduleModule } from '@nestjs/schedule';
import { LeaderShutdownError, SingletonJob, type JobTick, type LeaderModuleOptions } from '@nest-coordination/core';
import { bootModule, type BootedModule } from '../support/boot.js';
import { uniquePrefix, type DriverCase } from '../support/drivers.js';
import { expectNoTimersLeftBy } from '../support/timers.js';
import { until } from '../support/wait.js';

/** One call of a singleton handler: the job, the arguments it received, and the instance that ran it. */
export interface RecordedRun {
  job: string;
  tick: JobTick;
  args: number;
  instance: number;
  aborted: boolean;
}

/** Records every run of this instance's handlers (each module instance gets its own). */
abstract class Recorder {
  static instances = 0;
  readonly instance = ++Recorder.instances;
  readonly runs: RecordedRun[] = [];
  protected record(job: string, args: unknown[]): JobTick {
    const tick = args[0] as JobTick;
    this.runs.push({ job, tick, args: args.length, instance: this.instance, aborted: tick.signal.aborted });
    return tick;
  }
}

/** Every-second cron jobs with the decorator above and below @Cron, and an interval job. */
@Injectable()
export class EverySecondJobs extends Recorder {
  @SingletonJob('above-cron')
  @Cron('* * * * * *')
  above(...args: unknown[]): void {
    this.record('above-cron', args);
  }

  @Cron('* * * * * *')
  @SingletonJob('below-cron')
  async below(...args: unknown[]): Promise<void> {
    this.record('below-cron', args);
    await Promise.resolve();
  }

  @Interval(1_000)
  @SingletonJob('interval')
  interval(...args: unknown[]): void {
    this.record('interval', args);
  }
}

/** A job whose first run lasts until the test releases it (leaseMs 1 s, renewed while it runs). */
@Injectable()
export class LongJob extends Recorder {
  static release: () => void = () => undefined;
  static blocking = new Promise<void>((resolve) => (LongJob.release = resolve));

  @Cron('* * * * * *')
  @SingletonJob('long', { leaseMs: 2_000 })
  async long(...args: unknown[]): Promise<void> {
    const tick = this.record('long', args);
    if (this.runsOf('long') === 1 && LongJob.first === undefined) {
      LongJob.first = tick;
      await LongJob.blocking;
    }
  }

  static first: JobTick | undefined;
  runsOf(job: string): number {
    return this.runs.filter((r) => r.job === job).length;
  }
}

/** A job whose first run fails. */
@Injectable()
export class FlakyJob extends Recorder {
  static failed = false;

  @Cron('* * * * * *')
  @SingletonJob('flaky')
  flaky(...args: unknown[]): void {
    this.record('flaky', args);
    if (!FlakyJob.failed) {
      FlakyJob.failed = true;
      throw new Error('flaky job failed on purpose');
    }
  }
}

/** A job that runs until its signal aborts (for shutdown). */
@Injectable()
export class UntilAbortedJob extends Recorder {
  readonly reasons: unknown[] = [];

  @Cron('* * * * * *')
  @SingletonJob('until-aborted', { leaseMs: 5_000 })
  async run(...args: unknown[]): Promise<void> {
    const tick = this.record('until-aborted', args);
    await new Promise<void>((resolve) => tick.signal.addEventListener('abort', () => resolve(), { once: true }));
    this.reasons.push(tick.signal.reason);
  }
}

/**
 * Module instances ("instances" of a fleet) on one key prefix, each with ScheduleModule and
 * `providers`: `size` of them on Redis, one on memory (its store is local to the module).
 */
export async function bootFleet(driver: DriverCase, providers: Type[], size: number, leader: LeaderModuleOptions = {}): Promise<BootedModule[]> {
  const prefix = uniquePrefix('jobs');
  const count = driver.name === 'memory' ? 1 : size;
  const fleet: BootedModule[] = [];
  for (let i = 0; i < count; i++) {
    fleet.push(
      await bootModule(
        { ...driver.options(), prefix, instanceId: `node-${i}`, health: { pingIntervalMs: 0 }, leader },
        { imports: [ScheduleModule.forRoot()], providers },
      ),
    );
  }
  return fleet;
}

function runsOf(fleet: BootedModule[], type: Type<Recorder>, job: string): RecordedRun[] {
  return fleet.flatMap((booted) => booted.get(type).runs.filter((r) => r.job === job));
}

const metric = (booted: BootedModule, name: string, labels: Record<string, string>) => booted.core.metrics.counter(name, labels);
const total = (fleet: BootedModule[], name: string, labels: Record<string, string>) => fleet.reduce((sum, b) => sum + metric(b, name, labels), 0);

/** Runs per scheduled time (ms). */
function perTick(runs: RecordedRun[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const run of runs) counts.set(run.tick.scheduledAt.getTime(), (counts.get(run.tick.scheduledAt.getTime()) ?? 0) + 1);
  return counts;
}

/** Asserts one run per tick and fencing tokens increasing with the ticks. */
function expectOncePerTick(runs: RecordedRun[]): void {
  for (const [tick, count] of perTick(runs)) expect({ tick: new Date(tick).toISOString(), count }).toEqual({ tick: new Date(tick).toISOString(), count: 1 });
  const byTick = [...runs].sort((a, b) => a.tick.scheduledAt.getTime() - b.tick.scheduledAt.getTime());
  for (let i = 1; i < byTick.length; i++) expect(byTick[i].tick.fencingToken).toBeGreaterThan(byTick[i - 1].tick.fencingToken);
}

/**
 * What `@SingletonJob` promises on every backend, through the Nest module with @nestjs/schedule:
 * on Redis several module instances share one prefix (a fleet in one process); on memory one
 * instance (its store is in-process) still runs each tick once and never overlaps runs.
 */
export function describeSingletonJobContract(driver: DriverCase): void {
  const fleets: BootedModule[][] = [];
  afterEach(async () => {
    LongJob.release();
    await Promise.all(fleets.splice(0).flat().map((booted) => booted.close()));
  });
  const start = async (providers: Type[], size: number, leader?: LeaderModuleOptions) => {
    const fleet = await bootFleet(driver, providers, size, leader);
    fleets.push(fleet);
    return fleet;
  };

  it('runs each tick of a cron or interval job on one instance, with its JobTick as the only argument', async () => {
    const fleet = await start([EverySecondJobs], 3);
    for (const job of ['above-cron', 'below-cron', 'interval']) {
      await until(() => new Set(runsOf(fleet, EverySecondJobs, job).map((r) => r.tick.scheduledAt.getTime())).size >= 4, {
        timeoutMs: 20_000, message: `4 ticks of ${job} to run`,
      });
    }
    for (const job of ['above-cron', 'below-cron', 'interval']) {
      const runs = runsOf(fleet, EverySecondJobs, job);
      expectOncePerTick(runs);
      for (const run of runs) {
        expect(run).toMatchObject({ job, args: 1, aborted: false });
        expect(run.tick.job).toBe(job);
        expect(run.tick.scheduledAt.getTime() % 1_000).toBe(0);
        expect(run.tick.signal).toBeInstanceOf(AbortSignal);
      }
      const completed = total(fleet, 'singleton_job_runs_total', { job, outcome: 'completed' });
      expect(completed).toBeGreaterThanOrEqual(runs.length - 1); // the last run may be counting right now
    }
    if (fleet.length > 1) {
      // Every instance's timer fired for ticks another instance ran.
      expect(total(fleet, 'singleton_job_skips_total', { job: 'above-cron', reason: 'taken' })).toBeGreaterThan(0);
    }
  });

  it('skips later ticks on every instance while a run holds the job, renewing its lease, and runs again after it', async () => {
    LongJob.first = undefined;
    LongJob.blocking = new Promise<void>((resolve) => (LongJob.release = resolve));
    const fleet = await start([LongJob], 3);
    await until(() => LongJob.first, { timeoutMs: 10_000, message: 'the long run to start' });
    // Each later tick is skipped fleet-wide: 'running' for the first instance to claim it (the tick is then
    // marked taken), 'taken' for the others. Four such ticks: the run outlived its 2 s lease, renewed (a 2 s
    // lease rather than 1 s: renewals every ~667 ms stay in time on a loaded two-core machine and a cluster).
    await until(() => total(fleet, 'singleton_job_skips_total', { job: 'long', reason: 'running' }) >= 4, {
      timeoutMs: 15_000, message: '4 ticks to be skipped while the long run holds the job',
    });
    for (const booted of fleet) {
      const skipped = () => metric(booted, 'singleton_job_skips_total', { job: 'long', reason: 'running' }) + metric(booted, 'singleton_job_skips_total', { job: 'long', reason: 'taken' });
      await until(() => skipped() >= 4, { timeoutMs: 10_000, message: `instance ${booted.core.instanceId} to skip 4 ticks of the running job` });
    }
    expect(runsOf(fleet, LongJob, 'long')).toHaveLength(1);
    expect(LongJob.first!.signal.aborted).toBe(false);
    LongJob.release();
    await until(() => runsOf(fleet, LongJob, 'long').length >= 2, { timeoutMs: 10_000, message: 'a tick after the long run to run' });
    const [first, second] = runsOf(fleet, LongJob, 'long').sort((a, b) => a.tick.fencingToken - b.tick.fencingToken);
    expect(second.tick.scheduledAt.getTime()).toBeGreaterThan(first.tick.scheduledAt.getTime() + 4_000);
  });

  it('counts and logs a failed run, and runs the next tick', async () => {
    FlakyJob.failed = false;
    const fleet = await start([FlakyJob], 2);
    await until(() => total(fleet, 'singleton_job_runs_total', { job: 'flaky', outcome: 'completed' }) >= 1, {
      timeoutMs: 10_000, message: 'a run after the failed one to complete',
    });
    expect(total(fleet, 'singleton_job_runs_total', { job: 'flaky', outcome: 'failed' })).toBe(1);
    expectOncePerTick(runsOf(fleet, FlakyJob, 'flaky'));
  });

  it('aborts a running job at shutdown with LeaderShutdownError and leaves no timers', async () => {
    const [booted] = await start([UntilAbortedJob], 1, { shutdownTimeoutMs: 5_000 });
    const job = booted.get(UntilAbortedJob);
    await until(() => job.runs.length >= 1, { timeoutMs: 10_000, message: 'the job to run' });
    fleets.splice(0);
    await expectNoTimersLeftBy(() => booted.close());
    expect(job.reasons).toHaveLength(1);
    expect(job.reasons[0]).toBeInstanceOf(LeaderShutdownError);
    expect(job.runs).toHaveLength(1);
  });
}
