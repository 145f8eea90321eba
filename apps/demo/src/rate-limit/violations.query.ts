import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';

/** Earliest `sinceMs` accepted, 2000-01-01T00:00:00Z: anything earlier is a duration, or seconds taken for ms. */
export const MIN_SINCE_MS = Date.UTC(2000, 0, 1);
/** The latest time a Date can hold. */
const MAX_TIME_MS = 8.64e15;
const SINCE_MS_MESSAGE = 'sinceMs must be a time in ms since the epoch, like Date.now() (Date.now() - 60000 for the last minute), not a duration or seconds';

/** Query of `GET /limits/violations`. */
export class ViolationsQuery {
  /** Only violations of this counter key, e.g. `user:u-bob`. */
  @IsOptional()
  @IsString()
  key?: string;

  /** Only violations of this scope: `user`, `tenant`, `endpoint`, `ip`. */
  @IsOptional()
  @IsString()
  scope?: string;

  /**
   * Only violations at or after this point in time, in ms since the epoch (a timestamp such as
   * `Date.now() - 60000`, not a duration). Values before 2000 are refused with 400.
   */
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: SINCE_MS_MESSAGE })
  @Min(MIN_SINCE_MS, { message: SINCE_MS_MESSAGE })
  @Max(MAX_TIME_MS, { message: SINCE_MS_MESSAGE })
  sinceMs?: number;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;
}
