import { jest } from '@jest/globals';
import { Injectable, Logger, Scope } from '@nestjs/common';
import { Cron, Interval, ScheduleModule, Timeout } from '@nestjs/schedule';
import { CoordinationModule, LeaderLostError, ManualClock, RedisUnavailableError, SingletonJob, type Clock, type JobTick } from '@nest-coordination/core';
import { CoordinationCore } from '../../libs/coordination/src/core/coordination-core.js';
import { driftMs } from '../../libs/coordination/src/locks/lock.js';
import { JOB_TICK_STORE, type JobTickStore } from '../../libs/coordination/src/leader/leader-store.interface.js';
import { MemoryJobTickStore } from '../../libs/coordination/src/leader/memory-leader.store.js';
import { describeSingletonJobContract } from '../contract/singleton-jobs.contract.js';
import { bootFailure, bootModule, type BootedModule } from '../support/boot.js';
import { DRIVERS } from '../support/drivers.js';
import { expectNoTimersLeftBy } from '../support/timers.js';
import { sleep, until } from '../support/wait.js';

describe.each(DRIVERS)('@SingletonJob contract ($name)', (driver) => {
  describeSingletonJobContract(driver);
});

describe('@SingletonJob bootstrap checks', () => {
  const failure = (...providers: Array<new (...args: never[]) => unknown>) =>
    bootFailure({ imports: [CoordinationModule.forRoot({ driver: 'memory' }), ScheduleModule.forRoot()], providers });

  it('fails without @Cron or @Interval, naming Class.method', async () => {
    @Injectable()
    class Unscheduled {
      @SingletonJob('unscheduled')
      run(): void {}
    }
    const error = await failure(Unscheduled);
    expect(error.message).toMatch(/Unscheduled\.run: @SingletonJob\("unscheduled"\) needs @Cron\(\) or @Interval\(\)/);
  });

  it('fails on a @Timeout', async () => {
    @Injectable()
    class Once {
      @Timeout(60_000)
      @SingletonJob('once')
      run(): void {}
    }
    expect((await failure(Once)).message).toMatch(/Once\.run: @SingletonJob\("once"\) cannot run with @Timeout\(\)/);
  });

  it('fails on two methods with one job name, naming both', async () => {
    @Injectable()
    class First {
      @Cron('0 0 * * * *')
      @SingletonJob('report')
      run(): void {}
    }
    @Injectable()
    class Second {
      @Interval(60_000)
      @SingletonJob('report')
      run(): void {}
    }
    expect((await failure(First, Second)).message).toMatch(/Second\.run: job name "report" is used by First\.run too/);
  });

  it('fails on an invalid name or leaseMs', async () => {
    @Injectable()
    class BadNames {
      @Cron('0 0 * * * *')
      @SingletonJob('')
      empty(): void {}

      @Cron('0 0 * * * *')
      @SingletonJob('x'.repeat(101))
      long(): void {}

      @Cron('0 0 * * * *')
      @SingletonJob('short-lease', { leaseMs: 10 })
      lease(): void {}
    }
    const { message } = await failure(BadNames);
    expect(message).toMatch(/BadNames\.empty: @SingletonJob\(\) job name: .*must not be empty/);
    expect(message).toMatch(/BadNames\.long: @SingletonJob\(\) job name: .*at most 100 characters/);
    expect(message).toMatch(/BadNames\.lease: @SingletonJob\("short-lease"\) leaseMs must be an integer of 1000\.\.86400000 ms, got 10/);
  });

  it('fails on an invalid cron time zone, naming the method', async () => {
    @Injectable()
    class Zoned {
      @Cron('0 0 * * * *', { timeZone: 'Mars/Olympus' })
      @SingletonJob('zoned')
      run(): void {}
    }
    expect((await failure(Zoned)).message).toMatch(/Zoned\.run: @SingletonJob\("zoned"\) cannot compute its ticks: .*timezone/i);
  });

  it('fails on an instance Nest does not inject into (useFactory)', async () => {
    @Injectable()
    class Factory {
      @Cron('0 0 * * * *')
      @SingletonJob('factory')
      run(): void {}
    }
    const error = await bootFailure({
      imports: [CoordinationModule.forRoot({ driver: 'memory' }), ScheduleModule.forRoot()],
      providers: [{ provide: 'factory', useFactory: () => new Factory() }],
    });
    expect(error.message).toMatch(/@SingletonJob\(\) methods without a SingletonJobRunner[\s\S]*Factory .*useFactory/);
  });

  it('fails on a transient provider, naming Class.method (@nestjs/schedule would call it on a bare prototype)', async () => {
    @Injectable({ scope: Scope.TRANSIENT })
    class PerConsumer {
      @Cron('* * * * * *')
      @SingletonJob('per-consumer')
      run(): void {}
    }
    expect((await failure(PerConsumer)).message).toMatch(/PerConsumer\.run: @SingletonJob\("per-consumer"\) cannot run on a transient provider/);
  });
});

/** What the fault-injection store saw and how it misbehaves (around the real memory store). */
interface Faults {
  /** renewTick: 'hang' never settles, false answers false, 'real' asks the store. */
  renew: 'hang' | false | 'real';
  /** claimTick rejects with RedisUnavailableError. */
  claimsFail: boolean;
  /** claimTick answers this long after it was issued, ms. */
  claimDelayMs: number;
  /** The clock's time of each claimTick call (before any delay). */
  claimsAt: number[];
  finishes: number;
}

/** Runs each tick until its signal aborts; records the tick, the abort reason and the clock then. */
@Injectable()
class SignalJob {
  static clock: Clock;
  readonly ticks: JobTick[] = [];
  readonly aborts: Array<{ reason: unknown; at: number }> = [];

  @Interval(1_000)
  @SingletonJob('signal-job', { leaseMs: 1_000 })
  async run(tick: JobTick): Promise<void> {
    this.ticks.push(tick);
    await new Promise<void>((resolve) => tick.signal.addEventListener('abort', () => resolve(), { once: true }));
    this.aborts.push({ reason: tick.signal.reason, at: SignalJob.clock.now() });
  }
}

/** An every-second cron job that returns at once. */
@Injectable()
class QuickCronJob {
  readonly ticks: JobTick[] = [];

  @Cron('* * * * * *')
  @SingletonJob('quick-cron')
  run(tick: JobTick): void {
    this.ticks.push(tick);
  }
}

describe('@SingletonJob runner (memory store with injected faults)', () => {
  let booted: BootedModule | undefined;
  afterEach(async () => {
    jest.restoreAllMocks();
    await booted?.close();
    booted = undefined;
  });

  const boot = async (providers: Array<new (...args: never[]) => unknown>, faults: Partial<Faults>, clock?: Clock) => {
    const seen: Faults = { renew: 'real', claimsFail: false, claimDelayMs: 0, claimsAt: [], finishes: 0, ...faults };
    booted = await bootModule(
      { driver: 'memory', health: { pingIntervalMs: 0 }, ...(clock ? { clock } : {}), leader: { shutdownTimeoutMs: 5_000 } },
      {
        imports: [ScheduleModule.forRoot()],
        providers,
        overrides: [{
          token: JOB_TICK_STORE,
          inject: [CoordinationCore],
          factory: (core: CoordinationCore): JobTickStore => {
            const real = new MemoryJobTickStore(core.clock);
            return {
              claimTick: async (...args) => {
                seen.claimsAt.push(core.clock.now());
                if (seen.claimDelayMs > 0) await sleep(seen.claimDelayMs);
                if (seen.claimsFail) throw new RedisUnavailableError('jobs.claim');
                return real.claimTick(...args);
              },
              renewTick: (...args) => (seen.renew === 'hang' ? new Promise<boolean>(() => undefined) : seen.renew === false ? Promise.resolve(false) : real.renewTick(...args)),
              finishTick: (...args) => {
                seen.finishes++;
                return real.finishTick(...args);
              },
            };
          },
        }],
      },
    );
    return seen;
  };

  it('aborts the signal at the local expiry (before claim + leaseMs) when renewals never answer', async () => {
    const clock = new ManualClock(Math.floor(Date.now() / 1_000) * 1_000);
    SignalJob.clock = clock;
    const seen = await boot([SignalJob], { renew: 'hang' }, clock);
    const job = booted!.get(SignalJob);
    await until(() => job.ticks.length >= 1, { timeoutMs: 10_000, message: 'the job to run' });
    const claimedAt = seen.claimsAt[0];
    // Time passes up to just before the local expiry, then (once the expiry timer, armed in real
    // time, has looked once) in steps of 2 ms: the run must end at its local expiry
    // (claim + lease − drift), before the store's lease can.
    clock.advance(1_000 - driftMs(1_000) - 10);
    const realStart = Date.now();
    await until(
      () => {
        if (job.aborts.length === 0 && Date.now() - realStart > 1_200) clock.advance(2);
        return job.aborts.length >= 1;
      },
      { timeoutMs: 15_000, intervalMs: 50, message: 'the run signal to abort at its local expiry' },
    );
    const [{ reason, at }] = job.aborts;
    expect(reason).toBeInstanceOf(LeaderLostError);
    expect(reason).toMatchObject({ role: 'job:signal-job', fencingToken: job.ticks[0].fencingToken, reason: 'expired' });
    expect(at).toBeLessThan(claimedAt + 1_000);
    expect(at).toBeGreaterThanOrEqual(claimedAt + 1_000 - driftMs(1_000) - 10);
  });

  it('aborts the signal when renewals never answer, on the system clock too', async () => {
    SignalJob.clock = { now: () => Date.now() };
    await boot([SignalJob], { renew: 'hang' });
    const job = booted!.get(SignalJob);
    await until(() => job.aborts.length >= 1, { timeoutMs: 10_000, message: 'the run signal to abort at its local expiry' });
    expect(job.aborts[0].reason).toBeInstanceOf(LeaderLostError);
  });

  it('aborts the signal with LeaderLostError when a renewal answers that the lease is over', async () => {
    SignalJob.clock = { now: () => Date.now() };
    await boot([SignalJob], { renew: false });
    const job = booted!.get(SignalJob);
    await until(() => job.aborts.length >= 1, { timeoutMs: 10_000, message: 'the run signal to abort' });
    expect(job.aborts[0].reason).toBeInstanceOf(LeaderLostError);
    expect(job.aborts[0].reason).toMatchObject({ role: 'job:signal-job', fencingToken: job.ticks[0].fencingToken, reason: 'expired' });
  });

  it('waits at shutdown for a claim in flight and the finish of its lease', async () => {
    const seen = await boot([QuickCronJob], { claimDelayMs: 1_000 });
    await until(() => seen.claimsAt.length >= 1, { timeoutMs: 10_000, message: 'a claim to be issued' });
    const closing = booted!;
    booted = undefined;
    await expectNoTimersLeftBy(() => closing.close(), 2_000);
    // The claim answered during shutdown: its lease was finished before the module closed.
    expect(seen.finishes).toBeGreaterThanOrEqual(1);
    expect(closing.get(QuickCronJob).ticks).toEqual([]);
  });

  it('warns once while claims fail, then logs when they succeed again; errors counted as jobs.claim', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const log = jest.spyOn(Logger.prototype, 'log');
    const seen = await boot([QuickCronJob], { claimsFail: true });
    await until(() => seen.claimsAt.length >= 5, { timeoutMs: 15_000, message: '5 claims to fail' });
    const warnings = warn.mock.calls.filter(([message]) => String(message).includes('quick-cron'));
    expect(warnings.length).toBeLessThanOrEqual(1);
    expect(booted!.core.metrics.counter('leader_errors_total', { operation: 'jobs.claim' })).toBeGreaterThanOrEqual(5);
    seen.claimsFail = false;
    await until(() => booted!.get(QuickCronJob).ticks.length >= 1, { timeoutMs: 10_000, message: 'a tick to run once claims succeed' });
    expect(log.mock.calls.some(([message]) => /answers again/.test(String(message)))).toBe(true);
  });

  it('skips with one warning naming the clock when it stepped back, and runs again once it passes the last tick', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const clock = new ManualClock(Math.floor(Date.now() / 1_000) * 1_000);
    await boot([QuickCronJob], {}, clock);
    const job = booted!.get(QuickCronJob);
    await until(() => job.ticks.length >= 1, { timeoutMs: 10_000, message: 'the job to run' });
    clock.advance(-30_000);
    await until(() => booted!.core.metrics.counter('singleton_job_skips_total', { job: 'quick-cron', reason: 'late' }) >= 3, {
      timeoutMs: 15_000, message: '3 firings to be skipped while the clock is behind',
    });
    const warnings = warn.mock.calls.map(([message]) => String(message)).filter((message) => message.includes('quick-cron'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/clock .*stepped back/);
    const ran = job.ticks.length;
    clock.advance(31_000);
    await until(() => job.ticks.length > ran, { timeoutMs: 10_000, message: 'a tick to run once the clock passed the last one' });
  });
});
