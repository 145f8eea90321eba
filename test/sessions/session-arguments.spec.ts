import 'reflect-metadata';
import {
  CoordinationModule, InvalidArgumentError, InvalidOptionsError, MAX_SESSION_TTL_MS, MAX_SESSIONS_PER_USER, SerializationError, TenantInvalidError,
  TenantRequiredError, type SessionModuleOptions,
} from '@nest-coordination/core';
import { bootFailure } from '../support/boot.js';
import { DRIVERS } from '../support/drivers.js';
import { rejectionOf } from '../support/wait.js';
import { sessionApp, type SessionTestApp } from './session-test-app.js';

const memory = DRIVERS.find((d) => d.name === 'memory')!;
const BAD_TTLS = [NaN, 0, -1, 1.5, MAX_SESSION_TTL_MS + 1, '100', Infinity];

/** Asserts `error` is an InvalidArgumentError naming `argument`. */
function expectArgument(error: unknown, argument: string, label = argument): void {
  expect([label, error]).toEqual([label, expect.any(InvalidArgumentError)]);
  expect([label, (error as InvalidArgumentError).argument]).toEqual([label, argument]);
}

/** Bad input throws a typed error naming the argument (before any store call), and bad options fail the boot naming the option. */
describe('SessionService arguments', () => {
  let app: SessionTestApp;
  let id: string;
  beforeAll(async () => {
    app = await sessionApp(memory);
    id = (await app.sessions.create('ada', {})).id;
  });
  afterAll(() => app.close());
  const any = (value: unknown) => value as never;

  it('create: userId, data, and each option', async () => {
    const { sessions } = app;
    for (const userId of [undefined, null, 42, '', 'u'.repeat(513)]) expectArgument(await rejectionOf(sessions.create(any(userId), {})), 'userId', String(userId));
    class Cart {
      items = [];
    }
    for (const data of [undefined, null, 'text', 7, [], new Map(), new Cart()]) expectArgument(await rejectionOf(sessions.create('ada', any(data))), 'data', String(data));
    expectArgument(await rejectionOf(sessions.create('ada', { '': 1 })), 'data');
    expectArgument(await rejectionOf(sessions.create('ada', { ['f'.repeat(257)]: 1 })), 'data');
    expect(await sessions.create('ada', { ['f'.repeat(256)]: 1 })).toMatchObject({ userId: 'ada' });
    expect(await rejectionOf(sessions.create('ada', { run: () => 1 }))).toBeInstanceOf(SerializationError);
    expectArgument(await rejectionOf(sessions.create('ada', {}, any('fast'))), 'options');
    for (const ttlMs of BAD_TTLS) {
      expectArgument(await rejectionOf(sessions.create('ada', {}, { ttlMs: any(ttlMs) })), 'options.ttlMs', String(ttlMs));
      expectArgument(await rejectionOf(sessions.create('ada', {}, { absoluteTtlMs: any(ttlMs) })), 'options.absoluteTtlMs', String(ttlMs));
    }
    for (const name of ['companyId', 'crewId']) {
      for (const value of [42, '', null]) expectArgument(await rejectionOf(sessions.create('ada', {}, { [name]: value })), `options.${name}`);
    }
    for (const metadata of [[], 'ua', null, new Date()]) expectArgument(await rejectionOf(sessions.create('ada', {}, { metadata: any(metadata) })), 'options.metadata');
    expect(await rejectionOf(sessions.create('ada', {}, { tenant: 'a b' }))).toBeInstanceOf(TenantInvalidError);
    expect(await rejectionOf(sessions.create('ada', {}, { tenant: '_shared' }))).toBeInstanceOf(TenantInvalidError);
  });

  it('the methods taking an id: their options', async () => {
    const { sessions } = app;
    expectArgument(await rejectionOf(sessions.get(id, any(1))), 'options');
    expectArgument(await rejectionOf(sessions.get(id, { touch: any('yes') })), 'options.touch');
    expect(await rejectionOf(sessions.get(id, { tenant: 'a*' }))).toBeInstanceOf(TenantInvalidError);
    for (const patch of [null, undefined, [], 'x', new Set()]) expectArgument(await rejectionOf(sessions.update(id, any(patch))), 'patch', String(patch));
    for (const ifVersion of [-1, 1.5, '1', NaN]) expectArgument(await rejectionOf(sessions.update(id, {}, { ifVersion: any(ifVersion) })), 'options.ifVersion');
    for (const ttlMs of BAD_TTLS) expectArgument(await rejectionOf(sessions.extend(id, { ttlMs: any(ttlMs) })), 'options.ttlMs', String(ttlMs));
    expectArgument(await rejectionOf(sessions.destroy(id, any([]))), 'options');
    expectArgument(await rejectionOf(sessions.regenerate(id, any('now'))), 'options');
    // Bad input is refused for a malformed id too, not silently answered "not found".
    expectArgument(await rejectionOf(sessions.update('nope', any(null))), 'patch');
    expect(await sessions.get(id)).toMatchObject({ version: 1 }); // nothing above reached the session
  });

  it('the methods taking a user, and backups', async () => {
    const { sessions } = app;
    for (const userId of [undefined, '', 3]) {
      expectArgument(await rejectionOf(sessions.listForUser(any(userId))), 'userId');
      expectArgument(await rejectionOf(sessions.destroyAllForUser(any(userId))), 'userId');
      expectArgument(await rejectionOf(sessions.destroyByHandle(any(userId), 'AAAAAAAAAAAAAAAA')), 'userId');
    }
    for (const handle of [undefined, null, 42, {}]) expectArgument(await rejectionOf(sessions.destroyByHandle('ada', any(handle))), 'handle', String(handle));
    expectArgument(await rejectionOf(sessions.destroyByHandle('ada', 'AAAAAAAAAAAAAAAA', any('acme'))), 'options');
    expectArgument(await rejectionOf(sessions.destroyAllForUser('ada', { except: any(null) })), 'options.except');
    expectArgument(await rejectionOf(sessions.countForTenant(any(5))), 'options');
    expect(() => sessions.exportSessions(any('all'))).toThrow(InvalidArgumentError);
    expect(() => sessions.exportSessions({ tenant: 'a b' })).toThrow(TenantInvalidError);
    for (const lines of ['{"v":1}', 42, null, { length: 1 }]) expectArgument(await rejectionOf(sessions.importSessions(any(lines))), 'lines', String(lines));
    expect(await rejectionOf(sessions.importSessions([], { tenant: 'a*' }))).toBeInstanceOf(TenantInvalidError);
    expect(await sessions.importSessions([], { tenant: '*' })).toEqual({ restored: 0, kept: 0, expired: 0, skipped: 0 });
    expect(await sessions.listForUser('ada')).toHaveLength(2); // nothing was destroyed
  });

  it('with tenancy.required, calls without a tenant are refused, except by id (an id names its tenant)', async () => {
    const strict = await sessionApp(memory, { tenancy: { required: true } });
    try {
      const { sessions } = strict;
      for (const call of [sessions.create('ada', {}), sessions.listForUser('ada'), sessions.destroyAllForUser('ada'), sessions.destroyByHandle('ada', 'AAAAAAAAAAAAAAAA'), sessions.countForTenant()]) {
        expect(await rejectionOf(call)).toBeInstanceOf(TenantRequiredError);
      }
      expect(() => sessions.exportSessions()).toThrow(TenantRequiredError);
      expect(await rejectionOf(sessions.importSessions([]))).toBeInstanceOf(TenantRequiredError);
      const s = await sessions.create('ada', {}, { tenant: 'acme' });
      expect(await sessions.get(s.id)).toMatchObject({ tenant: 'acme' });
      expect(await sessions.update(s.id, { a: 1 })).toMatchObject({ version: 2 });
    } finally {
      await strict.close();
    }
  });
});

describe('sessions module options', () => {
  // Options are validated while Nest compiles the module, and bootFailure lets a compile error
  // through as its rejection (only init errors are its resolution): either way, the boot's error.
  const failure = (sessions: Record<string, unknown>): Promise<Error> =>
    bootFailure({ imports: [CoordinationModule.forRoot({ driver: 'memory', sessions: sessions as SessionModuleOptions })] }).catch((error: Error) => error);

  it.each([
    ['ttlMs', { ttlMs: 0 }],
    ['ttlMs', { ttlMs: 1_000.5 }],
    ['absoluteTtlMs', { absoluteTtlMs: MAX_SESSION_TTL_MS + 1 }],
    ['sliding', { sliding: 'yes' }],
    ['maxPerUser', { maxPerUser: -1 }],
    ['maxPerUser', { maxPerUser: MAX_SESSIONS_PER_USER + 1 }], // it would be capped silently
    ['onMaxPerUser', { onMaxPerUser: 'drop' }],
    ['pruneIntervalMs', { pruneIntervalMs: -5 }],
    ['bearer', { bearer: 1 }],
    ['cookie.secret', { cookie: { secret: 'too short' } }],
    ['cookie.sameSite', { cookie: { sameSite: 'sometimes' } }],
    ['cookie.name', { cookie: { name: 'a b' } }],
    ['unknownOption', { unknownOption: true }],
  ])('fails the boot naming sessions.%s', async (option, sessions) => {
    const error = await failure(sessions);
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect([...new Set((error as InvalidOptionsError).problems.map((p) => p.option))]).toEqual([`sessions.${option}`]);
    expect(error.message).toContain(`sessions.${option}`);
  });
});
