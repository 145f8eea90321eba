import { Type } from 'class-transformer';
import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';

/**
 * Most dead letters one page of `GET /crews/runs/dead-letters` returns.
 *
 * @example
 * GET /crews/runs/dead-letters?limit=100   # MAX_DEAD_LETTERS_PAGE; 101 is a 400
 */
export const MAX_DEAD_LETTERS_PAGE = 100;

/**
 * Query of `GET /crews/runs/dead-letters`: oldest first. For the next page, pass the `id` of the
 * last dead letter as `after`.
 *
 * @example
 * GET /crews/runs/dead-letters?limit=20&after=1736154250000-0
 */
export class DeadLettersQuery {
  /** Most dead letters to return. Default 20. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_DEAD_LETTERS_PAGE)
  limit?: number;

  /** Only the dead letters after this one (its `id`, `<ms>-<seq>`). */
  @IsOptional()
  @Matches(/^\d{1,20}-\d{1,20}$/, { message: 'after must be the id of a dead letter (<ms>-<seq>)' })
  after?: string;
}
