import { isIP } from 'node:net';
import type { CoordinationModuleOptions } from '@nest-coordination/core';
import { DEFAULT_RUN_STEPS_TIMEOUT_MS, type CrewRunsConfig } from './crews/crew-run-steps.js';

/** Request header that carries the company (tenant) id. */
export const COMPANY_HEADER = 'x-company-id';

/** Request header that names the calling user (the demo's stand-in for real authentication, kept for scripts). */
export const USER_HEADER = 'x-user-id';

/**
 * Name of the demo's session cookie (signed, httpOnly), set by `POST /auth/login`.
 *
 * @example
 * curl -c jar.txt -H 'content-type: application/json' -d '{"userId":"u-ada","companyId":"acme"}' localhost:3000/auth/login
 * curl -b jar.txt localhost:3000/crews   # sends demo.sid=s%3A…
 */
export const SESSION_COOKIE = 'demo.sid';

/**
 * The cookie signing secret used when `SESSION_SECRET` is not set. **For local development
 * only**: it is public (it is in this file), so anyone could sign a cookie of their own with
 * it (they would still need a live session id to sign). `demoConfigFromEnv` refuses it when
 * `NODE_ENV=production`, and `main.ts` warns whenever it is used.
 *
 * @example
 * SESSION_SECRET="$(openssl rand -base64 48)" npm start   # anywhere but your own machine
 */
export const DEV_SESSION_SECRET = 'demo-DEV-ONLY-session-secret-set-SESSION_SECRET';

/** A session ends after this long without a request (sliding): a working day. */
export const SESSION_IDLE_TTL_MS = 8 * 3_600_000;

/** A session ends this long after login, however busy: a week. */
export const SESSION_ABSOLUTE_TTL_MS = 7 * 86_400_000;

/** Live sessions one user may have; the next login ends the oldest. */
export const SESSIONS_PER_USER = 10;

/** Limits of `GET /crews/events/stream`, the SSE stream of a company's crew events. */
export interface StreamsConfig {
  /**
   * Open streams one user may hold on one instance; the next gets 429. Each stream costs the
   * instance a subscription, and writing every event once more: one user must not stall it.
   */
  maxPerUser: number;
  /** A comment (`: heartbeat`) is sent this often, so proxies keep an idle stream open. */
  heartbeatMs: number;
  /**
   * Quota of one user posting crew events (`POST /crews/:crewId/events`), a token bucket: `burst`
   * at once, refilled at `limit` per `windowMs`. Every event is written to every open stream of
   * the company, so one user must not flood them.
   */
  publishQuota: { limit: number; windowMs: number; burst: number };
}

/**
 * Where the demo keeps its crews, its stand-in for a database (`CrewStore`): in Redis when
 * `redisUrl` is set, so that every instance reads the edits of every other; in the process's
 * memory otherwise (one instance).
 */
export interface StoreConfig {
  redisUrl?: string;
  /** First segment of the store's keys: `<keyPrefix>:crews:<companyId>`. */
  keyPrefix: string;
}

/** How the demo's HTTP server sees its clients. */
export interface HttpConfig {
  /**
   * The proxies in front of the demo (TLS terminators, load balancers) whose `X-Forwarded-For`
   * is believed: addresses, CIDR subnets, or Express's names `loopback`, `linklocal`,
   * `uniquelocal`. Applied as Express's `trust proxy` setting, so `request.ip` (which
   * `RateLimitGuard` counts `ip` rules by) is the client's address for a request that came
   * through one of them, and the peer's address for any other: a client that reaches the demo
   * directly cannot pick its address by writing the header. Empty: the header is ignored.
   */
  trustedProxies: string[];
}

/** How the fleet's `crew-run-history` consumer group writes run histories from the crew event stream. */
export interface RunHistoryConfig {
  /**
   * Deliveries of a run event before it is set aside in the stream's dead letters (where an owner
   * replays it: `POST /crews/runs/dead-letters/:id/replay`). High, because writing a run again is
   * harmless (the store keeps one record per run id) and a run set aside is missing from the
   * history until replayed: at the default `claimIdleMs` (30 s) a failing write is retried for
   * about half an hour, within the hour or so the stream (about 10 000 entries) keeps even at
   * the run rate limits' peak, after which a still pending event could be trimmed away unhandled.
   */
  maxDeliveries: number;
}

/**
 * When the nightly report runs (a `@Cron` job that runs once per fleet: `@SingletonJob`).
 *
 * @example
 * const config = { ...demoConfigFromEnv(), reports: { cron: '* * * * * *' } }; // a report every second (tests)
 */
export interface ReportsConfig {
  /**
   * A cron expression (five fields, or six with seconds first), in UTC, so every instance of the
   * fleet names the same ticks whatever its own time zone. Unset: `NIGHTLY_REPORT_CRON`.
   */
  cron?: string;
}

/** Every night at 02:00 UTC (seconds first). */
export const NIGHTLY_REPORT_CRON = '0 0 2 * * *';

/** The shortest `METRICS_TOKEN` accepted: long enough that it cannot be guessed by trying. */
export const METRICS_TOKEN_MIN_LENGTH = 16;

/**
 * Who may read `GET /metrics`, whose exposition names every company (tenant ids as labels) and
 * its activity. From `METRICS_TOKEN` and `NODE_ENV`:
 * - `token`: a scrape must send `Authorization: Bearer <token>`; anything else gets 401.
 * - `open`: anyone, with no credentials (development, no `METRICS_TOKEN`).
 * - `off`: nobody, `/metrics` is not served (404): production without `METRICS_TOKEN`.
 *
 * @example
 * const config = { ...demoConfigFromEnv(), metrics: { access: 'token', token: 'a-test-token-of-16+chars' } };
 */
export type MetricsConfig = { access: 'token'; token: string } | { access: 'open' } | { access: 'off' };

/** Everything the demo needs to boot; built from the environment by `demoConfigFromEnv`. */
export interface DemoConfig {
  coordination: CoordinationModuleOptions;
  streams: StreamsConfig;
  store: StoreConfig;
  http: HttpConfig;
  runHistory: RunHistoryConfig;
  /** How crew runs wait for their agent steps (`stepsTimeoutMs`, default `DEFAULT_RUN_STEPS_TIMEOUT_MS`). */
  runs: CrewRunsConfig;
  /** When the nightly report runs. */
  reports: ReportsConfig;
  /** Who may read `GET /metrics`. */
  metrics: MetricsConfig;
}

export const DEFAULT_STREAMS_CONFIG: StreamsConfig = { maxPerUser: 5, heartbeatMs: 15_000, publishQuota: { limit: 10, windowMs: 1_000, burst: 20 } };

/**
 * @example
 * const config = { ...demoConfigFromEnv(), runHistory: { ...DEFAULT_RUN_HISTORY_CONFIG, maxDeliveries: 2 } }; // a test's quick dead letters
 */
export const DEFAULT_RUN_HISTORY_CONFIG: RunHistoryConfig = { maxDeliveries: 50 };

/**
 * TTL of a crew run's lock. It renews itself while the run works (`locks.autoRenew`), so this
 * only bounds how long a crew stays locked after its instance died.
 */
export const CREW_RUN_LOCK_TTL_MS = 10_000;

/**
 * Reads the demo's configuration from environment variables:
 * - `REDIS_URL`: Redis to coordinate through; unset means the in-memory driver.
 * - `COORD_KEY_PREFIX`: first segment of every key and channel (default `demo`).
 * - `COORD_INSTANCE_ID`: this replica's name (the library's `instanceId`): 1-128 letters, digits,
 *   `_`, `.`, `:` or `-`, starting with a letter or digit. Its stream consumers are named after
 *   it, so a replica restarted under the same name handles the run events it left pending first.
 *   Unset: the library's default, hostname-pid-random, new at every boot (what a replica left
 *   pending is then reclaimed by another consumer after `claimIdleMs`). Give each replica its
 *   own name: the library tells instances apart by it (two running under one name would share
 *   their pending entries, and each would take the other's cache invalidations for its own).
 * - `SESSION_SECRET`: signs the session cookie, at least 32 characters; several, comma-separated,
 *   to rotate (the first signs, every one verifies). Unset: `DEV_SESSION_SECRET`, a public
 *   development default, refused when `NODE_ENV=production`.
 * - `SESSION_COOKIE_SECURE`: `true` or `false`, whether the cookie is sent over HTTPS only.
 *   Unset: true when `NODE_ENV=production` (TLS ends at a proxy in front of the demo), false
 *   otherwise, because the demo itself serves plain HTTP (`app.listen`), and a Secure cookie
 *   is not sent back over `http://` (browsers make an exception for `localhost` only).
 * - `TRUSTED_PROXIES`: comma-separated addresses or CIDR subnets (or `loopback`, `linklocal`,
 *   `uniquelocal`) of the proxies in front of the demo, e.g. `10.0.0.0/8`; see
 *   `HttpConfig.trustedProxies`. Unset: none, so every login behind a proxy would come from the
 *   proxy's address and share one `login-ip` limit of 20 a minute.
 * - `DEMO_REPORT_CRON`: when the nightly report runs, a cron expression in UTC (five fields, or
 *   six with seconds first), e.g. `* * * * * *` every second. Unset: `NIGHTLY_REPORT_CRON`
 *   (02:00). Give every instance the same: each ticks on its own, one of them runs each tick.
 * - `METRICS_TOKEN`: the bearer token `GET /metrics` requires (Prometheus' `authorization`
 *   setting), at least `METRICS_TOKEN_MIN_LENGTH` characters, no spaces. Unset: `/metrics` is
 *   open to anyone outside production and not served at all when `NODE_ENV=production`
 *   (`MetricsConfig`).
 *
 * Tenancy is `required`: a request without a company (no session, no `x-company-id`) is
 * rejected with 400, except on routes marked `@TenantOptional()` such as `/health`, which load
 * balancers call without one. `DemoAuthGuard` additionally turns a user outside that company
 * into a 403.
 *
 * Sessions (`POST /auth/login`) idle out after `SESSION_IDLE_TTL_MS` without a request and end
 * `SESSION_ABSOLUTE_TTL_MS` after login; a user's `SESSIONS_PER_USER + 1`th login ends their
 * oldest session. The cookie `SESSION_COOKIE` is signed, httpOnly and `SameSite=Lax` (a
 * cross-site form cannot post with it; the login itself refuses cross-site requests:
 * SameOriginJsonGuard).
 *
 * Metrics: the configuration is plain data; the meter provider that `GET /metrics` serves
 * (`DemoMetrics`) is created with the application, one per app (AppModule).
 *
 * Locks (crew runs) default to a TTL of `CREW_RUN_LOCK_TTL_MS`, renewed while held; event
 * streams get `DEFAULT_STREAMS_CONFIG`. Tests change either on the returned object. The crews
 * (the demo's database stand-in) live in the same Redis, under `<COORD_KEY_PREFIX>-db`, or in
 * memory without `REDIS_URL`.
 *
 * @example
 * const app = await NestFactory.create(AppModule.register(demoConfigFromEnv(process.env)));
 */
export function demoConfigFromEnv(env: NodeJS.ProcessEnv = process.env): DemoConfig {
  const url = env.REDIS_URL?.trim();
  const prefix = env.COORD_KEY_PREFIX?.trim() || 'demo';
  const instanceId = instanceIdOf(env);
  return {
    coordination: {
      ...(url ? { connection: { url } } : { driver: 'memory' as const }),
      prefix,
      ...(instanceId === undefined ? {} : { instanceId }),
      tenancy: { header: COMPANY_HEADER, required: true },
      locks: { defaultTtlMs: CREW_RUN_LOCK_TTL_MS, events: 'all' },
      sessions: {
        ttlMs: SESSION_IDLE_TTL_MS,
        absoluteTtlMs: SESSION_ABSOLUTE_TTL_MS,
        maxPerUser: SESSIONS_PER_USER,
        onMaxPerUser: 'evict-oldest',
        cookie: { name: SESSION_COOKIE, secret: sessionSecrets(env), secure: cookieSecure(env), sameSite: 'lax' },
      },
    },
    streams: { ...DEFAULT_STREAMS_CONFIG },
    store: { ...(url ? { redisUrl: url } : {}), keyPrefix: `${prefix}-db` },
    // Not the library's `rateLimit.trustProxy`: it reads X-Forwarded-For whoever the peer is.
    // Express checks the peer first, and RateLimitGuard counts by the `request.ip` it computes.
    http: { trustedProxies: trustedProxies(env) },
    runHistory: { ...DEFAULT_RUN_HISTORY_CONFIG },
    runs: { stepsTimeoutMs: DEFAULT_RUN_STEPS_TIMEOUT_MS },
    reports: reportCron(env),
    metrics: metricsAccess(env),
  };
}

/** `METRICS_TOKEN` when set (checked here so a weak or unsendable one fails at boot), else open outside production only. */
function metricsAccess(env: NodeJS.ProcessEnv): MetricsConfig {
  const token = env.METRICS_TOKEN?.trim();
  if (token === undefined || token === '') return { access: env.NODE_ENV === 'production' ? 'off' : 'open' };
  if (token.length < METRICS_TOKEN_MIN_LENGTH) {
    throw new Error(`METRICS_TOKEN must be at least ${METRICS_TOKEN_MIN_LENGTH} characters, got ${token.length}`);
  }
  // What an Authorization header carries as one token: visible ASCII, no spaces.
  if (!/^[\x21-\x7e]+$/.test(token)) throw new Error('METRICS_TOKEN must be visible ASCII characters without spaces (it is sent in the Authorization header)');
  return { access: 'token', token };
}

/** `DEMO_REPORT_CRON`, checked for its number of fields here so the error names the variable (the scheduler parses the rest at boot). */
function reportCron(env: NodeJS.ProcessEnv): ReportsConfig {
  const cron = env.DEMO_REPORT_CRON?.trim().replace(/\s+/g, ' ');
  if (cron === undefined || cron === '') return {};
  const fields = cron.split(' ').length;
  if (fields < 5 || fields > 6) {
    throw new Error(`DEMO_REPORT_CRON must be a cron expression of five or six fields (seconds first), e.g. "0 0 2 * * *", got ${JSON.stringify(env.DEMO_REPORT_CRON)}`);
  }
  return { cron };
}

/** What the library accepts as `instanceId` (its options schema), checked here so the error names the variable. */
const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** `COORD_INSTANCE_ID`, trimmed; undefined when unset or blank. */
function instanceIdOf(env: NodeJS.ProcessEnv): string | undefined {
  const value = env.COORD_INSTANCE_ID?.trim();
  if (value === undefined || value === '') return undefined;
  if (!INSTANCE_ID.test(value)) {
    throw new Error(`COORD_INSTANCE_ID must be 1-128 letters, digits, "_", ".", ":" or "-", starting with a letter or digit, got ${JSON.stringify(env.COORD_INSTANCE_ID)}`);
  }
  return value;
}

/** Express's names of address ranges (`trust proxy`), besides addresses and subnets. */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** `TRUSTED_PROXIES`, checked entry by entry so that a typo fails at boot naming itself. */
function trustedProxies(env: NodeJS.ProcessEnv): string[] {
  const entries = (env.TRUSTED_PROXIES ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const entry of entries) {
    if (!isProxyAddress(entry)) {
      throw new Error(`TRUSTED_PROXIES must list IP addresses, CIDR subnets, loopback, linklocal or uniquelocal, got ${JSON.stringify(entry)}`);
    }
  }
  return entries;
}

function isProxyAddress(entry: string): boolean {
  if (PROXY_RANGE_NAMES.has(entry)) return true;
  const [address, bits, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/** `SESSION_SECRET` (comma-separated to rotate), else the development default outside production. */
function sessionSecrets(env: NodeJS.ProcessEnv): string[] {
  const secrets = (env.SESSION_SECRET ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (secrets.length > 0) return secrets;
  if (env.NODE_ENV === 'production') throw new Error('SESSION_SECRET must be set when NODE_ENV=production (at least 32 characters)');
  return [DEV_SESSION_SECRET];
}

/** `SESSION_COOKIE_SECURE` when set, else HTTPS-only in production and not over the demo's plain HTTP. */
function cookieSecure(env: NodeJS.ProcessEnv): boolean {
  const raw = env.SESSION_COOKIE_SECURE?.trim().toLowerCase();
  if (raw === undefined || raw === '') return env.NODE_ENV === 'production';
  if (raw === 'true' || raw === 'false') return raw === 'true';
  throw new Error(`SESSION_COOKIE_SECURE must be "true" or "false", got ${JSON.stringify(env.SESSION_COOKIE_SECURE)}`);
}
