import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Max, Min, ValidateNested } from 'class-validator';
import type { ConsumeOptions } from './stream.types.js';

/** Largest `maxLen` / `deadLetterMaxLen` accepted (100 million entries). */
export const MAX_STREAM_LENGTH = 100_000_000;
/** Largest `count` of one `read` / `deadLetters` page. */
export const MAX_READ_COUNT = 10_000;

/**
 * Defaults of every consumer (`consume` options and `@StreamConsumer` override them): the
 * consumer options of ConsumeOptions (see there), without the per-consumer `consumer` and `tenant`.
 *
 * @example
 * streams: { consumerDefaults: { concurrency: 4, maxDeliveries: 3, claimIdleMs: 60_000 } }
 */
export type StreamConsumerDefaults = Omit<ConsumeOptions, 'consumer' | 'tenant'>;

/**
 * Options of the `streams` section of `CoordinationModule.forRoot()`.
 *
 * @example
 * CoordinationModule.forRoot({
 *   connection: { url: process.env.REDIS_URL },
 *   streams: { maxLen: 50_000, consumerDefaults: { concurrency: 4 } },
 * });
 */
export interface StreamModuleOptions {
  /** Approximate length streams are trimmed to on append (XADD MAXLEN ~); 0 never trims. Default 100_000. */
  maxLen?: number;
  /** Approximate length dead-letter streams are trimmed to; 0 never trims. Default 10_000. */
  deadLetterMaxLen?: number;
  /** How long stopping a consumer (and the application) waits for its in-flight handlers, ms. Default 10_000. */
  shutdownTimeoutMs?: number;
  consumerDefaults?: StreamConsumerDefaults;
}

/**
 * @example
 * CoordinationModule.forRoot({ streams: { ...DEFAULT_STREAM_OPTIONS, maxLen: 10_000 } });
 */
export const DEFAULT_STREAM_OPTIONS = {
  maxLen: 100_000,
  deadLetterMaxLen: 10_000,
  shutdownTimeoutMs: 10_000,
  consumerDefaults: { concurrency: 1, batch: 10, blockMs: 5_000, maxDeliveries: 5, claimIdleMs: 30_000, startFrom: 'earliest' },
} as const;

/** The consumer defaults with every default applied. */
export interface ResolvedStreamConsumerDefaults {
  concurrency: number;
  batch: number;
  blockMs: number;
  maxDeliveries: number;
  claimIdleMs: number;
  startFrom: 'earliest' | 'latest';
}

/** The `streams` section with every default applied. */
export interface ResolvedStreamOptions {
  maxLen: number;
  deadLetterMaxLen: number;
  shutdownTimeoutMs: number;
  consumerDefaults: ResolvedStreamConsumerDefaults;
}

/** Injection token of the resolved `streams` options section. */
export const STREAM_OPTIONS = Symbol('STREAM_OPTIONS');

/** Bounds of each consumer option, shared by the schema and the per-call validation of `consume`. */
export const CONSUMER_LIMITS = {
  concurrency: { min: 1, max: 1_000 },
  batch: { min: 1, max: 1_000 },
  blockMs: { min: 1, max: 60_000 },
  maxDeliveries: { min: 1, max: 1_000 },
  claimIdleMs: { min: 1_000, max: 86_400_000 },
} as const;

const L = CONSUMER_LIMITS;

class StreamConsumerDefaultsSchema {
  @IsOptional() @IsInt() @Min(L.concurrency.min) @Max(L.concurrency.max) concurrency?: number;
  @IsOptional() @IsInt() @Min(L.batch.min) @Max(L.batch.max) batch?: number;
  @IsOptional() @IsInt() @Min(L.blockMs.min) @Max(L.blockMs.max) blockMs?: number;
  @IsOptional() @IsInt() @Min(L.maxDeliveries.min) @Max(L.maxDeliveries.max) maxDeliveries?: number;
  @IsOptional() @IsInt() @Min(L.claimIdleMs.min) @Max(L.claimIdleMs.max) claimIdleMs?: number;
  @IsOptional() @IsIn(['earliest', 'latest']) startFrom?: string;
}

/** Validates the `streams` section of the module options (see StreamModuleOptions). */
export class StreamOptionsSchema {
  @IsOptional() @IsInt() @Min(0) @Max(MAX_STREAM_LENGTH) maxLen?: number;
  @IsOptional() @IsInt() @Min(0) @Max(MAX_STREAM_LENGTH) deadLetterMaxLen?: number;
  @IsOptional() @IsInt() @Min(0) @Max(600_000) shutdownTimeoutMs?: number;
  @IsOptional() @ValidateNested() @Type(() => StreamConsumerDefaultsSchema) consumerDefaults?: StreamConsumerDefaultsSchema;
}

/** The `streams` section with its defaults applied (validated by StreamOptionsSchema first). */
export function resolveStreamOptions(section: StreamModuleOptions | undefined): ResolvedStreamOptions {
  const d = DEFAULT_STREAM_OPTIONS;
  const raw = section ?? {};
  const c = raw.consumerDefaults ?? {};
  return {
    maxLen: raw.maxLen ?? d.maxLen,
    deadLetterMaxLen: raw.deadLetterMaxLen ?? d.deadLetterMaxLen,
    shutdownTimeoutMs: raw.shutdownTimeoutMs ?? d.shutdownTimeoutMs,
    consumerDefaults: {
      concurrency: c.concurrency ?? d.consumerDefaults.concurrency,
      batch: c.batch ?? d.consumerDefaults.batch,
      blockMs: c.blockMs ?? d.consumerDefaults.blockMs,
      maxDeliveries: c.maxDeliveries ?? d.consumerDefaults.maxDeliveries,
      claimIdleMs: c.claimIdleMs ?? d.consumerDefaults.claimIdleMs,
      startFrom: c.startFrom ?? d.consumerDefaults.startFrom,
    },
  };
}
