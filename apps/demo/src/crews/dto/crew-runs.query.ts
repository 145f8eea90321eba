import { Type } from 'class-transformer';
import { IsISO8601, IsInt, IsOptional, Max, Min } from 'class-validator';

/**
 * Most runs one page of `GET /crews/:crewId/runs` returns.
 *
 * @example
 * GET /crews/market-research/runs?limit=100   # MAX_RUNS_PAGE; 101 is a 400
 */
export const MAX_RUNS_PAGE = 100;

/**
 * Query of `GET /crews/:crewId/runs`: newest first. For the next page, pass the `finishedAt` of
 * the last run as `before`.
 *
 * @example
 * GET /crews/market-research/runs?limit=20&before=2025-01-06T09:04:10.000Z
 */
export class CrewRunsQuery {
  /** Most runs to return. Default 20. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_RUNS_PAGE)
  limit?: number;

  /** Only runs that finished before this time (ISO 8601). */
  @IsOptional()
  @IsISO8601({ strict: true })
  before?: string;
}
