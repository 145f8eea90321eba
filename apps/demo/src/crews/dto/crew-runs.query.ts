import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';

/**
 * Most runs one page of `GET /crews/:crewId/runs` returns.
 *
 * @example
 * GET /crews/market-research/runs?limit=100   # MAX_RUNS_PAGE; 101 is a 400
 */
export const MAX_RUNS_PAGE = 100;

/**
 * Query of `GET /crews/:crewId/runs`: newest first. For the next page, pass the response's
 * `X-Next-Cursor` header as `cursor` (there is none after the last page).
 *
 * @example
 * GET /crews/market-research/runs?limit=20&cursor=WzE3MzYxNTQyNTAwMDAsInItMSJd
 */
export class CrewRunsQuery {
  /** Most runs to return. Default 20. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_RUNS_PAGE)
  limit?: number;

  /** Where the page starts: the `X-Next-Cursor` of the page before (opaque). */
  @IsOptional()
  @IsString()
  cursor?: string;
}
