import { RedisUnavailableError } from '@nest-coordination/core';
import { collect } from '../contract/sessions.contract.js';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { privateServerDriver } from '../support/drivers.js';
import { rejectionOf, until } from '../support/wait.js';
import { ARRIVAL_MS, sessionApp, type SessionTestApp } from './session-test-app.js';

/** Every SessionService method throws RedisUnavailableError naming it while Redis is unreachable, and works again once it is back. */
describe('SessionService while Redis is unreachable', () => {
  let server: RedisServerHandle;
  let app: SessionTestApp;
  beforeAll(async () => {
    server = await startRedisServer();
    app = await sessionApp(privateServerDriver(server));
  });
  afterAll(async () => {
    await app.close();
    await server.stop();
  });

  it('throws RedisUnavailableError naming the public method, from every method', async () => {
    const s = await app.sessions.create('ada', { a: 1 }, { tenant: 'acme' });
    const lines = await collect(app.sessions.exportSessions({ tenant: 'acme' }));
    await server.kill();
    const { sessions } = app;
    const calls: Record<string, () => Promise<unknown>> = {
      'sessions.create': () => sessions.create('ada', {}, { tenant: 'acme' }),
      'sessions.get': () => sessions.get(s.id),
      'sessions.update': () => sessions.update(s.id, { a: 2 }),
      'sessions.extend': () => sessions.extend(s.id, { ttlMs: 60_000 }),
      'sessions.destroy': () => sessions.destroy(s.id),
      'sessions.listForUser': () => sessions.listForUser('ada', { tenant: 'acme' }),
      'sessions.destroyAllForUser': () => sessions.destroyAllForUser('ada', { tenant: 'acme' }),
      'sessions.regenerate': () => sessions.regenerate(s.id),
      'sessions.countForTenant': () => sessions.countForTenant({ tenant: 'acme' }),
      'sessions.exportSessions': () => collect(sessions.exportSessions({ tenant: 'acme' })),
      'sessions.importSessions': () => sessions.importSessions(lines, { tenant: 'acme' }),
      'sessions.destroyByHandle': () => sessions.destroyByHandle('ada', s.handle, { tenant: 'acme' }),
      'sessions.prune': () => app.pruner.runOnce(),
    };
    for (const [operation, call] of Object.entries(calls)) {
      const error = await rejectionOf(call());
      expect([operation, error]).toEqual([operation, expect.any(RedisUnavailableError)]);
      expect([operation, (error as RedisUnavailableError).operation]).toEqual([operation, operation]);
      expect((error as Error).message).not.toContain(s.id.slice('acme.'.length));
      expect(app.core.metrics.counter('sessions_errors_total', { operation })).toBeGreaterThan(0);
    }

    // A crash: the server kept nothing (no persistence); the export made before it restores the session.
    await server.restart();
    await until(() => app.core.connection!.health().status === 'up', { timeoutMs: ARRIVAL_MS, message: 'the connection to come back' });
    expect(await app.sessions.get(s.id)).toBeNull();
    expect(await app.sessions.importSessions(lines, { tenant: 'acme' })).toEqual({ restored: 1, kept: 0, expired: 0, skipped: 0 });
    expect(await app.sessions.update(s.id, { a: 3 })).toMatchObject({ data: { a: 3 }, version: 2 });
  });
});
