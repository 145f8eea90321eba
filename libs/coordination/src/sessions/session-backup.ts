import { InvalidArgumentError } from '../errors/coordination.error.js';
import { DeserializationError } from '../serialization/serialization.errors.js';
import { restoredTimes, type RestoredTimes } from './dumped-record.js';
import { DATA_PREFIX, RECORD_FIELDS, type SessionCodec } from './session-codec.js';
import type { SessionKeys } from './session-keys.js';
import type { SessionObserver } from './session-observer.js';
import type { SessionFields, SessionStore, UserSessionKeys } from './session-store.interface.js';
import type { ImportSessionsResult } from './session.types.js';
import { MAX_RESTORE_AHEAD_MS, MAX_SESSION_TTL_MS } from './session-limits.js';
import { isSessionTenant } from './session-validation.js';

/** Format version of an export line. */
export const EXPORT_VERSION = 1;
/** Lines validated, then restored together (in parallel), per step of an import. */
const IMPORT_BATCH = 64;
const KNOWN_FIELDS = new Set<string>(RECORD_FIELDS);

/** One line of an export, once validated. */
interface Restore {
  readonly line: number;
  readonly tenant: string;
  readonly keys: UserSessionKeys;
  readonly member: string;
  readonly fields: SessionFields;
}

/**
 * Export and import of sessions as JSON lines (library-internal; SessionService.exportSessions /
 * importSessions). A line is
 * `{"v":1,"tenant":"acme","id":"acme.<member>","fields":{...the stored record}}` followed by
 * `\n`; the record's expiries (`e`, `x`) are absolute times, so a restore keeps what was left
 * of each lifetime and skips what expired meanwhile.
 *
 * @example
 * const backup = new SessionBackup(store, sessionKeys, observer, codec);
 * for await (const line of backup.export(sessionKeys.sessionPattern('acme'))) file.write(line);
 * await backup.import(readLines(file));
 */
export class SessionBackup {
  constructor(
    private readonly store: SessionStore,
    private readonly keys: SessionKeys,
    private readonly observer: SessionObserver,
    private readonly codec: SessionCodec,
  ) {}

  /** The lines of every session matching `pattern`, one SCAN batch in memory at a time. */
  async *export(pattern: string): AsyncGenerator<string> {
    const operation = 'sessions.exportSessions';
    const batches = this.store.scan(pattern)[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<string[]>;
      let dumped;
      try {
        next = await batches.next();
        if (next.done) return;
        dumped = await this.store.dump(next.value);
      } catch (error) {
        throw this.observer.failed(error, operation);
      }
      for (const { key, fields } of dumped) {
        const parsed = this.keys.parseSessionKey(key);
        if (!parsed) continue;
        const id = this.keys.idOf(parsed.tenant, parsed.member);
        yield `${JSON.stringify({ v: EXPORT_VERSION, tenant: parsed.tenant, id, fields })}\n`;
      }
    }
  }

  /**
   * Restores every line of `onlyTenant` (of every tenant when undefined: the caller decided,
   * `tenant: '*'`); idempotent. Lines are validated, then
   * restored a batch at a time: a malformed line throws InvalidArgumentError naming it (`line 7`)
   * after the valid lines before it are restored, and before anything after it is read. A line
   * the store refuses (created more than MAX_RESTORE_AHEAD_MS after its clock) is never
   * written and throws the same way once its batch is done: the other lines of its batch (up
   * to 64, some after it) are restored.
   */
  async import(lines: AsyncIterable<unknown> | Iterable<unknown>, onlyTenant: string | undefined): Promise<ImportSessionsResult> {
    if (typeof lines !== 'object' || lines === null || !(Symbol.asyncIterator in lines || Symbol.iterator in lines)) {
      throw new InvalidArgumentError('lines', 'must be an iterable or async iterable of JSON lines (strings)');
    }
    const result: ImportSessionsResult = { restored: 0, kept: 0, expired: 0, skipped: 0 };
    let batch: Restore[] = [];
    let number = 0;
    for await (const line of lines) {
      number += 1;
      let restore: Restore | null;
      try {
        restore = this.parse(line, number);
      } catch (error) {
        await this.restoreAll(batch, result);
        throw error;
      }
      if (restore === null) continue;
      if (onlyTenant !== undefined && restore.tenant !== onlyTenant) {
        result.skipped += 1;
        continue;
      }
      batch.push(restore);
      if (batch.length >= IMPORT_BATCH) {
        await this.restoreAll(batch, result);
        batch = [];
      }
    }
    await this.restoreAll(batch, result);
    return result;
  }

  private async restoreAll(batch: readonly Restore[], result: ImportSessionsResult): Promise<void> {
    if (batch.length === 0) return;
    const settled = await Promise.allSettled(batch.map((r) => this.store.restore(r.keys, r.member, r.fields)));
    for (const outcome of settled) if (outcome.status === 'fulfilled') result[outcome.value] += 1;
    const failed = settled.findIndex((s) => s.status === 'rejected');
    if (failed < 0) return;
    const error = (settled[failed] as PromiseRejectedResult).reason;
    // The store refuses what only it can judge (a creation after its clock): the line's error.
    if (error instanceof InvalidArgumentError && error.argument === 'fields') {
      throw new InvalidArgumentError(`line ${batch[failed].line}`, `has a creation "fields.t" more than ${MAX_RESTORE_AHEAD_MS} ms after the store's clock`);
    }
    throw this.observer.failed(error, 'sessions.importSessions');
  }

  /**
   * A validated line, or null for a blank one. Never trusts a key from the line: the keys are
   * rebuilt from its tenant, id and user. Reasons never quote the line (it holds a session id).
   */
  private parse(line: unknown, number: number): Restore | null {
    const argument = `line ${number}`;
    const bad = (reason: string) => new InvalidArgumentError(argument, reason);
    if (typeof line !== 'string') throw bad('must be a string (one JSON line of exportSessions)');
    const text = line.trim();
    if (text === '') return null;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw bad('is not JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('must be a JSON object');
    const { v, tenant, id, fields } = value as Record<string, unknown>;
    if (v !== EXPORT_VERSION) throw bad(`has an unsupported format version (this build reads ${EXPORT_VERSION})`);
    if (typeof tenant !== 'string' || !isSessionTenant(tenant)) throw bad('has no valid "tenant"');
    const parsed = typeof id === 'string' ? this.keys.parse(id) : null;
    if (!parsed || parsed.tenant !== tenant) throw bad('has no valid session "id" of its tenant');
    const record = this.record(fields, bad);
    if (!this.keys.belongsTo(tenant, record.u, parsed.member)) throw bad('has an "id" that is not of its user ("fields.u")');
    return { line: number, tenant, keys: this.keys.user(tenant, record.u), member: parsed.member, fields: record };
  }

  /**
   * A copy of the line's fields: known names only, string values, `u` present, time fields the
   * store accepts (dumped-record.ts) making lifetimes a session can have, and values the
   * serializer decodes (else every later read of the session would fail).
   */
  private record(fields: unknown, bad: (reason: string) => Error): SessionFields {
    if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw bad('has no "fields" object');
    const record: SessionFields = {};
    for (const [name, value] of Object.entries(fields)) {
      if (!KNOWN_FIELDS.has(name) && !(name.startsWith(DATA_PREFIX) && name.length > DATA_PREFIX.length)) throw bad('has an unknown field in "fields"');
      if (typeof value !== 'string') throw bad('has a field in "fields" that is not a string');
      record[name] = value;
    }
    if (!record.u) throw bad('has no user ("fields.u")');
    let times: RestoredTimes;
    try {
      times = restoredTimes(record);
    } catch (error) {
      // (its reason quotes the value: a line is never quoted)
      if (error instanceof InvalidArgumentError) throw bad('has a time field ("fields.t", "l", "e", "x", "i", "v") that is not a non-negative integer fitting the record');
      throw error;
    }
    const lifetime = lifetimeProblem(times);
    if (lifetime) throw bad(lifetime);
    try {
      this.codec.check(record);
    } catch (error) {
      if (error instanceof DeserializationError) throw bad(`has a ${JSON.stringify(`fields.${error.path}`)} that the serializer cannot decode (or metadata that is not an object)`);
      throw error;
    }
    return record;
  }
}

/**
 * What makes a record's times impossible for a session created by this library (which an
 * import must not let in: it would outlive `absoluteTtlMs`), or null: an idle lifetime of 1 ms
 * to MAX_SESSION_TTL_MS, an absolute expiry at most MAX_SESSION_TTL_MS after the creation, the
 * idle expiry never after it nor after the last activity plus the idle lifetime, the last
 * activity within the lifetime. (A creation in the future is refused by the store, against its
 * own clock: the module's may not be the one that wrote the record.)
 */
function lifetimeProblem({ t, l, e, x, i }: RestoredTimes): string | null {
  if (i < 1 || i > MAX_SESSION_TTL_MS) return `has an idle lifetime "fields.i" outside 1-${MAX_SESSION_TTL_MS} ms`;
  if (x < t || x > t + MAX_SESSION_TTL_MS) return `has an absolute expiry "fields.x" before its creation "fields.t" or more than ${MAX_SESSION_TTL_MS} ms after it`;
  if (e > x) return 'has an idle expiry "fields.e" after its absolute expiry "fields.x"';
  if (e > l + i) return 'has an idle expiry "fields.e" after its last activity "fields.l" plus its idle lifetime "fields.i"';
  if (l < t || l > x) return 'has a last activity "fields.l" before its creation "fields.t" or after its absolute expiry "fields.x"';
  return null;
}
