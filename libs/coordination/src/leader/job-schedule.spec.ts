import { cronSchedule, intervalSchedule, loadCronTime, tickAt, type CronTimeClass, type JobSchedule } from './job-schedule.js';

const at = (iso: string) => Date.parse(iso);
const LATENESS = 60_000;

describe('job schedules', () => {
  let CronTime: CronTimeClass;
  beforeAll(async () => {
    CronTime = await loadCronTime();
  });

  /** A schedule counting its `next` calls. */
  function counted(schedule: JobSchedule): { schedule: JobSchedule; calls: () => number } {
    if (schedule.kind !== 'cron') throw new Error('cron only');
    let calls = 0;
    return {
      schedule: { ...schedule, next: (ms) => (calls++, schedule.next(ms)) },
      calls: () => calls,
    };
  }

  describe('every second', () => {
    let everySecond: JobSchedule;
    beforeAll(() => {
      everySecond = cronSchedule(CronTime, { cronTime: '* * * * * *' });
    });

    it('is the second the timer fired for, a few ms late', () => {
      expect(tickAt(everySecond, at('2026-03-01T10:00:05.004Z'), LATENESS)).toBe(at('2026-03-01T10:00:05Z'));
    });

    it('is the second the timer fired for when it fired up to a second late, never the coming one', () => {
      // cron never fires early (CronJob re-checks Date.now() and reschedules), so a firing at
      // T + 800 ms is T's, late: claiming T + 1 s there would run a future tick and lose T.
      const T = at('2026-03-01T10:00:05Z');
      expect(tickAt(everySecond, T + 800, LATENESS, T - 1_000)).toBe(T);
      expect(tickAt(everySecond, T + 999, LATENESS, T - 1_000)).toBe(T);
      expect(tickAt(everySecond, T + 800, LATENESS)).toBe(T);
      // Just before a second: the second just passed (there is no early window).
      expect(tickAt(everySecond, at('2026-03-01T10:00:04.900Z'), LATENESS)).toBe(at('2026-03-01T10:00:04Z'));
    });

    it('is none when the clock stepped back behind the previous tick this instance saw', () => {
      const T = at('2026-03-01T10:00:05Z');
      expect(tickAt(everySecond, T - 5_000, LATENESS, T)).toBeUndefined();
    });

    it('costs a few next() calls once the previous tick is known, and finds that tick again on a second firing', () => {
      const { schedule, calls } = counted(everySecond);
      const previous = at('2026-03-01T10:00:04Z');
      expect(tickAt(schedule, at('2026-03-01T10:00:05.010Z'), LATENESS, previous)).toBe(at('2026-03-01T10:00:05Z'));
      expect(calls()).toBeLessThanOrEqual(3);
      expect(tickAt(everySecond, at('2026-03-01T10:00:05.020Z'), LATENESS, at('2026-03-01T10:00:05Z'))).toBe(at('2026-03-01T10:00:05Z'));
    });

    it('ignores a previous tick older than the lateness window', () => {
      expect(tickAt(everySecond, at('2026-03-01T10:00:05.010Z'), 1_000, at('2026-03-01T09:00:00Z'))).toBe(at('2026-03-01T10:00:05Z'));
    });
  });

  describe('daily', () => {
    let daily: JobSchedule;
    beforeAll(() => {
      daily = cronSchedule(CronTime, { cronTime: '0 30 2 * * *', timeZone: 'UTC' });
    });

    it('is the day’s run when the timer fired within the lateness', () => {
      expect(tickAt(daily, at('2026-03-01T02:30:00.015Z'), LATENESS)).toBe(at('2026-03-01T02:30:00Z'));
      expect(tickAt(daily, at('2026-03-01T02:30:59.000Z'), LATENESS)).toBe(at('2026-03-01T02:30:00Z'));
    });

    it('is none (late) when the timer fired after the lateness', () => {
      expect(tickAt(daily, at('2026-03-01T02:31:00.001Z'), LATENESS)).toBeUndefined();
      expect(tickAt(daily, at('2026-03-01T02:30:05.000Z'), 1_000)).toBeUndefined();
    });

    it('is none just before the scheduled time (no early window)', () => {
      expect(tickAt(daily, at('2026-03-01T02:30:00Z') - 10, LATENESS)).toBeUndefined();
    });
  });

  describe('time zones', () => {
    it('reads the fields in the timeZone of @Cron', () => {
      const tokyo = cronSchedule(CronTime, { cronTime: '0 0 9 * * *', timeZone: 'Asia/Tokyo' });
      // 09:00 in Tokyo (UTC+9) is 00:00 UTC.
      expect(tickAt(tokyo, at('2026-03-01T00:00:00.020Z'), LATENESS)).toBe(at('2026-03-01T00:00:00Z'));
      expect(tickAt(tokyo, at('2026-03-01T09:00:00.020Z'), LATENESS)).toBeUndefined();
    });

    it('reads the fields at the utcOffset (minutes) of @Cron', () => {
      const plus2 = cronSchedule(CronTime, { cronTime: '0 0 9 * * *', utcOffset: 120 });
      expect(tickAt(plus2, at('2026-03-01T07:00:00.020Z'), LATENESS)).toBe(at('2026-03-01T07:00:00Z'));
    });

    it('names the zone its fields are read in: the process’s own when @Cron has no timeZone', () => {
      const local = Intl.DateTimeFormat().resolvedOptions().timeZone;
      expect(cronSchedule(CronTime, { cronTime: '0 0 2 * * *' }).description).toContain(`in the process time zone ${local} (no timeZone on @Cron)`);
      expect(cronSchedule(CronTime, { cronTime: '0 0 2 * * *', timeZone: 'Asia/Tokyo' }).description).toBe('cron "0 0 2 * * *" in Asia/Tokyo');
    });

    it('rejects an unknown time zone and an invalid expression', () => {
      expect(() => cronSchedule(CronTime, { cronTime: '0 0 9 * * *', timeZone: 'Mars/Olympus' })).toThrow(/timezone/i);
      expect(() => cronSchedule(CronTime, { cronTime: 'every day' })).toThrow();
    });
  });

  it('runs a one-off Date once, at its time', () => {
    const once = cronSchedule(CronTime, { cronTime: new Date('2026-03-01T12:00:00Z') });
    expect(tickAt(once, at('2026-03-01T12:00:00.005Z'), LATENESS)).toBe(at('2026-03-01T12:00:00Z'));
    expect(tickAt(once, at('2026-03-01T12:00:00.005Z'), LATENESS, at('2026-03-01T12:00:00Z'))).toBe(at('2026-03-01T12:00:00Z'));
    expect(tickAt(once, at('2026-03-01T12:05:00Z'), LATENESS)).toBeUndefined();
  });

  describe('intervals', () => {
    it('is the bucket of the firing time, whatever the phase of the instance', () => {
      const every5s = intervalSchedule(5_000);
      expect(tickAt(every5s, at('2026-03-01T10:00:00.000Z'), LATENESS)).toBe(at('2026-03-01T10:00:00Z'));
      expect(tickAt(every5s, at('2026-03-01T10:00:04.999Z'), LATENESS)).toBe(at('2026-03-01T10:00:00Z'));
      expect(tickAt(every5s, at('2026-03-01T10:00:05.000Z'), LATENESS)).toBe(at('2026-03-01T10:00:05Z'));
      expect(tickAt(intervalSchedule(1_500), 4_400, LATENESS)).toBe(3_000);
    });

    it('rejects a non-positive interval', () => {
      expect(() => intervalSchedule(0)).toThrow(/positive integer/);
    });
  });
});
