import { Store, type SessionData } from 'express-session';
import { TenantRequiredError } from '../../errors/coordination.error.js';
import { checkObject } from '../../errors/check-object.js';
import { assertTenantId } from '../../keys/key-builder.js';
import type { SessionRecordCallOptions, SessionRecords } from '../session-records.js';
import { checkTtl } from '../session-validation.js';
import { MAX_SESSION_TTL_MS } from '../session-limits.js';

/**
 * Options of {@link CoordinationSessionStore}.
 *
 * @example
 * new CoordinationSessionStore(records, { tenant: () => core.tenants.current(), ttlMs: 3_600_000 });
 */
export interface CoordinationSessionStoreOptions {
  /**
   * The tenant of every session of this store:
   * - absent (default): the tenant in context at each call; outside any tenant that is the
   *   shared namespace, unless `tenancy.required` (then every call fails with TenantRequiredError);
   * - a string: always this tenant (one store per tenant, or a single-tenant application);
   * - a function, called at each call: its tenant; when it returns undefined the call fails with
   *   TenantRequiredError, never runs in the shared namespace.
   * express-session calls the store from its middleware: the tenant context is there only when
   * that middleware runs after the library's TenantMiddleware (a Nest middleware of a module
   * imported after CoordinationModule), not when it is added with `app.use()`.
   */
  tenant?: string | (() => string | undefined);
  /** Lifetime of a session whose cookie has no expiry (a browser-session cookie). Default `sessions.ttlMs`. */
  ttlMs?: number;
}

type Callback<T> = ((error: unknown, value?: T) => void) | undefined;

/**
 * An express-session `Store` on this library's sessions storage (SessionRecords), as
 * connect-redis is on Redis: an application keeps its `express-session` code (`req.session`,
 * `regenerate`, `destroy`, `rolling`, `resave: false` with `touch`) and gets tenant-scoped keys,
 * the memory driver or Redis (standalone, Sentinel, cluster) as CoordinationModule is configured,
 * and the module's serializer (Dates in the session come back as Dates).
 *
 * A session lives until its cookie expires (`cookie.maxAge` / `cookie.expires`, as connect-redis
 * reads it: a session whose cookie has already expired is deleted instead of written), else for
 * `ttlMs`. `touch` restarts that lifetime. `length` and `clear` SCAN the tenant's sessions (O(keys));
 * `all` returns them as an array, each with its `id`. Errors (Redis unreachable:
 * RedisUnavailableError) go to express-session's callbacks, which pass them to `next()`: the request
 * fails (503 through CoordinationExceptionFilter), it never goes on with a new empty session.
 *
 * Import it from `@nest-coordination/core/express-session` (express-session is an optional peer
 * dependency of the library).
 *
 * @example
 * import session from 'express-session';
 * import { SessionRecords } from '@nest-coordination/core';
 * import { CoordinationSessionStore } from '@nest-coordination/core/express-session';
 *
 * const app = await NestFactory.create(AppModule);
 * app.use(session({
 *   store: new CoordinationSessionStore(app.get(SessionRecords), { tenant: 'acme' }),
 *   secret: process.env.SESSION_SECRET!, resave: false, saveUninitialized: false, rolling: true,
 *   cookie: { httpOnly: true, secure: true, sameSite: 'lax', maxAge: 30 * 60_000 },
 * }));
 */
export class CoordinationSessionStore extends Store {
  private readonly ttlMs: number;
  private readonly fixed?: SessionRecordCallOptions;
  private readonly tenantOf?: () => string | undefined;

  constructor(private readonly records: SessionRecords, options: CoordinationSessionStoreOptions = {}) {
    super();
    checkObject(options, 'options');
    const { tenant } = options;
    if (typeof tenant === 'function') this.tenantOf = tenant;
    else if (tenant !== undefined) assertTenantId(tenant);
    this.fixed = typeof tenant === 'string' ? { tenant } : undefined;
    this.ttlMs = checkTtl(options.ttlMs, 'options.ttlMs', records.defaultTtlMs);
  }

  override get(sid: string, callback: (error: unknown, session?: SessionData | null) => void): void {
    this.run('get', async (scope) => (await this.records.get<SessionData>(sid, scope)) ?? null, callback);
  }

  override set(sid: string, session: SessionData, callback?: (error?: unknown) => void): void {
    this.run('set', async (scope) => {
      const ttlMs = this.lifetimeOf(session);
      if (ttlMs <= 0) await this.records.delete(sid, scope);
      else await this.records.set(sid, session, { ...scope, ttlMs });
    }, callback);
  }

  override touch(sid: string, session: SessionData, callback?: (error?: unknown) => void): void {
    this.run('touch', async (scope) => {
      const ttlMs = this.lifetimeOf(session);
      if (ttlMs <= 0) await this.records.delete(sid, scope);
      else await this.records.touch(sid, { ...scope, ttlMs });
    }, callback);
  }

  override destroy(sid: string, callback?: (error?: unknown) => void): void {
    this.run('destroy', async (scope) => void (await this.records.delete(sid, scope)), callback);
  }

  override length(callback: (error: unknown, length?: number) => void): void {
    this.run('length', (scope) => this.records.count(scope), callback);
  }

  override clear(callback?: (error?: unknown) => void): void {
    this.run('clear', async (scope) => void (await this.records.clear(scope)), callback);
  }

  override all(callback: (error: unknown, sessions?: SessionData[] | null) => void): void {
    this.run('all', async (scope) => {
      // SCAN may return a session twice: one entry per id.
      const sessions = new Map<string, SessionData>();
      for await (const batch of this.records.entries<SessionData>(scope)) for (const [sid, session] of batch) sessions.set(sid, { ...session, id: sid } as SessionData);
      return [...sessions.values()];
    }, callback);
  }

  /** The lifetime of a session from its cookie: until `expires`, else `maxAge`, else `ttlMs`; capped at 365 days. */
  private lifetimeOf(session: SessionData): number {
    const cookie = (session as Partial<SessionData> | undefined)?.cookie;
    const expires = cookie?.expires ? new Date(cookie.expires).getTime() : NaN;
    const ms = !Number.isNaN(expires) ? expires - Date.now() : typeof cookie?.maxAge === 'number' ? cookie.maxAge : this.ttlMs;
    return Math.min(Math.ceil(ms), MAX_SESSION_TTL_MS);
  }

  /**
   * Runs `operation` in the store's tenant and hands its outcome to `callback`, errors included:
   * never thrown. Without a callback (`req.session.destroy()` without one) an error is emitted as
   * `error` when someone listens, else dropped, as connect-redis does.
   */
  private run<T>(method: string, operation: (scope: SessionRecordCallOptions | undefined) => Promise<T>, callback: Callback<T>): void {
    const done = (async () => operation(this.scope(method)))();
    done.then(
      (value) => callback?.(null, value),
      (error: unknown) => {
        if (callback) callback(error);
        else if (this.listenerCount('error') > 0) this.emit('error', error);
      },
    );
  }

  private scope(method: string): SessionRecordCallOptions | undefined {
    if (this.tenantOf === undefined) return this.fixed;
    const tenant = this.tenantOf();
    if (tenant === undefined) {
      throw new TenantRequiredError(`CoordinationSessionStore.${method}`, 'its tenant function returned none');
    }
    assertTenantId(tenant);
    return { tenant };
  }
}
