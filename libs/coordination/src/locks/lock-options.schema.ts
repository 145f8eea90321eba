import { IsBoolean, IsInt, IsOptional, Max, Min } from 'class-validator';

/** Validates the `locks` section of the module options (see LockModuleOptions). */
export class LockOptionsSchema {
  @IsOptional() @IsInt() @Min(1) @Max(86_400_000) defaultTtlMs?: number;
  @IsOptional() @IsInt() @Min(0) @Max(86_400_000) defaultWaitMs?: number;
  @IsOptional() @IsInt() @Min(1) @Max(604_800_000) maxTtlMs?: number;
  @IsOptional() @IsBoolean() autoRenew?: boolean;
  @IsOptional() @IsInt() @Min(1) @Max(3_600_000) fallbackPollMs?: number;
  @IsOptional() @IsInt() @Min(100) @Max(3_600_000) waiterLeaseMs?: number;
  @IsOptional() @IsBoolean() deadlockDetection?: boolean;
  @IsOptional() @IsInt() @Min(1) @Max(256) deadlockMaxDepth?: number;
  @IsOptional() @IsBoolean() unsafeLocalFallbackOnOutage?: boolean;
  @IsOptional() @IsBoolean() releaseOnShutdown?: boolean;
  @IsOptional() @IsBoolean() events?: boolean;
}
