import { Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, Max, Min, ValidateNested } from 'class-validator';

class ViolationOptionsSchema {
  @IsOptional() @IsInt() @Min(1) @Max(1_000_000) maxPerTenant?: number;
  @IsOptional() @IsInt() @Min(1) @Max(1_000_000_000) alertThreshold?: number;
  @IsOptional() @IsInt() @Min(1) @Max(86_400_000) alertWindowMs?: number;
  @IsOptional() @IsBoolean() publish?: boolean;
  @IsOptional() @IsInt() @Min(1) @Max(60_000) flushIntervalMs?: number;
  @IsOptional() @IsInt() @Min(60_000) @Max(31_536_000_000) retentionMs?: number;
}

/** Validates the `rateLimit` section of CoordinationModule options. */
export class RateLimitOptionsSchema {
  @IsOptional() @IsIn(['local', 'fail-closed']) onRedisUnavailable?: string;
  @IsOptional() @IsInt() @Min(0) @Max(10_000_000) denyCacheMaxEntries?: number;
  @IsOptional() @IsIn(['ietf', 'legacy', 'both', 'none']) headers?: string;
  @IsOptional() @IsBoolean() trustProxy?: boolean;
  @IsOptional() @IsInt() @Min(1) @Max(32) trustedProxies?: number;
  @IsOptional() @ValidateNested() @Type(() => ViolationOptionsSchema) violations?: ViolationOptionsSchema;
}
