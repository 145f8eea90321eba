import { Injectable } from '@nestjs/common';
import { Cron, Interval, ScheduleModule, Timeout } from '@nestjs/schedule';
import { CoordinationModule, SingletonJob } from '@nest-coordination/core';
import { describeSingletonJobContract } from '../contract/singleton-jobs.contract.js';
import { bootFailure } from '../support/boot.js';
import { DRIVERS } from '../support/drivers.js';

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
});
