import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { DRIVERS } from '../support/drivers.js';
import { sessionApp, type SessionTestApp } from './session-test-app.js';

/**
 * A record whose values the serializer cannot decode (a serializer changed across a deploy,
 * corruption) must not lock its user out until its absolute expiry: `get` answers null (the
 * guard's 401, then a new login) without ending it (another instance, e.g. of a newer release
 * during a rolling upgrade, may read it; it idles out), `listForUser` leaves it out; both
 * report it by handle, never by id.
 */
const spyOnWarnings = () => jest.spyOn(Logger.prototype, 'warn');

describe.each(DRIVERS)('a session record that cannot be decoded ($name)', (driver) => {
  let app: SessionTestApp;
  let warn: ReturnType<typeof spyOnWarnings>;
  beforeEach(async () => {
    app = await sessionApp(driver);
    warn = spyOnWarnings();
  });
  afterEach(async () => {
    warn.mockRestore();
    await app.close();
  });

  /**
   * A session of `ada` in acme whose `field` holds `value`: a real record copied under a new id
   * and written by the store itself (which copies the service's fields without decoding them).
   */
  async function corrupted(field: string, value: string): Promise<{ id: string; member: string; handle: string }> {
    const source = await app.sessions.create('source', { n: 0 }, { tenant: 'acme', metadata: { ua: 'jest' } });
    const [dumped] = await app.store.dump([app.keys.session('acme', source.id.slice('acme.'.length))]);
    const { id, member } = app.keys.newId('acme', 'ada');
    await app.store.restore(app.keys.user('acme', 'ada'), member, { ...dumped.fields, u: 'ada', [field]: value });
    return { id, member, handle: app.keys.handle(id) };
  }
  const decodeErrors = () => app.core.metrics.counter('sessions_errors_total', { operation: 'decode' });
  const warnings = () => warn.mock.calls.map(([message]) => String(message));

  it('get answers null and leaves the record stored (it idles out); listForUser leaves it out; both report its handle', async () => {
    const log = await app.watch('acme');
    const good = await app.sessions.create('ada', { n: 1 }, { tenant: 'acme' });
    const badData = await corrupted('d:n', 'garbage');
    const badMetadata = await corrupted('m', 'garbage');

    const listed = await app.sessions.listForUser('ada', { tenant: 'acme' });
    expect(listed.map((s) => s.handle)).toEqual([good.handle]);
    expect(decodeErrors()).toBe(2);
    expect(warnings().filter((w) => w.includes(badData.handle))).toHaveLength(1);
    expect(warnings().filter((w) => w.includes(badMetadata.handle))).toHaveLength(1);

    expect(await app.sessions.get(badData.id)).toBeNull();
    expect(await app.sessions.get(badMetadata.id, { touch: false })).toBeNull();
    expect(decodeErrors()).toBe(4);
    expect(warnings().filter((w) => w.includes(badData.handle))).toHaveLength(2);
    for (const bad of [badData, badMetadata]) {
      // Not ended: an instance that cannot decode a record must not end sessions others can read.
      expect(await app.store.read(app.keys.session('acme', bad.member), false)).not.toBeNull();
      expect(warnings().join('\n')).not.toContain(bad.member);
    }
    expect((await app.sessions.listForUser('ada', { tenant: 'acme' })).map((s) => s.handle)).toEqual([good.handle]);
    expect(await app.sessions.get(good.id)).toMatchObject({ data: { n: 1 } });
    expect(await app.sessions.get(badData.id)).toBeNull(); // still stored: reported again
    expect(decodeErrors()).toBe(7);
    expect(app.core.metrics.counter('sessions_destroyed_total', { reason: 'destroy' })).toBe(0);
    expect(log.events.filter((e) => e.channel === 'session.destroyed')).toEqual([]);
    log.stop();
  });

  it('a value of a newer serializer format (a rolling upgrade) is not found, and the session is left to its writer', async () => {
    const future = await corrupted('d:n', '2J"from a newer release"');
    expect(await app.sessions.get(future.id)).toBeNull();
    expect(decodeErrors()).toBe(1);
    expect(warnings().filter((w) => w.includes(future.handle))).toHaveLength(1);
    const stored = await app.store.read(app.keys.session('acme', future.member), false);
    expect(stored).toMatchObject({ u: 'ada', 'd:n': '2J"from a newer release"' });
    expect(app.core.metrics.counter('sessions_destroyed_total', { reason: 'destroy' })).toBe(0);
  });
});
