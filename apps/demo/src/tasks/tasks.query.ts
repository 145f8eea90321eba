import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

/**
 * Recent tasks `GET /tasks` lists per task name unless `limit` says otherwise.
 *
 * @example
 * GET /tasks            # the newest DEFAULT_RECENT_TASKS tasks of each name
 */
export const DEFAULT_RECENT_TASKS = 20;

/** Query of `GET /tasks`. */
export class TasksQuery {
  /** Recent tasks per task name, newest first: 1-100, default 20. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;
}
