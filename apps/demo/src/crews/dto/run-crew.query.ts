import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

/** Upper bound of a simulated run, so one request cannot hold a crew for long. */
export const MAX_RUN_MS = 30_000;

/**
 * Upper bound of `failures`: an agent step has 3 attempts (AGENT_STEP_RETRIES), so 3 fails it for good.
 *
 * @example
 * POST /crews/market-research/runs?durationMs=0&failures=3   # every step fails: the run is `failed`
 */
export const MAX_FAILURES = 3;

/** Query of `POST /crews/:crewId/runs`. */
export class RunCrewQuery {
  /** How long each agent "works" (one agent step), in ms. Default 2000. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(MAX_RUN_MS)
  durationMs?: number;

  /** How many of each agent step's first attempts fail (a simulated model error), to show retries; 3 fails the run. Default 0. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(MAX_FAILURES)
  failures?: number;
}
