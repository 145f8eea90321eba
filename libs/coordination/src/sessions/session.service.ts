import { Inject, Injectable } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { DeserializationError } from '../serialization/serialization.errors.js';
import { SessionBackup } from './session-backup.js';
import { SessionCodec } from './session-codec.js';
import { SessionKeys } from './session-keys.js';
import { SessionLocator } from './session-locator.js';
import { SessionObserver } from './session-observer.js';
import { SESSION_STORE, type SessionStore, type UserSessionKeys, type DestroySessionResult, type SessionMember } from './session-store.interface.js';
import { SessionLimitError, SessionNotFoundError, SessionVersionConflictError } from './session.errors.js';
import { SESSION_OPTIONS, type ResolvedSessionOptions } from './session.options.js';
import { sessionSpans, type SessionSpans } from './session.spans.js';
import type {
  CreateSessionOptions, DestroyAllOptions, ExportSessionsOptions, ExtendSessionOptions, GetSessionOptions, ImportSessionsOptions,
  ImportSessionsResult, Session, SessionCallOptions, SessionSummary, UpdateSessionOptions,
} from './session.types.js';
import { checkFlag, checkIdArgument, checkName, checkOptions, checkTtl, checkVersion, optionalName, userLimit } from './session-validation.js';

type Data = Record<string, unknown>;

/**
 * Server-side sessions shared by the fleet: one Redis string per session, one sorted set per user
 * (its index), every session of a user in one cluster slot with the index, so each write is
 * one Lua script: one round trip, all or nothing, on a cluster too.
 *
 * - **Ids** are `<tenant>.<128 random bits, base64url><slot tag>`, URL-safe bearer secrets bound
 *   to their tenant: a method taking an id runs in the id's tenant; when the call gives another
 *   tenant (`options.tenant`, or the tenant context), the session is simply not found. A
 *   malformed or forged id is not found either (`get` → null, the others SessionNotFoundError),
 *   and no error quotes an id. Events, logs and `listForUser` name sessions by `handle` (a hash).
 * - **Lifetimes**: a session ends `ttlMs` after its last use (sliding: `get` when
 *   `sessions.sliding` or `touch`, `update`, `extend`, `regenerate`), and `absoluteTtlMs` after
 *   its creation whatever happens; an idle lifetime longer than the absolute one is capped by it.
 * - **Data** is merged field by field: `update` sets each field of its patch (a field set to
 *   `undefined` is removed), atomically; two updates of different fields never lose each other,
 *   and conflicting writes to one field resolve in server order (the last one Redis applies
 *   wins). `ifVersion` makes an update a compare-and-set. Values go through the module's
 *   serializer (Dates, Maps, BigInts come back as they went in).
 * - **Expiry**: expired sessions leave their user's index whenever it is read (`create`,
 *   `listForUser`, `destroyAllForUser`) and in a background pass (`sessions.pruneIntervalMs`);
 *   each is announced once in `session.expired`, and none is ever returned.
 * - **Events** (under the session's tenant, with its handle): `session.created`,
 *   `session.destroyed` (reason `destroy`, `regenerated`, `evicted` by `maxPerUser`),
 *   `session.revoked` (destroyAllForUser), `session.expired`.
 * - **Redis unreachable**: every method throws RedisUnavailableError (503 through
 *   CoordinationExceptionFilter) naming it (`sessions.get`); nothing is half-written.
 * - **Bad input** throws InvalidArgumentError naming the argument, TenantInvalidError or
 *   TenantRequiredError, before any Redis call.
 *
 * @example
 * const session = await sessions.create(user.id, { cart: [] }, { companyId: 'acme', metadata: { userAgent } });
 * cookies.issue(response, session);
 * const current = await sessions.get(session.id);                  // slides the idle expiry
 * await sessions.update(session.id, { cart: ['sku-1'] });
 * await sessions.destroyAllForUser(user.id, { except: session.id }); // "log out everywhere else"
 */
@Injectable()
export class SessionService {
  private readonly codec: SessionCodec;
  private readonly backup: SessionBackup;
  private readonly locator: SessionLocator;
  private readonly spans: SessionSpans;

  constructor(
    private readonly core: CoordinationCore,
    @Inject(SESSION_OPTIONS) private readonly options: ResolvedSessionOptions,
    @Inject(SESSION_STORE) private readonly store: SessionStore,
    private readonly keys: SessionKeys,
    private readonly observer: SessionObserver,
  ) {
    this.codec = new SessionCodec(core.serializer, keys);
    this.backup = new SessionBackup(store, keys, observer, this.codec);
    this.locator = new SessionLocator(core.tenants, keys, store, observer);
    this.spans = sessionSpans((id) => keys.handle(id));
  }

  /**
   * A new session of `userId` in the tenant of the call. At `sessions.maxPerUser` (and at
   * MAX_SESSIONS_PER_USER whatever it says, 0 included), the user's oldest sessions are ended to
   * make room (`evict-oldest`, announced as `session.destroyed` with reason `evicted`), or the
   * call throws SessionLimitError (`onMaxPerUser: 'reject'`).
   *
   * @example
   * const session = await sessions.create('ada', { theme: 'dark' }, { ttlMs: 1_800_000, crewId: 'crew-7' });
   */
  async create<D extends Data = Data>(userId: string, data: D, options?: CreateSessionOptions): Promise<Session<D>> {
    checkName(userId, 'userId');
    checkOptions(options);
    const absoluteTtlMs = checkTtl(options?.absoluteTtlMs, 'options.absoluteTtlMs', this.options.absoluteTtlMs);
    const idleTtlMs = Math.min(checkTtl(options?.ttlMs, 'options.ttlMs', this.options.ttlMs), absoluteTtlMs);
    const companyId = optionalName(options?.companyId, 'options.companyId');
    const crewId = optionalName(options?.crewId, 'options.crewId');
    const fields = this.codec.fields({ userId, companyId, crewId, metadata: options?.metadata }, data);
    const tenant = this.core.tenants.resolve(options?.tenant, 'sessions.create');
    return this.core.telemetry.tracer.trace(this.spans.create, tenant, undefined, async () => {
      const { id, member } = this.keys.newId(tenant, userId);
      const { maxPerUser, onLimit } = userLimit(this.options);
      const command = { ...this.keys.user(tenant, userId), member, fields, idleTtlMs, absoluteTtlMs, maxPerUser, onLimit };
      const result = await this.observer.run('sessions.create', () => this.store.create(command));
      if (!result.created) {
        this.observer.limitRejected();
        throw new SessionLimitError(maxPerUser);
      }
      this.observer.expired(tenant, userId, result.expired);
      this.observer.destroyed(tenant, userId, result.evicted, 'evicted');
      this.observer.created(tenant, id, userId, companyId, crewId);
      return this.codec.session<D>(id, tenant, result.fields);
    });
  }

  /**
   * The session, or null when it is unknown, expired, ended, of another tenant or the id is
   * malformed. Restarts its idle lifetime (one round trip) when `sessions.sliding` (default) or `touch`.
   *
   * A session whose record the serializer cannot decode (a value of a newer serializer format
   * during a rolling upgrade, one nested past a lowered `serializer.maxDepth`, corruption) is
   * null too (the guard answers 401): each read is logged as a warning naming its handle and
   * counted in `sessions_errors_total{operation: 'decode'}`. It is NOT ended: instances of
   * another release may read it; it idles out (`listForUser` leaves it out meanwhile).
   *
   * In a handler, SessionGuard has already loaded the session (`@CurrentSession()`); elsewhere,
   * read the id from the signed cookie with SessionCookies (the raw cookie value is signed,
   * `s:<id>.<signature>`, never an id).
   *
   * @example
   * // SessionGuard does this for you (every verified cookie in order, then a bearer id):
   * const cookie = cookies.read(request);
   * let session = null;
   * for (const id of cookie.present ? cookie.ids : []) if ((session = await sessions.get<{ cart: string[] }>(id))) break;
   * if (!session) throw new UnauthorizedException();
   */
  async get<D extends Data = Data>(id: string, options?: GetSessionOptions): Promise<Session<D> | null> {
    const target = this.locator.target(id, options);
    const touch = checkFlag(options?.touch, 'options.touch', this.options.sliding);
    if (!target) return null;
    return this.core.telemetry.tracer.trace(this.spans.get, target.tenant, id, async () => {
      const key = this.keys.session(target.tenant, target.member);
      const fields = await this.observer.run('sessions.get', () => this.store.read(key, touch));
      if (!fields) return null;
      try {
        return this.codec.session<D>(id, target.tenant, fields);
      } catch (error) {
        if (!(error instanceof DeserializationError)) throw error;
        this.observer.undecodable(target.tenant, target.member, error.path, false);
        return null;
      }
    });
  }

  /**
   * Merges `patch` into the session's data, field by field in one atomic step (a field set to
   * `undefined` is removed), increments its version and restarts its idle lifetime. With
   * `ifVersion`, only while the session is at that version.
   *
   * @throws SessionNotFoundError; SessionVersionConflictError (with `ifVersion`)
   * @example
   * const s = await sessions.get(id);
   * await sessions.update(id, { cart: [...s.data.cart, sku], coupon: undefined }, { ifVersion: s.version });
   */
  async update<D extends Data = Data>(id: string, patch: Partial<D>, options?: UpdateSessionOptions): Promise<Session<D>> {
    const target = this.locator.target(id, options);
    const ifVersion = checkVersion(options?.ifVersion, 'options.ifVersion');
    const { set, unset } = this.codec.patch(patch);
    if (!target) throw new SessionNotFoundError('sessions.update');
    return this.core.telemetry.tracer.trace(this.spans.update, target.tenant, id, async () => {
      const key = this.keys.session(target.tenant, target.member);
      const result = await this.observer.run('sessions.update', () => this.store.update(key, { set, unset, ifVersion, touch: true }));
      if (result.updated) return this.codec.session<D>(id, target.tenant, result.fields);
      if (result.reason === 'missing') throw new SessionNotFoundError('sessions.update');
      this.observer.versionConflict();
      throw new SessionVersionConflictError(ifVersion!, result.version);
    });
  }

  /**
   * Restarts the idle lifetime: for the session's own `ttlMs`, or for `options.ttlMs`, which
   * becomes the session's own (later uses restart it for that long); never past the absolute
   * expiry.
   *
   * @throws SessionNotFoundError
   * @example
   * await sessions.extend(id, { ttlMs: 3_600_000 }); // "keep me signed in" for an hour of inactivity
   */
  async extend(id: string, options?: ExtendSessionOptions): Promise<Session> {
    const target = this.locator.target(id, options);
    const ttlMs = checkTtl(options?.ttlMs, 'options.ttlMs', 0);
    if (!target) throw new SessionNotFoundError('sessions.extend');
    const key = this.keys.session(target.tenant, target.member);
    // Without a ttlMs, a touching read is exactly an extend for the session's own idle lifetime.
    const fields = await this.observer.run('sessions.extend', () => (ttlMs === 0 ? this.store.read(key, true) : this.store.extend(key, ttlMs)));
    if (!fields) throw new SessionNotFoundError('sessions.extend');
    return this.codec.session(id, target.tenant, fields);
  }

  /**
   * Ends the session (`session.destroyed`, reason `destroy`); false when there was none. A
   * session found expired at the delete is announced in `session.expired` instead (false).
   *
   * @example
   * await sessions.destroy(request.coordinationSession.id); // log out
   */
  async destroy(id: string, options?: SessionCallOptions): Promise<boolean> {
    const target = this.locator.target(id, options);
    if (!target) return false;
    return this.core.telemetry.tracer.trace(this.spans.destroy, target.tenant, id, async () => {
      const ended = await this.locator.withOwner(target, 'sessions.destroy', (keys) => this.store.destroy(keys, target.member));
      return ended !== null && this.announceEnd(target.tenant, ended.userId, target.member, ended.result);
    });
  }

  /**
   * The user's live sessions in the tenant of the call, oldest first, without their ids (bearer
   * secrets): each has its `handle`. Expired ones are pruned from the index and announced. One
   * whose record the serializer cannot decode is left out and reported as by `get`.
   *
   * @example
   * const devices = (await sessions.listForUser(user.id)).map((s) => ({ handle: s.handle, since: s.createdAt, agent: s.metadata.userAgent }));
   */
  async listForUser<D extends Data = Data>(userId: string, options?: SessionCallOptions): Promise<SessionSummary<D>[]> {
    checkName(userId, 'userId');
    checkOptions(options);
    const tenant = this.core.tenants.resolve(options?.tenant, 'sessions.listForUser');
    const listed = await this.listed(tenant, userId, this.keys.user(tenant, userId), 'sessions.listForUser');
    const summaries: SessionSummary<D>[] = [];
    for (const { member, fields } of listed.live) {
      try {
        summaries.push(this.codec.summary<D>(this.keys.idOf(tenant, member), tenant, fields));
      } catch (error) {
        if (!(error instanceof DeserializationError)) throw error;
        this.observer.undecodable(tenant, member, error.path, false);
      }
    }
    return summaries;
  }

  /**
   * Ends the session of `userId` named by `handle` in the tenant of the call: the "sign out
   * that device" button of a page listing `listForUser` (which gives handles, never ids).
   * Announced as `session.destroyed` (reason `destroy`). False when the user has no live
   * session with that handle (unknown, already ended, another user's or another tenant's).
   * Two round trips: the user's index is read, then the one session deleted.
   *
   * @example
   * @Delete('devices/:handle')
   * signOut(@CurrentSession() session: Session, @Param('handle') handle: string) {
   *   return this.sessions.destroyByHandle(session.userId, handle);
   * }
   */
  async destroyByHandle(userId: string, handle: string, options?: SessionCallOptions): Promise<boolean> {
    checkName(userId, 'userId');
    checkIdArgument(handle, 'handle');
    checkOptions(options);
    const tenant = this.core.tenants.resolve(options?.tenant, 'sessions.destroyByHandle');
    const keys = this.keys.user(tenant, userId);
    const listed = await this.listed(tenant, userId, keys, 'sessions.destroyByHandle');
    const found = listed.live.find(({ member }) => this.keys.handle(this.keys.idOf(tenant, member)) === handle);
    return found !== undefined && this.endMember(tenant, userId, keys, found.member, 'sessions.destroyByHandle');
  }

  /**
   * Ends every session of the user in the tenant of the call (one script), but `except` (the
   * caller's own session; an id of another user or tenant keeps nothing); each is announced in
   * `session.revoked`, on every instance. Resolves with how many were ended.
   *
   * @example
   * await sessions.destroyAllForUser(user.id, { except: currentSessionId }); // "log out everywhere else"
   */
  async destroyAllForUser(userId: string, options?: DestroyAllOptions): Promise<number> {
    checkName(userId, 'userId');
    checkOptions(options);
    if (options?.except !== undefined) checkIdArgument(options.except, 'options.except');
    const tenant = this.core.tenants.resolve(options?.tenant, 'sessions.destroyAllForUser');
    const except = options?.except === undefined ? null : this.keys.parse(options.except);
    const keep = except && except.tenant === tenant && this.keys.belongsTo(tenant, userId, except.member) ? except.member : undefined;
    const keys = this.keys.user(tenant, userId);
    const ended = await this.observer.run('sessions.destroyAllForUser', () => this.store.destroyAll(keys, keep));
    this.observer.expired(tenant, userId, ended.expired);
    this.observer.revoked(tenant, userId, ended.destroyed);
    return ended.destroyed.length;
  }

  /**
   * Moves the session to a new id (same data, metadata and lifetimes, activity recorded) and
   * ends the old id at once, atomically: call it at login and privilege changes, against
   * session fixation. Announced as `session.destroyed` (reason `regenerated`) of the old handle
   * and `session.created` of the new one.
   *
   * @throws SessionNotFoundError
   * @example
   * const fresh = await sessions.regenerate(session.id);
   * cookies.issue(response, fresh);
   */
  async regenerate<D extends Data = Data>(id: string, options?: SessionCallOptions): Promise<Session<D>> {
    const target = this.locator.target(id, options);
    if (!target) throw new SessionNotFoundError('sessions.regenerate');
    const moved = await this.locator.withOwner(target, 'sessions.regenerate', async (keys, userId) => {
      const next = this.keys.newId(target.tenant, userId);
      const fields = await this.store.rename(keys, target.member, next.member);
      return fields && { next, fields };
    });
    if (moved === null) throw new SessionNotFoundError('sessions.regenerate');
    const { userId, result: { next, fields } } = moved;
    this.observer.destroyed(target.tenant, userId, [target.member], 'regenerated');
    this.observer.created(target.tenant, next.id, userId, fields.c, fields.w);
    return this.codec.session<D>(next.id, target.tenant, fields);
  }

  /**
   * How many live sessions the tenant of the call has: a SCAN of every master, O(keys in
   * Redis); for an admin page or a gauge, not a request path. Approximate while sessions come
   * and go (SCAN may see a key twice while Redis resizes its table).
   *
   * @example
   * const live = await sessions.countForTenant({ tenant: 'acme' });
   */
  async countForTenant(options?: SessionCallOptions): Promise<number> {
    checkOptions(options);
    const tenant = this.core.tenants.resolve(options?.tenant, 'sessions.countForTenant');
    return this.observer.run('sessions.countForTenant', async () => {
      let count = 0;
      for await (const batch of this.store.scan(this.keys.sessionPattern(tenant))) {
        for (const key of batch) if (this.keys.parseSessionKey(key)?.tenant === tenant) count += 1;
      }
      return count;
    });
  }

  /**
   * The sessions of the tenant of the call (or of every tenant with `tenant: '*'`) as JSON lines,
   * each ending with `\n`, streamed one SCAN batch at a time (constant memory). Without a tenant
   * given or in context, that is the shared namespace only (`_shared`: sessions created without
   * a tenant), not every tenant. A line holds the session id and record: treat the export as a
   * file of secrets. Expiries are absolute times, so `importSessions` later restores what is
   * left of each lifetime.
   *
   * @example
   * await pipeline(Readable.from(sessions.exportSessions({ tenant: '*' })), createWriteStream('sessions.jsonl'));
   */
  exportSessions(options?: ExportSessionsOptions): AsyncIterable<string> {
    checkOptions(options);
    const all = options?.tenant === '*';
    const tenant = all ? '*' : this.core.tenants.resolve(options?.tenant, 'sessions.exportSessions');
    return this.backup.export(this.keys.sessionPattern(tenant));
  }

  /**
   * Restores exported lines (each session, its index entry and its remaining lifetimes),
   * idempotently: importing twice changes nothing, and a session updated, used or extended
   * since the export is `kept` as it is. An import is a restore after data loss (an empty or
   * partly empty keyspace): into a live system, an old export brings back the sessions ended
   * since (logouts, destroyAllForUser, regenerate). Only the lines of the tenant of the call
   * (`options.tenant`, else the tenant context, else the shared namespace) are restored, those
   * of every tenant only with `tenant: '*'`; the others are counted in `skipped`. Sessions
   * expired since the export are counted in `expired`; blank lines are ignored. A malformed
   * line (or one whose times or values no session of this module could have) throws
   * InvalidArgumentError naming it (`line 7`): the lines before it are restored, nothing after
   * it is read. A line created more than 60 s after the store's clock is refused the same way
   * by the store, once the lines restored in parallel with it (up to 64) are written.
   *
   * @example
   * const lines = createInterface({ input: createReadStream('sessions.jsonl') });
   * const { restored, expired } = await sessions.importSessions(lines, { tenant: '*' });
   */
  async importSessions(lines: AsyncIterable<string> | Iterable<string>, options?: ImportSessionsOptions): Promise<ImportSessionsResult> {
    checkOptions(options);
    const tenant = options?.tenant === '*' ? undefined : this.core.tenants.resolve(options?.tenant, 'sessions.importSessions');
    return this.backup.import(lines, tenant);
  }

  /** The user's live sessions (the store's `list`), announcing those it pruned as expired. */
  private async listed(tenant: string, userId: string, keys: UserSessionKeys, operation: string): Promise<{ live: SessionMember[] }> {
    const listed = await this.observer.run(operation, () => this.store.list(keys));
    this.observer.expired(tenant, userId, listed.expired);
    return listed;
  }

  /**
   * Ends the session `member` of `userId` (`session.destroyed`, reason `destroy`): true when it
   * was deleted; false when it was gone (announced as expired when the index still named it).
   */
  private async endMember(tenant: string, userId: string, keys: UserSessionKeys, member: string, operation: string): Promise<boolean> {
    const ended = await this.observer.run(operation, () => this.store.destroy(keys, member));
    return this.announceEnd(tenant, userId, member, ended);
  }

  /**
   * Announces what a store `destroy` did: `session.destroyed` (reason `destroy`) and true, or,
   * for a session that expired before the delete took it out of the index, `session.expired`
   * and false.
   */
  private announceEnd(tenant: string, userId: string, member: string, ended: DestroySessionResult): boolean {
    if (!ended.destroyed) {
      if (ended.expired) this.observer.expired(tenant, userId, [member]);
      return false;
    }
    this.observer.destroyed(tenant, userId, [member], 'destroy');
    return true;
  }
}
