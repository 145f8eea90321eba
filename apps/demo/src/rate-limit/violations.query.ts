import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';

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

  /** Only violations at or after this time (ms since the epoch). */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  sinceMs?: number;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;
}
