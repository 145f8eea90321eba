import { Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength, ValidateNested } from 'class-validator';

/**
 * How the SessionGuard reads the session id from a cookie, and how SessionCookies writes it
 * (the `sessions.cookie` section). The cookie is always httpOnly and signed (HMAC-SHA256, the
 * `s:<value>.<signature>` format of cookie-signature, as express-session and cookie-parser sign).
 *
 * @example
 * sessions: { cookie: { secret: process.env.SESSION_SECRET!, sameSite: 'strict' } }
 */
export interface SessionCookieModuleOptions {
  /** Cookie name. Default `sid`. */
  name?: string;
  /**
   * Signing secret(s), each at least 32 characters. The first signs; every one verifies, so a
   * secret can be rotated by putting the new one first. Required for cookies: without it the
   * guard reads only the `Authorization: Bearer` header.
   */
  secret?: string | string[];
  /** Send only over HTTPS. Default true. */
  secure?: boolean;
  /** Default `lax`. */
  sameSite?: 'lax' | 'strict' | 'none';
  /** Default `/`. */
  path?: string;
  domain?: string;
}

/**
 * Options of the `sessions` section of `CoordinationModule.forRoot()`.
 *
 * @example
 * CoordinationModule.forRoot({
 *   connection: { url: process.env.REDIS_URL },
 *   sessions: { ttlMs: 30 * 60_000, absoluteTtlMs: 12 * 3_600_000, maxPerUser: 5, cookie: { secret: process.env.SESSION_SECRET! } },
 * });
 */
export interface SessionModuleOptions {
  /** Idle lifetime of a session: it ends this long after its last use (sliding). Default 86_400_000 (1 day). */
  ttlMs?: number;
  /** Longest lifetime of a session, however often it is used. Default 604_800_000 (7 days). */
  absoluteTtlMs?: number;
  /** Whether `get` (and so the SessionGuard) restarts the idle lifetime. Default true. */
  sliding?: boolean;
  /** Most live sessions per user; 0 for no limit. Default 0. */
  maxPerUser?: number;
  /** At `maxPerUser`: `evict-oldest` ends the user's oldest sessions, `reject` throws SessionLimitError. Default `evict-oldest`. */
  onMaxPerUser?: 'evict-oldest' | 'reject';
  /**
   * How often one pass removes expired sessions from the per-user indexes (and announces
   * `session.expired`); reads of a user's sessions prune them too. 0 turns the pass off. Default 60_000.
   */
  pruneIntervalMs?: number;
  /** Accept the session id from an `Authorization: Bearer <id>` header. Default true. */
  bearer?: boolean;
  cookie?: SessionCookieModuleOptions;
}

/**
 * Longest lifetime (`ttlMs`, `absoluteTtlMs`) sessions accept: 365 days.
 *
 * @example
 * sessions: { absoluteTtlMs: MAX_SESSION_TTL_MS }
 */
export const MAX_SESSION_TTL_MS = 31_536_000_000;

/**
 * @example
 * CoordinationModule.forRoot({ sessions: { ...DEFAULT_SESSION_OPTIONS, maxPerUser: 3 } });
 */
export const DEFAULT_SESSION_OPTIONS = {
  ttlMs: 86_400_000,
  absoluteTtlMs: 604_800_000,
  sliding: true,
  maxPerUser: 0,
  onMaxPerUser: 'evict-oldest',
  pruneIntervalMs: 60_000,
  bearer: true,
  cookie: { name: 'sid', secure: true, sameSite: 'lax', path: '/' },
} as const;

/** The `sessions.cookie` section with its defaults applied; `secrets` is empty without a secret. */
export interface ResolvedSessionCookieOptions {
  name: string;
  secrets: readonly string[];
  secure: boolean;
  sameSite: 'lax' | 'strict' | 'none';
  path: string;
  domain?: string;
}

/** The `sessions` section with every default applied. */
export interface ResolvedSessionOptions {
  ttlMs: number;
  absoluteTtlMs: number;
  sliding: boolean;
  maxPerUser: number;
  onMaxPerUser: 'evict-oldest' | 'reject';
  pruneIntervalMs: number;
  bearer: boolean;
  cookie: ResolvedSessionCookieOptions;
}

/** Injection token of the resolved `sessions` options section. */
export const SESSION_OPTIONS = Symbol('SESSION_OPTIONS');

const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;

class SessionCookieOptionsSchema {
  @IsOptional() @Matches(COOKIE_NAME, { message: 'name must be a cookie name token (letters, digits, !#$%&\'*+-.^_`|~), at most 64 characters' }) name?: string;
  @IsOptional() @IsString({ each: true }) @MinLength(32, { each: true, message: 'secret must be at least 32 characters (each, when several)' }) secret?: string | string[];
  @IsOptional() @IsBoolean() secure?: boolean;
  @IsOptional() @IsIn(['lax', 'strict', 'none']) sameSite?: string;
  @IsOptional() @IsString() @Matches(/^\/[\x21-\x3a\x3c-\x7e]*$/, { message: 'path must start with "/" and hold no ";", space or control character' }) path?: string;
  @IsOptional() @IsString() @MaxLength(253) @Matches(/^\.?[A-Za-z0-9.-]+$/, { message: 'domain must be a host name' }) domain?: string;
}

/** Validates the `sessions` section of the module options (see SessionModuleOptions). */
export class SessionOptionsSchema {
  @IsOptional() @IsInt() @Min(1_000) @Max(MAX_SESSION_TTL_MS) ttlMs?: number;
  @IsOptional() @IsInt() @Min(1_000) @Max(MAX_SESSION_TTL_MS) absoluteTtlMs?: number;
  @IsOptional() @IsBoolean() sliding?: boolean;
  @IsOptional() @IsInt() @Min(0) @Max(100_000) maxPerUser?: number;
  @IsOptional() @IsIn(['evict-oldest', 'reject']) onMaxPerUser?: string;
  @IsOptional() @IsInt() @Min(0) @Max(86_400_000) pruneIntervalMs?: number;
  @IsOptional() @IsBoolean() bearer?: boolean;
  @IsOptional() @ValidateNested() @Type(() => SessionCookieOptionsSchema) cookie?: SessionCookieOptionsSchema;
}

/** The `sessions` section with its defaults applied (validated by SessionOptionsSchema first). */
export function resolveSessionOptions(section: SessionModuleOptions | undefined): ResolvedSessionOptions {
  const d = DEFAULT_SESSION_OPTIONS;
  const raw = section ?? {};
  const cookie = raw.cookie ?? {};
  const secret = cookie.secret;
  return {
    ttlMs: raw.ttlMs ?? d.ttlMs,
    absoluteTtlMs: raw.absoluteTtlMs ?? d.absoluteTtlMs,
    sliding: raw.sliding ?? d.sliding,
    maxPerUser: raw.maxPerUser ?? d.maxPerUser,
    onMaxPerUser: raw.onMaxPerUser ?? d.onMaxPerUser,
    pruneIntervalMs: raw.pruneIntervalMs ?? d.pruneIntervalMs,
    bearer: raw.bearer ?? d.bearer,
    cookie: {
      name: cookie.name ?? d.cookie.name,
      secrets: secret === undefined ? [] : Array.isArray(secret) ? [...secret] : [secret],
      secure: cookie.secure ?? d.cookie.secure,
      sameSite: cookie.sameSite ?? d.cookie.sameSite,
      path: cookie.path ?? d.cookie.path,
      domain: cookie.domain,
    },
  };
}
