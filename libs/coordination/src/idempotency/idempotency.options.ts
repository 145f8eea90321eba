import { ArrayMaxSize, IsArray, IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, ValidateBy } from 'class-validator';
import type { ConcurrentDuplicates } from './idempotency.types.js';

/**
 * Options of the `idempotency` section of `CoordinationModule.forRoot()`.
 *
 * @example
 * CoordinationModule.forRoot({
 *   connection: { url: process.env.REDIS_URL },
 *   idempotency: { ttlMs: 3_600_000, concurrent: 'reject', required: true },
 * });
 */
export interface IdempotencyModuleOptions {
  /** How long a finished outcome is replayed, ms. Default 86_400_000 (24 h), 1_000..30 days. */
  ttlMs?: number;
  /**
   * How long an attempt in flight owns its key without renewal, ms (renewed at a third of it while
   * it runs). An instance that dies mid-request frees the key after this. Default 30_000, at least 1_000.
   */
  leaseMs?: number;
  /** What a duplicate does while the first attempt runs: 'wait' for its outcome (default) or 'reject' (409). */
  concurrent?: ConcurrentDuplicates;
  /** Longest wait of a duplicate for the attempt in flight before 409, ms. Default 10_000, 0..600_000. */
  waitMs?: number;
  /** `@Idempotent` routes refuse requests without the header (400). Default false (they run without idempotency). */
  required?: boolean;
  /** The request header carrying the key. Default 'Idempotency-Key' (IETF httpapi draft). */
  header?: string;
  /**
   * Response headers stored with the response and replayed (case-insensitive), besides the status
   * and body. Default: content-type, location, content-location, etag, last-modified, cache-control.
   */
  replayHeaders?: string[];
  /**
   * The user of a request, for per-user keys and the fingerprint. Default: `request.user.id`
   * (or `.sub`, or `.userId`; a `request.user` with none of them is a 500 naming this option,
   * never a shared key space), else the user of the session SessionGuard attached, else none
   * (anonymous requests share one namespace).
   */
  userOf?: (request: unknown) => string | undefined;
}

/**
 * @example
 * CoordinationModule.forRoot({ idempotency: { ...DEFAULT_IDEMPOTENCY_OPTIONS, waitMs: 2_000 } });
 */
export const DEFAULT_IDEMPOTENCY_OPTIONS = {
  ttlMs: 86_400_000,
  leaseMs: 30_000,
  concurrent: 'wait',
  waitMs: 10_000,
  required: false,
  header: 'Idempotency-Key',
  replayHeaders: ['content-type', 'location', 'content-location', 'etag', 'last-modified', 'cache-control'],
} as const;

/** The `idempotency` section with every default applied. */
export interface ResolvedIdempotencyOptions {
  ttlMs: number;
  leaseMs: number;
  concurrent: ConcurrentDuplicates;
  waitMs: number;
  required: boolean;
  /** Lower-case. */
  header: string;
  /** Lower-case. */
  replayHeaders: readonly string[];
  userOf?: (request: unknown) => string | undefined;
}

/** Injection token of the resolved `idempotency` options section. */
export const IDEMPOTENCY_OPTIONS = Symbol('IDEMPOTENCY_OPTIONS');

/**
 * Bounds shared by the schema and the per-call validation of IdempotencyService and @Idempotent.
 *
 * @example
 * if (key.length > IDEMPOTENCY_LIMITS.keyLength) throw new BadRequestException(`Idempotency-Key: at most ${IDEMPOTENCY_LIMITS.keyLength} characters`);
 * await idempotency.run(key, work, { ttlMs: Math.min(retentionMs, IDEMPOTENCY_LIMITS.ttlMs.max) });
 */
export const IDEMPOTENCY_LIMITS = {
  ttlMs: { min: 1_000, max: 30 * 86_400_000 },
  leaseMs: { min: 1_000, max: 3_600_000 },
  waitMs: { min: 0, max: 600_000 },
  /** Longest idempotency key, in characters (printable ASCII, 0x20..0x7e). */
  keyLength: 255,
  namespaceLength: 200,
} as const;

const L = IDEMPOTENCY_LIMITS;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/;

/** Validates the `idempotency` section of the module options (see IdempotencyModuleOptions). */
export class IdempotencyOptionsSchema {
  @IsOptional() @IsInt() @Min(L.ttlMs.min) @Max(L.ttlMs.max) ttlMs?: number;
  @IsOptional() @IsInt() @Min(L.leaseMs.min) @Max(L.leaseMs.max) leaseMs?: number;
  @IsOptional() @IsIn(['wait', 'reject']) concurrent?: string;
  @IsOptional() @IsInt() @Min(L.waitMs.min) @Max(L.waitMs.max) waitMs?: number;
  @IsOptional() @IsBoolean() required?: boolean;
  @IsOptional() @IsString() @Matches(HEADER_NAME, { message: 'header must be an HTTP header name (a token of 1-100 characters)' }) header?: string;
  @IsOptional() @IsArray() @ArrayMaxSize(100) @IsString({ each: true }) @Matches(HEADER_NAME, { each: true, message: 'replayHeaders must hold HTTP header names' })
  replayHeaders?: string[];
  @IsOptional()
  @ValidateBy({ name: 'isFunction', validator: { validate: (v) => typeof v === 'function', defaultMessage: () => 'userOf must be a function (request) => string | undefined' } })
  userOf?: unknown;
}

/** The `idempotency` section with its defaults applied (validated by IdempotencyOptionsSchema first). */
export function resolveIdempotencyOptions(section: IdempotencyModuleOptions | undefined): ResolvedIdempotencyOptions {
  const d = DEFAULT_IDEMPOTENCY_OPTIONS;
  const raw = section ?? {};
  return {
    ttlMs: raw.ttlMs ?? d.ttlMs,
    leaseMs: raw.leaseMs ?? d.leaseMs,
    concurrent: raw.concurrent ?? d.concurrent,
    waitMs: raw.waitMs ?? d.waitMs,
    required: raw.required ?? d.required,
    header: (raw.header ?? d.header).toLowerCase(),
    replayHeaders: (raw.replayHeaders ?? d.replayHeaders).map((h) => h.toLowerCase()),
    userOf: raw.userOf,
  };
}
