/**
 * Tick identity of `@SingletonJob` handlers: every instance of a fleet computes the same tick (a
 * scheduled time, ms since the epoch) from the same schedule, whenever its own timer fires, so the
 * tick store can let exactly one of them run it. Pure functions of the schedule and the clock.
 */

/** The part of `cron`'s CronTime a schedule needs (`getNextDateFrom` returns a luxon DateTime). */
export interface CronTimeLike {
  getNextDateFrom(start: Date, timeZone?: string): { toMillis(): number };
}

/** The CronTime class of the `cron` package (a dependency of @nestjs/schedule). */
export type CronTimeClass = new (source: never, timeZone?: never, utcOffset?: never) => CronTimeLike;

/** What `@Cron(cronTime, options)` stored (SCHEDULE_CRON_OPTIONS): the fields ticks depend on. */
export interface CronSource {
  /** A cron expression, or a one-off Date / luxon DateTime. */
  readonly cronTime: unknown;
  readonly timeZone?: unknown;
  readonly utcOffset?: unknown;
}

/** When a job's ticks are. */
export type JobSchedule =
  /** `@Cron`: `next(ms)` is the first scheduled time strictly after `ms` (undefined: none). */
  | { readonly kind: 'cron'; readonly description: string; next(afterMs: number): number | undefined }
  /** `@Interval(everyMs)`: the ticks are the multiples of `everyMs` since the epoch. */
  | { readonly kind: 'interval'; readonly description: string; readonly everyMs: number };

/**
 * Loads `cron`'s CronTime (imported only when a cron singleton job exists); throws naming the fix
 * when the package is missing.
 *
 * @example
 * const CronTime = await loadCronTime();
 * const schedule = cronSchedule(CronTime, { cronTime: '0 0 2 * * *', timeZone: 'Europe/Paris' });
 */
export async function loadCronTime(): Promise<CronTimeClass> {
  try {
    const module = (await import('cron')) as unknown as { CronTime?: CronTimeClass; default?: { CronTime?: CronTimeClass } };
    const CronTime = module.CronTime ?? module.default?.CronTime;
    if (typeof CronTime !== 'function') throw new Error('the module has no CronTime export');
    return CronTime;
  } catch (error) {
    throw new Error(
      `@SingletonJob() on a @Cron() method needs the "cron" package (a dependency of @nestjs/schedule) to compute its ticks, ` +
        `and it could not be loaded (${error instanceof Error ? error.message : String(error)}); install @nestjs/schedule with its dependencies`,
    );
  }
}

/**
 * The schedule of a `@Cron()` method, from its options (expression or one-off date, `timeZone` or
 * `utcOffset` in minutes, as cron takes them). Throws (cron's own error) on an invalid expression
 * or time zone. Without `timeZone` / `utcOffset` the fields are read in the process's own time
 * zone (`TZ`), like `@Cron` does: the description says so (it is logged at registration), since a
 * fleet whose processes run in different zones would then run the job once per zone.
 *
 * @example
 * const daily = cronSchedule(CronTime, { cronTime: '0 30 2 * * *', timeZone: 'UTC' });
 * daily.next(Date.parse('2026-01-01T00:00:00Z')); // Date.parse('2026-01-01T02:30:00Z')
 */
export function cronSchedule(CronTime: CronTimeClass, source: CronSource): JobSchedule {
  const { cronTime, timeZone, utcOffset } = source;
  const fixed = fixedMs(cronTime);
  if (fixed !== undefined) {
    return { kind: 'cron', description: `at ${new Date(fixed).toISOString()}`, next: (afterMs) => (fixed > afterMs ? fixed : undefined) };
  }
  if (typeof cronTime !== 'string') throw new Error(`the cron time must be a string, a Date or a luxon DateTime, got ${typeof cronTime}`);
  const zone = typeof timeZone === 'string' && timeZone !== '' ? timeZone : undefined;
  const offset = typeof utcOffset === 'number' ? utcOffset : undefined;
  const cron = new CronTime(cronTime as never, (zone ?? null) as never, (zone === undefined ? (offset ?? null) : null) as never);
  // The zone the expression's fields are read in, as CronJob reads them (CronTime.sendAt).
  const readIn = zone ?? (offset !== undefined ? offsetZone(offset) : undefined);
  // Without a zone the fields are read in this process's time zone (TZ): a fleet whose processes
  // run in different zones would run such a job once per zone. Registration logs it.
  const where = readIn ?? `the process time zone ${Intl.DateTimeFormat().resolvedOptions().timeZone} (no timeZone on @Cron)`;
  return {
    kind: 'cron',
    description: `cron ${JSON.stringify(cronTime)} in ${where}`,
    next: (afterMs) => cron.getNextDateFrom(new Date(afterMs), readIn).toMillis(),
  };
}

/**
 * The schedule of an `@Interval(everyMs)` method.
 *
 * @example
 * intervalSchedule(5_000); // ticks at every multiple of 5 s since the epoch
 */
export function intervalSchedule(everyMs: number): JobSchedule {
  if (!Number.isSafeInteger(everyMs) || everyMs < 1) throw new Error(`the interval must be a positive integer of ms, got ${String(everyMs)}`);
  return { kind: 'interval', description: `every ${everyMs} ms`, everyMs };
}

/**
 * The tick a timer firing at `nowMs` runs, or undefined when none may run: a cron timer that fired
 * later than `maxLatenessMs` after every scheduled time (others ran it), or a clock that stepped
 * back behind the previous tick this instance saw (`previousMs`).
 *
 * Cron: the LATEST scheduled time ≤ now among those after now − maxLatenessMs. There is no early
 * window: cron's CronJob never fires before the scheduled time (when its setTimeout fires early by
 * `Date.now()`, it re-checks and reschedules the remainder), and the runner reads the clock after
 * that. An early window would only hurt: a timer late by more than (interval − window) would claim
 * the NEXT tick ahead of time and lose its own. The search starts just before the previous tick
 * this instance computed (`previousMs`) when that is later, so an every-second job costs one or two
 * `next` calls, and a second firing for the same tick finds it again (the store answers 'taken').
 * Interval: the bucket `floor(now / everyMs) * everyMs` (instances' intervals run in different
 * phases; the bucket is the tick).
 *
 * @example
 * const tick = tickAt(schedule, Date.now(), 60_000, lastTick);
 * if (tick === undefined) skip('late');
 */
export function tickAt(schedule: JobSchedule, nowMs: number, maxLatenessMs: number, previousMs?: number): number | undefined {
  if (schedule.kind === 'interval') return Math.floor(nowMs / schedule.everyMs) * schedule.everyMs;
  // `next` is strictly after its argument: start just before the previous tick so a second firing
  // for that same tick finds it again. The last second first: the latest time of the whole window
  // is in it whenever it holds one (a frequent job, whose first tick would otherwise walk the
  // whole lateness window).
  const floor = previousMs === undefined ? -Infinity : previousMs - 1;
  const recent = latestIn(schedule, Math.max(floor, nowMs - Math.min(maxLatenessMs, 1_000)), nowMs);
  if (recent !== undefined || maxLatenessMs <= 1_000) return recent;
  return latestIn(schedule, Math.max(floor, nowMs - maxLatenessMs), nowMs);
}

/** The latest scheduled time in (fromMs, toMs]. */
function latestIn(schedule: Extract<JobSchedule, { kind: 'cron' }>, fromMs: number, toMs: number): number | undefined {
  let found: number | undefined;
  for (let next = schedule.next(fromMs); next !== undefined && next <= toMs; next = schedule.next(next)) found = next;
  return found;
}

function fixedMs(cronTime: unknown): number | undefined {
  if (cronTime instanceof Date) return cronTime.getTime();
  // A luxon DateTime (not imported here): an object with isLuxonDateTime and toMillis().
  if (typeof cronTime === 'object' && cronTime !== null && (cronTime as { isLuxonDateTime?: unknown }).isLuxonDateTime === true) {
    return (cronTime as { toMillis(): number }).toMillis();
  }
  return undefined;
}

/** `UTC+hh:mm` for an offset in minutes, as CronTime.sendAt names it. */
function offsetZone(offsetMinutes: number): string {
  const sign = offsetMinutes < 0 ? '-' : '+';
  const hours = Math.trunc(offsetMinutes / 60);
  const minutes = Math.abs(offsetMinutes - hours * 60);
  return `UTC${sign}${String(Math.abs(hours)).padStart(2, '0')}:${String(minutes).padStart(2, '0')}`;
}
