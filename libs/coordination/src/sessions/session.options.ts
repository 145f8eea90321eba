import { Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength, ValidateBy, ValidateNested } from 'class-validator';
import { MAX_SESSIONS_PER_USER, MAX_SESSION_TTL_MS } from './session-limits.js';

/**
 * How the SessionGuard reads the session id from a cookie, and how SessionCookies writes it
 * (the `sessions.cookie` section). The cookie is always httpOnly and signed (HMAC-SHA256, the
 * `s:<value>.<signature>` format of cookie-signature, as express-session and cookie-parser sign).
 *
 * @example
 * sessions: { cookie: { secret: process.env.SESSION_SECRET!, sameSite: 'strict' } }
 */
export interface SessionCookieModuleOptions {
  /**
   * Cookie name. Default `sid`. Prefer a `__Host-` name (`__Host-sid`) in production: browsers
   * then accept the cookie only from this exact host, over HTTPS, for path `/`, so a sibling
   * subdomain cannot set or shadow it (cookie tossing). Such a name needs `secure: true`, `path: '/'`
   * and no `domain` (checked at startup); a `__Secure-` name needs `secure: true`.
   */
  name?: string;
  /**
   * Signing secret(s), each at least 32 characters. The first signs; every one verifies, so a
   * secret can be rotated by putting the new one first. Required for cookies: without it the
   * guard reads only the `Authorization: Bearer` header.
   */
  secret?: string | string[];
  /** Send only over HTTPS. Default true. */
  secure?: boolean;
  /**
   * Default `lax`. SameSite is what defends cookie-authenticated routes against cross-site request
   * forgery: the library sends no CSRF token. `lax` still sends the cookie on cross-site top-level
   * GET navigations, so keep GET handlers free of side effects; `none` (which needs `secure: true`,
   * checked at startup) sends it on every cross-site request. For unsafe methods (POST, PUT,
   * PATCH, DELETE) an application should also check that the request is same-origin: the
   * `Origin` header against its own origin, or `Sec-Fetch-Site` being `same-origin`.
   */
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

export { MAX_SESSION_TTL_MS };

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

/** Browsers match cookie name prefixes case-insensitively (RFC 6265bis). */
const HOST_PREFIX = /^__host-/i;
const SECURE_PREFIX = /^__(?:host|secure)-/i;

/**
 * A check of one cookie attribute against the others (the `sessions.cookie` object), failing
 * with `message`; `name` is the constraint's name (one per check).
 */
function CookieRule(name: string, valid: (value: unknown, cookie: SessionCookieOptionsSchema) => boolean, message: string): PropertyDecorator {
  return ValidateBy({ name, validator: { validate: (value, args) => valid(value, args?.object as SessionCookieOptionsSchema), defaultMessage: () => message } });
}

const prefixed = (cookie: SessionCookieOptionsSchema, prefix: RegExp) => typeof cookie.name === 'string' && prefix.test(cookie.name);

class SessionCookieOptionsSchema {
  @IsOptional() @Matches(COOKIE_NAME, { message: 'name must be a cookie name token (letters, digits, !#$%&\'*+-.^_`|~), at most 64 characters' }) name?: string;
  @IsOptional() @IsString({ each: true }) @MinLength(32, { each: true, message: 'secret must be at least 32 characters (each, when several)' }) secret?: string | string[];
  @IsOptional() @IsBoolean()
  @CookieRule('securePrefix', (secure, cookie) => secure !== false || !prefixed(cookie, SECURE_PREFIX), 'must be true for a "__Host-" or "__Secure-" cookie name (browsers refuse such a cookie without Secure)')
  secure?: boolean;
  @IsOptional() @IsIn(['lax', 'strict', 'none'])
  @CookieRule('sameSiteNone', (sameSite, cookie) => sameSite !== 'none' || cookie.secure !== false, '"none" needs secure: true (browsers refuse a SameSite=None cookie without Secure)')
  sameSite?: string;
  @IsOptional() @IsString() @Matches(/^\/[\x21-\x3a\x3c-\x7e]*$/, { message: 'path must start with "/" and hold no ";", space or control character' })
  @CookieRule('hostPrefixPath', (path, cookie) => path === '/' || !prefixed(cookie, HOST_PREFIX), 'must be "/" for a "__Host-" cookie name')
  path?: string;
  @IsOptional() @IsString() @MaxLength(253) @Matches(/^\.?[A-Za-z0-9.-]+$/, { message: 'domain must be a host name' })
  @CookieRule('hostPrefixDomain', (_domain, cookie) => !prefixed(cookie, HOST_PREFIX), 'must not be set for a "__Host-" cookie name (the cookie belongs to the exact host)')
  domain?: string;
}

/** Validates the `sessions` section of the module options (see SessionModuleOptions). */
export class SessionOptionsSchema {
  @IsOptional() @IsInt() @Min(1_000) @Max(MAX_SESSION_TTL_MS) ttlMs?: number;
  @IsOptional() @IsInt() @Min(1_000) @Max(MAX_SESSION_TTL_MS) absoluteTtlMs?: number;
  @IsOptional() @IsBoolean() sliding?: boolean;
  @IsOptional() @IsInt() @Min(0) @Max(MAX_SESSIONS_PER_USER) maxPerUser?: number;
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
