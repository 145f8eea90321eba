import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { QueryInt } from './query-int.js';

/**
 * Upper bound of `durationMs`, the work of one attempt of one agent step (not of the whole run).
 * A run holds its crew's lock while it waits for its steps, so the hold is bounded by
 * `runs.stepsTimeoutMs` (`DEFAULT_RUN_STEPS_TIMEOUT_MS`, 300 s), after which the run ends `failed`;
 * without a timeout it would be about `attempts × MAX_RUN_MS` plus the backoffs (3 × 30 s + 1.5 s)
 * plus the time the steps wait for a free slot (`AGENT_STEP_CONCURRENCY` per instance, shared).
 *
 * @example
 * POST /crews/market-research/runs?durationMs=30000   # MAX_RUN_MS; 30001 is a 400
 */
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
  /** How long each agent "works" (each attempt of its step), in ms, a plain integer. Default 2000. */
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(0)
  @Max(MAX_RUN_MS)
  durationMs?: number;

  /** How many of each agent step's first attempts fail (a simulated model error), to show retries; 3 fails the run. A plain integer 0..3. Default 0. */
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(0)
  @Max(MAX_FAILURES)
  failures?: number;
}
