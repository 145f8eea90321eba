import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

/** Upper bound of a simulated run, so one request cannot hold a crew for long. */
export const MAX_RUN_MS = 30_000;

/** Query of `POST /crews/:crewId/runs`. */
export class RunCrewQuery {
  /** How long the agents "work", in ms. Default 2000. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(MAX_RUN_MS)
  durationMs?: number;
}
