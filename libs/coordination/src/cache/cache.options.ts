import { Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsNumber, IsOptional, Max, Min, ValidateNested } from 'class-validator';

/**
 * Options of the in-process L1 in front of Redis (the `cache.l1` section).
 *
 * @example
 * CoordinationModule.forRoot({ connection: { url }, cache: { l1: { maxEntries: 50_000, maxBytes: 256 * 1024 * 1024 } } });
 */
export interface CacheL1ModuleOptions {
  /** Keep recently read entries in process memory; a call can opt out with `{ l1: false }`. Default true. */
  enabled?: boolean;
  /** Most entries the L1 holds (least recently used go first). Default 10_000. */
  maxEntries?: number;
  /** Most bytes the L1 holds, estimated as 2 bytes per character of key and entry text. Default 67_108_864 (64 MiB). */
  maxBytes?: number;
  /**
   * Longest time an entry stays in L1. Entries also leave when no longer fresh (their `ttlMs`
   * ran out) and when any instance writes or invalidates them (the fleet bus). Default 60_000.
   */
  ttlMs?: number;
  /**
   * Hand out the same decoded object to every L1 hit instead of decoding a fresh copy per hit.
   * Faster, but a caller that mutates the value changes it for every later caller: only for
   * values treated as immutable. Default false.
   */
  shareValues?: boolean;
}

/**
 * Options of the `cache` section of `CoordinationModule.forRoot()`.
 *
 * @example
 * CoordinationModule.forRoot({
 *   connection: { url: process.env.REDIS_URL },
 *   cache: { defaultTtlMs: 60_000, staleMs: 30_000, onRedisUnavailable: 'degrade', l1: { ttlMs: 10_000 } },
 * });
 */
export interface CacheModuleOptions {
  /** Lifetime of an entry when a call gives no `ttlMs`. Default 300_000 (5 min). */
  defaultTtlMs?: number;
  /**
   * Default stale-while-revalidate window of `getOrSet`: for this long after an entry's `ttlMs`
   * ran out, a read serves the old value and one instance of the fleet refreshes it in the
   * background. The entry lives `ttlMs + staleMs` in Redis. 0 turns it off. Default 0.
   */
  staleMs?: number;
  /**
   * XFetch (probabilistic early expiration) of `getOrSet`: a fresh hit refreshes the entry in the
   * background, before it expires, with a probability that grows as expiry nears and with the
   * time the loader took (`now - loaderMs * xfetchBeta * ln(random()) >= freshUntil`). Larger
   * refreshes earlier; 0 turns it off. Default 1.
   */
  xfetchBeta?: number;
  /**
   * Lifetime of the lease a `getOrSet` miss takes in Redis while its loader runs (other instances
   * wait for it instead of loading too). Set it above your slowest loader: once it runs out,
   * another instance may load in parallel, and the value of a loader that outlived its lease is
   * returned but not stored (a warning says so). Default 10_000.
   */
  leaseTtlMs?: number;
  /**
   * How long a `getOrSet` miss waits for the loader another instance runs under the lease
   * before calling the loader itself (counted in `stats().leaseWaitTimeouts`). Default 5_000.
   */
  leaseWaitMs?: number;
  /**
   * While Redis is unreachable: `degrade` answers reads from L1, as misses, or by calling the
   * loader (errors counted and logged, never thrown); `throw` makes reads throw
   * RedisUnavailableError. Explicit writes and invalidations throw either way. Default `degrade`.
   */
  onRedisUnavailable?: 'degrade' | 'throw';
  l1?: CacheL1ModuleOptions;
  /** Lifetime of an EmbeddingCache vector when a call gives no `ttlMs`. Default 604_800_000 (7 days). */
  embeddingTtlMs?: number;
}

/**
 * Longest lifetime (`ttlMs`, `staleMs`, `embeddingTtlMs`) the cache accepts: 365 days. Larger values are taken for bugs.
 *
 * @example
 * await cache.set('forever-ish', value, { ttlMs: MAX_CACHE_TTL_MS });
 */
export const MAX_CACHE_TTL_MS = 31_536_000_000;

/**
 * @example
 * CoordinationModule.forRoot({ cache: { ...DEFAULT_CACHE_OPTIONS, staleMs: 30_000 } });
 */
export const DEFAULT_CACHE_OPTIONS = {
  defaultTtlMs: 300_000,
  staleMs: 0,
  xfetchBeta: 1,
  leaseTtlMs: 10_000,
  leaseWaitMs: 5_000,
  onRedisUnavailable: 'degrade',
  l1: { enabled: true, maxEntries: 10_000, maxBytes: 64 * 1024 * 1024, ttlMs: 60_000, shareValues: false },
  embeddingTtlMs: 604_800_000,
} as const;

/** The `cache` section with every default applied. */
export interface ResolvedCacheOptions {
  defaultTtlMs: number;
  staleMs: number;
  xfetchBeta: number;
  leaseTtlMs: number;
  leaseWaitMs: number;
  onRedisUnavailable: 'degrade' | 'throw';
  l1: Required<CacheL1ModuleOptions>;
  embeddingTtlMs: number;
}

/** Injection token of the resolved `cache` options section. */
export const CACHE_OPTIONS = Symbol('CACHE_OPTIONS');

class CacheL1OptionsSchema {
  @IsOptional() @IsBoolean() enabled?: boolean;
  @IsOptional() @IsInt() @Min(1) @Max(100_000_000) maxEntries?: number;
  @IsOptional() @IsInt() @Min(1024) @Max(68_719_476_736) maxBytes?: number;
  @IsOptional() @IsInt() @Min(1) @Max(MAX_CACHE_TTL_MS) ttlMs?: number;
  @IsOptional() @IsBoolean() shareValues?: boolean;
}

/** Validates the `cache` section of the module options (see CacheModuleOptions). */
export class CacheOptionsSchema {
  @IsOptional() @IsInt() @Min(1) @Max(MAX_CACHE_TTL_MS) defaultTtlMs?: number;
  @IsOptional() @IsInt() @Min(0) @Max(MAX_CACHE_TTL_MS) staleMs?: number;
  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(1_000_000) xfetchBeta?: number;
  @IsOptional() @IsInt() @Min(10) @Max(86_400_000) leaseTtlMs?: number;
  @IsOptional() @IsInt() @Min(0) @Max(86_400_000) leaseWaitMs?: number;
  @IsOptional() @IsIn(['degrade', 'throw']) onRedisUnavailable?: string;
  @IsOptional() @ValidateNested() @Type(() => CacheL1OptionsSchema) l1?: CacheL1OptionsSchema;
  @IsOptional() @IsInt() @Min(1) @Max(MAX_CACHE_TTL_MS) embeddingTtlMs?: number;
}

/** The `cache` section with its defaults applied (validated by CacheOptionsSchema first). */
export function resolveCacheOptions(section: CacheModuleOptions | undefined): ResolvedCacheOptions {
  const d = DEFAULT_CACHE_OPTIONS;
  const raw = section ?? {};
  return {
    defaultTtlMs: raw.defaultTtlMs ?? d.defaultTtlMs,
    staleMs: raw.staleMs ?? d.staleMs,
    xfetchBeta: raw.xfetchBeta ?? d.xfetchBeta,
    leaseTtlMs: raw.leaseTtlMs ?? d.leaseTtlMs,
    leaseWaitMs: raw.leaseWaitMs ?? d.leaseWaitMs,
    onRedisUnavailable: raw.onRedisUnavailable ?? d.onRedisUnavailable,
    // A null l1 section means "not configured", as a null section does.
    l1: { ...d.l1, ...(raw.l1 ?? {}) },
    embeddingTtlMs: raw.embeddingTtlMs ?? d.embeddingTtlMs,
  };
}
