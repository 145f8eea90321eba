import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidArgumentError, type Session } from '@nest-coordination/core';
import { collect } from '../contract/sessions.contract.js';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import type { DriverCase } from '../support/drivers.js';
import { rejectionOf } from '../support/wait.js';
import { sessionApp, type SessionTestApp } from './session-test-app.js';

/**
 * Backup and restore on a private Redis (FLUSHALL empties it for this file only): an export
 * streamed to a file, FLUSHALL, and an import from the file lose nothing; imports are
 * idempotent, skip what expired meanwhile, and stop at a malformed line, naming it.
 */
describe('session export and import (private Redis)', () => {
  let server: RedisServerHandle;
  let app: SessionTestApp;
  let dir: string;
  beforeAll(async () => {
    server = await startRedisServer();
    dir = mkdtempSync(join(tmpdir(), 'sessions-backup-'));
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    const onServer: DriverCase = { name: 'standalone', options: () => ({ connection: { url: server.url } }) };
    app = await sessionApp(onServer);
  });
  afterEach(() => app.close());
  const flushAll = () => app.core.connection!.client.flushall();

  /** Sessions of several tenants and users, with data the serializer has to revive, some updated. */
  async function seed(): Promise<Session[]> {
    const made: Session[] = [];
    for (let n = 0; n < 150; n++) {
      const tenant = ['acme', 'globex', undefined][n % 3];
      const data = { n, at: new Date(n), tags: new Set([`t${n}`]), big: BigInt(n) * 10n ** 20n };
      made.push(await app.sessions.create(`user-${n % 7}`, data, { tenant, companyId: tenant, metadata: { ua: `agent ${n}` }, ttlMs: 600_000 + n }));
    }
    for (const s of made.slice(0, 30)) made[made.indexOf(s)] = await app.sessions.update(s.id, { step: 'two', n: undefined });
    return made;
  }

  /** Every session and every user's list as the service returns them now (no touch). */
  async function snapshot(made: readonly Session[]) {
    const sessions = await Promise.all(made.map((s) => app.sessions.get(s.id, { touch: false })));
    const lists = await Promise.all(made.map((s) => app.sessions.listForUser(s.userId, { tenant: s.tenant === '_shared' ? undefined : s.tenant })));
    const counts = await Promise.all(['acme', 'globex'].map((tenant) => app.sessions.countForTenant({ tenant })));
    return { sessions, lists, counts };
  }

  it('export to a file → FLUSHALL → import from it loses nothing; importing again changes nothing', async () => {
    const made = await seed();
    const before = await snapshot(made);
    expect(before.sessions.every((s) => s !== null)).toBe(true);
    const file = join(dir, 'sessions.jsonl');
    await pipeline(Readable.from(app.sessions.exportSessions({ tenant: '*' })), createWriteStream(file));
    await flushAll();
    expect(await app.sessions.get(made[0].id)).toBeNull();

    const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    expect(await app.sessions.importSessions(lines, { tenant: '*' })).toEqual({ restored: 150, kept: 0, expired: 0, skipped: 0 });
    const after = await snapshot(made);
    expect(after).toEqual(before);
    expect(after.sessions[40]!.data.tags).toEqual(new Set(['t40']));

    const again = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    expect(await app.sessions.importSessions(again, { tenant: '*' })).toEqual({ restored: 0, kept: 150, expired: 0, skipped: 0 });
    expect(await snapshot(made)).toEqual(before);
    expect(await app.core.connection!.client.dbsize()).toBe(150 + new Set(made.map((s) => `${s.tenant}/${s.userId}`)).size);
  });

  it('skips sessions that expired since the export, and restores them with what was left of their lifetimes', async () => {
    const short = await app.sessions.create('ada', {}, { tenant: 'acme', ttlMs: 200 });
    const long = await app.sessions.create('ada', { keep: true }, { tenant: 'acme' });
    const lines = await collect(app.sessions.exportSessions({ tenant: 'acme' }));
    await app.elapse(250);
    await flushAll();
    expect(await app.sessions.importSessions(lines, { tenant: 'acme' })).toEqual({ restored: 1, kept: 0, expired: 1, skipped: 0 });
    expect(await app.sessions.get(short.id)).toBeNull();
    expect(await app.sessions.get(long.id, { touch: false })).toMatchObject({ data: { keep: true }, expiresAt: long.expiresAt });
    const ttl = await app.core.connection!.client.pexpiretime(app.keys.session('acme', long.id.slice('acme.'.length)));
    expect(ttl).toBe(long.expiresAt.getTime()); // the key expires when the session did before
  });

  it('a malformed line throws InvalidArgumentError naming it: the lines before it are restored, none after', async () => {
    const made = [0, 1, 2].map((n) => app.sessions.create(`user-${n}`, { n }, { tenant: 'acme' }));
    const sessions = await Promise.all(made);
    const lines = await collect(app.sessions.exportSessions({ tenant: 'acme' }));
    await flushAll();
    const error = await rejectionOf(app.sessions.importSessions([lines[0], '', lines[1], '{"v":1,"tenant":"acme"', lines[2]], { tenant: 'acme' }));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).argument).toBe('line 4');
    expect((error as Error).message).toMatch(/line 4.*not JSON/);
    const byId = new Map(sessions.map((s) => [s.id, s]));
    const order = lines.map((line) => byId.get(JSON.parse(line).id as string)!);
    expect(await app.sessions.get(order[0].id)).not.toBeNull();
    expect(await app.sessions.get(order[1].id)).not.toBeNull();
    expect(await app.sessions.get(order[2].id)).toBeNull();
  });

  it('refuses each kind of malformed line without quoting it, and never trusts a key from a line', async () => {
    const s = await app.sessions.create('ada', { n: 1 }, { tenant: 'acme' });
    const [line] = await collect(app.sessions.exportSessions({ tenant: 'acme' }));
    const good = JSON.parse(line) as { v: number; tenant: string; id: string; fields: Record<string, string> };
    const variant = (change: (copy: typeof good) => void) => {
      const copy = structuredClone(good);
      change(copy);
      return JSON.stringify(copy);
    };
    const malformed = {
      'an array': '[1]',
      'another version': variant((c) => (c.v = 2)),
      'a tenant that is a glob': variant((c) => (c.tenant = '*')),
      "another tenant than the id's": variant((c) => (c.tenant = 'globex')),
      'a malformed id': variant((c) => (c.id = 'acme.*')),
      'an id of another user': variant((c) => (c.fields.u = 'mallory')),
      'no user': variant((c) => delete (c.fields as Record<string, unknown>).u),
      'a field that is not a string': variant((c) => ((c.fields as Record<string, unknown>)['d:n'] = 1)),
      'an unknown field': variant((c) => (c.fields.key = 'coord:acme:session:{x}:y')),
      'no expiry': variant((c) => delete (c.fields as Record<string, unknown>).e),
      'an expiry that is not a number': variant((c) => (c.fields.x = 'soon')),
      'not a string': 42,
    };
    await flushAll();
    for (const [what, bad] of Object.entries(malformed)) {
      const error = await rejectionOf(app.sessions.importSessions([bad as string], { tenant: 'acme' }));
      expect([what, error]).toEqual([what, expect.any(InvalidArgumentError)]);
      expect([what, (error as InvalidArgumentError).argument]).toEqual([what, 'line 1']);
      expect((error as Error).message).not.toContain(s.id.slice('acme.'.length));
    }
    expect(await app.core.connection!.client.dbsize()).toBe(0);
    // A line with extra properties (a `key` of its own) is restored under the keys rebuilt from its id and user.
    expect(await app.sessions.importSessions([JSON.stringify({ ...good, key: 'elsewhere' })], { tenant: 'acme' })).toEqual({ restored: 1, kept: 0, expired: 0, skipped: 0 });
    expect(await app.core.connection!.client.exists('elsewhere')).toBe(0);
    expect((await app.sessions.get(s.id))!.data).toEqual({ n: 1 });
  });
});
