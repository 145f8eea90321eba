import { InvalidArgumentError, MAX_SESSION_TTL_MS, type Session } from '@nest-coordination/core';
import { collect } from '../contract/sessions.contract.js';
import { DRIVERS } from '../support/drivers.js';
import { scanKeys } from '../support/scan-keys.js';
import { rejectionOf } from '../support/wait.js';
import { sessionApp, type SessionTestApp } from './session-test-app.js';

interface ExportLine {
  v: number;
  tenant: string;
  id: string;
  fields: Record<string, string>;
}

/**
 * An import refuses a line whose record the service could not use later, naming the line and
 * before writing it: time fields the store would refuse, lifetimes no session can have, values
 * the serializer cannot decode. Lines come from one module and go into another (a fresh key
 * prefix), so "nothing written" is checked on an empty keyspace.
 */
describe.each(DRIVERS)('importSessions checks each record ($name)', (driver) => {
  let source: SessionTestApp;
  let target: SessionTestApp;
  let made: Session[];
  let lines: ExportLine[];
  beforeAll(async () => {
    source = await sessionApp(driver);
    made = [];
    for (const n of [0, 1, 2]) made.push(await source.sessions.create(`user-${n}`, { n }, { tenant: 'acme', metadata: { ua: 'jest' } }));
    const byId = new Map(made.map((s) => [s.id, s]));
    lines = (await collect(source.sessions.exportSessions({ tenant: 'acme' }))).map((line) => JSON.parse(line) as ExportLine);
    made = lines.map((line) => byId.get(line.id)!); // in the order of the lines
  });
  afterAll(() => source.close());
  beforeEach(async () => {
    target = await sessionApp(driver);
  });
  afterEach(() => target.close());

  /** The first line with `change` applied to a copy of its fields. */
  const variant = (change: (fields: Record<string, string>, times: Record<string, number>) => void, line = lines[0]) => {
    const copy = structuredClone(line);
    const times = Object.fromEntries(['t', 'l', 'e', 'x', 'i', 'v'].map((name) => [name, Number(copy.fields[name])]));
    change(copy.fields, times);
    return JSON.stringify(copy);
  };
  const expectLine = (label: string, error: unknown, argument: string) => {
    expect([label, error]).toEqual([label, expect.any(InvalidArgumentError)]);
    expect([label, (error as InvalidArgumentError).argument]).toEqual([label, argument]);
    expect((error as Error).message).not.toContain(made[0].id.slice('acme.'.length));
  };
  /** Nothing of the target module in the store: no session, no index. */
  const expectNothingWritten = async () => {
    const sessionKeys: string[] = [];
    for await (const batch of target.store.scan(target.keys.sessionPattern('*'))) sessionKeys.push(...batch);
    expect(sessionKeys).toEqual([]);
    expect(await scanKeys(target.core, `${target.prefix}:*`)).toEqual([]);
    for (const s of made) expect(await target.sessions.listForUser(s.userId, { tenant: 'acme' })).toEqual([]);
  };
  const importOne = (line: string) => target.sessions.importSessions([line], { tenant: 'acme' });

  it('a time field the store would refuse fails its line, and no line after it is written', async () => {
    const bad = variant((fields) => (fields.v = '-1'));
    const error = await rejectionOf(target.sessions.importSessions([JSON.stringify(lines[1]), bad, JSON.stringify(lines[2])], { tenant: 'acme' }));
    expectLine('v = -1 between two good lines', error, 'line 2');
    expect(await target.sessions.get(made[1].id, { touch: false })).toMatchObject({ data: { n: made[1].data.n } });
    expect(await target.sessions.get(made[2].id)).toBeNull();
    expect(await target.sessions.listForUser(made[2].userId, { tenant: 'acme' })).toEqual([]);
  });

  it('refuses each time field that is not a non-negative integer fitting the record, naming the line', async () => {
    const malformed = {
      'a negative version': variant((f) => (f.v = '-1')),
      'a version with a leading zero': variant((f) => (f.v = '01')),
      'an absolute expiry of 14 digits': variant((f) => (f.x = '10000000000000')),
      'an idle lifetime of 12 digits': variant((f) => (f.i = '100000000000')),
      'a fractional creation time': variant((f) => (f.t = `${f.t}.5`)),
    };
    for (const [what, line] of Object.entries(malformed)) expectLine(what, await rejectionOf(importOne(line)), 'line 1');
    await expectNothingWritten();
  });

  it('refuses lifetimes no session can have (they would bypass absoluteTtlMs), naming the line', async () => {
    const absurd = {
      'absolute and idle expiry in the year 2286': variant((f) => {
        f.x = f.e = '9999999999999';
        f.i = '99999999999';
      }),
      'an absolute lifetime longer than MAX_SESSION_TTL_MS': variant((f, t) => (f.x = String(t.t + MAX_SESSION_TTL_MS + 1))),
      'an idle lifetime of 0': variant((f) => (f.i = '0')),
      'an idle lifetime longer than MAX_SESSION_TTL_MS': variant((f) => (f.i = String(MAX_SESSION_TTL_MS + 1))),
      'an idle expiry after the absolute one': variant((f, t) => (f.e = String(t.x + 1))),
      'a creation after the absolute expiry': variant((f, t) => (f.t = String(t.x + 1))),
      'a last activity before the creation': variant((f, t) => (f.l = String(t.t - 1))),
      'a last activity after the absolute expiry': variant((f, t) => (f.l = String(t.x + 1))),
      'an idle expiry after the last activity plus the idle lifetime': variant((f, t) => (f.e = String(t.l + t.i + 1))),
    };
    for (const [what, line] of Object.entries(absurd)) expectLine(what, await rejectionOf(importOne(line)), 'line 1');
    await expectNothingWritten();
    // The bounds themselves are lifetimes a session can have.
    const edge = variant((f, t) => {
      f.l = f.t;
      f.i = String(MAX_SESSION_TTL_MS);
      f.x = String(t.t + MAX_SESSION_TTL_MS);
    });
    expect(await importOne(edge)).toEqual({ restored: 1, kept: 0, expired: 0, skipped: 0 });
  });

  it('refuses a session created in the future (more than 60 s ahead of the store clock), naming the line, and writes nothing of it', async () => {
    const ahead = (ms: number) =>
      variant((f, t) => {
        const t2 = t.t + ms;
        Object.assign(f, { t: `${t2}`, l: `${t2}`, e: `${t2 + t.e - t.l}`, x: `${t2 + t.x - t.t}` });
      });
    const DAY = 86_400_000;
    expectLine('created 300 days ahead', await rejectionOf(importOne(ahead(300 * DAY))), 'line 1');
    await expectNothingWritten();
    const error = await rejectionOf(target.sessions.importSessions([JSON.stringify(lines[1]), ahead(300 * DAY)], { tenant: 'acme' }));
    expectLine('created 300 days ahead, after a good line', error, 'line 2');
    expect(await target.sessions.get(made[1].id, { touch: false })).toMatchObject({ data: { n: made[1].data.n } });
    expect(await target.sessions.get(made[0].id, { touch: false })).toBeNull();
    expect(await target.sessions.listForUser(made[0].userId, { tenant: 'acme' })).toEqual([]);
  });

  it('refuses metadata or data the serializer cannot decode, naming the line', async () => {
    const serializer = target.core.serializer;
    const undecodable = {
      'metadata that is not serialized': variant((f) => (f.m = 'garbage')),
      'metadata that is not an object': variant((f) => (f.m = serializer.encode(['ua']))),
      'a data field that is not serialized': variant((f) => (f['d:n'] = 'garbage')),
      'a second data field that is not serialized': variant((f) => (f['d:other'] = '{"truncated')),
    };
    for (const [what, line] of Object.entries(undecodable)) expectLine(what, await rejectionOf(importOne(line)), 'line 1');
    await expectNothingWritten();
    expect(await importOne(variant((f) => (f['d:other'] = serializer.encode(new Date(1)))))).toEqual({ restored: 1, kept: 0, expired: 0, skipped: 0 });
    expect((await target.sessions.get(made[0].id))!.data).toEqual({ n: made[0].data.n, other: new Date(1) });
  });
});
