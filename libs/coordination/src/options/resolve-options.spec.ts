import fc from 'fast-check';
import { metrics, trace } from '@opentelemetry/api';
import { Redis } from 'ioredis';
import { ManualClock, systemClock } from '../core/clock.js';
import { ErrorCode, InvalidOptionsError } from '../errors/coordination.error.js';
import type { CoreModuleOptions as CoordinationModuleOptions } from './core-options.interface.js';
import { DEFAULT_COORDINATION_OPTIONS, resolveOptions } from './resolve-options.js';
import { LOCKS_CAPABILITY } from '../locks/locks.capability.js';
import { DEFAULT_LOCK_OPTIONS, type ResolvedLockOptions } from '../locks/lock.options.js';
import { RATE_LIMIT_CAPABILITY } from '../rate-limit/rate-limit.capability.js';
import { resolveRateLimitOptions, type ResolvedRateLimitOptions } from '../rate-limit/rate-limit.options.js';

/** Resolves `raw` expecting failure; returns the error so each case can check what it names. */
function rejectionOf(raw: unknown): InvalidOptionsError {
  try {
    resolveOptions(raw as CoordinationModuleOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionsError);
    return error as InvalidOptionsError;
  }
  throw new Error(`expected ${JSON.stringify(raw)} to be rejected`);
}

describe('resolveOptions: invalid options', () => {
  // Each case: the options, the path the message must name, and words saying what is allowed.
  const cases: Array<[string, unknown, string, RegExp]> = [
    ['an unknown driver', { driver: 'mongo' }, 'driver', /redis, memory/],
    ['a port above 65535', { connection: { port: 70000 } }, 'connection.port', /65535/],
    ['a non-numeric port', { connection: { port: 'abc' } }, 'connection.port', /integer/],
    ['a key prefix with a glob character', { prefix: 'app*' }, 'prefix', /letters, digits/],
    ['a url without redis://', { connection: { url: 'http://localhost:6379' } }, 'connection.url', /redis:\/\/ or rediss:\/\//],
    ['sentinels without sentinelName', { connection: { sentinels: [{ host: 'h', port: 26379 }] } }, 'connection.sentinelName', /required/],
    ['two connection forms at once', { connection: { url: 'redis://h:6379', cluster: [{ host: 'h', port: 7000 }] } }, 'connection', /only one of url, host\/port, sentinels, cluster or client/],
    ['an unknown top-level option', { conection: { url: 'redis://h:6379' } }, 'conection', /not a known option.*\bconnection\b/],
    ['an unknown nested option', { connection: { urll: 'redis://h:6379' } }, 'connection.urll', /not a known option.*\burl\b.*\bclient\b/],
    ['an invalid tenancy header', { tenancy: { header: 'x tenant' } }, 'tenancy.header', /must be an HTTP header name/],
    ['a section that is not an object', { tenancy: 5 }, 'tenancy', /object/],
    ['a connection given as a string', { connection: 'redis://h:6379' }, 'connection', /object/],
    ['a zero breaker threshold', { breaker: { failureThreshold: 0 } }, 'breaker.failureThreshold', /less than 1/],
    ['a resolver that is not a function', { tenancy: { resolver: 'x-tenant' } }, 'tenancy.resolver', /function/],
    ['context resolvers that are not an object', { tenancy: { resolvers: () => 'acme' } }, 'tenancy.resolvers', /object: \{ graphql\?, ws\?, rpc\? \}/],
    ['a context resolver that is not a function', { tenancy: { resolvers: { ws: 'x-tenant-id' } } }, 'tenancy.resolvers.ws', /function \(client, context\)/],
    ['a context resolver of an unknown context type', { tenancy: { resolvers: { websocket: () => 'acme' } } }, 'tenancy.resolvers.websocket', /not a known option.*graphql, ws, rpc/],
    ['a client that is not an ioredis instance', { connection: { client: { host: 'h' } } }, 'connection.client', /ioredis/],
    ['a redis driver without connection', { driver: 'redis' }, 'connection', /required when driver is "redis"/],
    ['a clock without now()', { clock: {} }, 'clock', /now\(\)/],
    ['a base delay above the max delay', { reconnect: { baseDelayMs: 500, maxDelayMs: 100 } }, 'reconnect.baseDelayMs', /maxDelayMs/],
    ['a malformed sentinel address', { connection: { sentinels: [{ host: '', port: 1 }], sentinelName: 'm' } }, 'connection.sentinels.0.host', /empty/],
    ['a meter provider without getMeter()', { telemetry: { meterProvider: {} } }, 'telemetry.meterProvider', /MeterProvider/],
    ['a tracer provider without getTracer()', { telemetry: { tracerProvider: 'global' } }, 'telemetry.tracerProvider', /TracerProvider/],
    ['an unknown tenant attribute mode', { telemetry: { tenantAttribute: 'some' } }, 'telemetry.tenantAttribute', /'all', 'none' or an array/],
    ['an empty tenant in the tenant attribute list', { telemetry: { tenantAttribute: ['acme', ''] } }, 'telemetry.tenantAttribute', /array of tenant ids/],
    ['a zero maxTenantValues', { telemetry: { maxTenantValues: 0 } }, 'telemetry.maxTenantValues', /less than 1/],
    ['hashKeys that is not a boolean', { telemetry: { hashKeys: 'yes' } }, 'telemetry.hashKeys', /boolean/],
    ['an unknown telemetry option', { telemetry: { tracing: true } }, 'telemetry.tracing', /not a known option.*\btraces\b.*\bmeterProvider\b/],
  ];

  it.each(cases)('rejects %s, naming the option and what is allowed', (_label, raw, option, allowed) => {
    const error = rejectionOf(raw);
    expect(error.code).toBe(ErrorCode.InvalidOptions);
    const reasons = error.problems.filter((p) => p.option === option).map((p) => p.reason);
    expect(reasons.length).toBeGreaterThan(0);
    expect(reasons.join('\n')).toMatch(allowed);
    expect(error.message).toContain(`${option}: `);
    expect(error.message).toMatch(allowed);
  });

  it('lists every problem at once', () => {
    const error = rejectionOf({ driver: 'mongo', prefix: '', breaker: { openMs: -1 } });
    expect(error.problems.map((p) => p.option).sort()).toEqual(['breaker.openMs', 'driver', 'prefix']);
  });

  it('rejects options that are not an object', () => {
    expect(rejectionOf(null).problems[0].option).toBe('(root)');
    expect(rejectionOf('redis://localhost').problems[0].option).toBe('(root)');
  });
});

describe('resolveOptions: defaults', () => {
  it('uses the memory driver when no connection is given', () => {
    const resolved = resolveOptions({});
    expect(resolved.driver).toBe('memory');
    expect(resolveOptions().driver).toBe('memory');
  });

  it('uses the redis driver when a connection is given, and an explicit driver wins', () => {
    expect(resolveOptions({ connection: { url: 'redis://localhost:6379' } }).driver).toBe('redis');
    expect(resolveOptions({ driver: 'memory', connection: { url: 'redis://localhost:6379' } }).driver).toBe('memory');
  });

  it('applies every default', () => {
    const d = DEFAULT_COORDINATION_OPTIONS;
    const resolved = resolveOptions({});
    expect(resolved.prefix).toBe('coord');
    expect(resolved.isGlobal).toBe(true);
    expect(resolved.tenancy).toEqual(d.tenancy);
    expect(resolved.reconnect).toEqual(d.reconnect);
    expect(resolved.breaker).toEqual(d.breaker);
    expect(resolved.health).toEqual(d.health);
    expect(resolved.serializer).toEqual(d.serializer);
    expect(resolved.telemetry).toEqual(d.telemetry);
    expect(resolved.connection).toEqual(d.connection);
    expect(resolved.clock).toBe(systemClock);
    expect(resolved.instanceId).toMatch(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/);
  });

  it('merges a partial section over its defaults and keeps the raw options', () => {
    const clock = new ManualClock(5);
    const raw: CoordinationModuleOptions = {
      prefix: 'app',
      instanceId: 'node-1',
      breaker: { openMs: 100 },
      tenancy: { required: true },
      connection: { host: 'redis.internal', port: 6380, commandTimeoutMs: 50 },
      clock,
    };
    const resolved = resolveOptions(raw);
    expect(resolved.breaker).toEqual({ failureThreshold: 5, openMs: 100 });
    expect(resolved.tenancy).toEqual({ required: true, header: 'x-tenant-id' });
    expect(resolved.connection).toEqual({ host: 'redis.internal', port: 6380, commandTimeoutMs: 50, connectTimeoutMs: 10_000 });
    expect(resolved.instanceId).toBe('node-1');
    expect(resolved.clock).toBe(clock);
    expect(resolved.raw).toBe(raw);
  });

  it('reads an option given as undefined (e.g. an unset environment variable) as not given: its default applies', () => {
    const resolved = resolveOptions({
      tenancy: { header: undefined, userProperty: 'companyId' },
      breaker: { failureThreshold: undefined, openMs: 100 },
      connection: { host: 'redis.internal', commandTimeoutMs: undefined },
      telemetry: { hashKeys: undefined },
    });
    expect(resolved.tenancy).toEqual({ required: false, header: 'x-tenant-id', userProperty: 'companyId' });
    expect(resolved.breaker).toEqual({ failureThreshold: 5, openMs: 100 });
    expect(resolved.connection).toEqual({ host: 'redis.internal', commandTimeoutMs: 5_000, connectTimeoutMs: 10_000 });
    expect(resolved.telemetry.hashKeys).toBe(false);
    // null passes the schema as "not given" too (class-validator's @IsOptional): it must not override the default either.
    expect(resolveOptions({ tenancy: { header: null as unknown as string } }).tenancy.header).toBe('x-tenant-id');
    expect(resolveOptions({ tenancy: null, breaker: null } as unknown as CoordinationModuleOptions).tenancy).toEqual(DEFAULT_COORDINATION_OPTIONS.tenancy);
  });

  it('reads a capability section option given as undefined or null as not given too', () => {
    const sections = [LOCKS_CAPABILITY.options, RATE_LIMIT_CAPABILITY.options];
    const raw = {
      locks: { defaultTtlMs: undefined, maxTtlMs: null, waiterLeaseMs: 7_000 },
      rateLimit: { timeoutMs: undefined, denyCacheMaxEntries: 7, violations: { maxPerTenant: undefined, alertThreshold: 3 } },
    } as unknown as CoordinationModuleOptions;
    const resolved = resolveOptions(raw, sections).sections;
    const locks = resolved.locks as ResolvedLockOptions;
    expect(locks.defaultTtlMs).toBe(DEFAULT_LOCK_OPTIONS.defaultTtlMs);
    expect(locks.maxTtlMs).toBe(DEFAULT_LOCK_OPTIONS.maxTtlMs);
    expect(locks.waiterLeaseMs).toBe(7_000);
    const rateLimit = resolved.rateLimit as ResolvedRateLimitOptions;
    expect(rateLimit.timeoutMs).toBe(resolveRateLimitOptions({}).timeoutMs);
    expect(rateLimit.denyCacheMaxEntries).toBe(7);
    // One level down too: a nested section's unset option takes its default.
    expect(rateLimit.violations.maxPerTenant).toBe(resolveRateLimitOptions({}).violations.maxPerTenant);
    expect(rateLimit.violations.alertThreshold).toBe(3);
  });

  it('gives each resolution its own instance id', () => {
    expect(resolveOptions({}).instanceId).not.toBe(resolveOptions({}).instanceId);
  });

  it('accepts an ioredis client and a resolver function without cloning them', () => {
    const client = new Redis({ lazyConnect: true });
    const resolver = () => 'acme';
    try {
      const resolved = resolveOptions({ connection: { client }, tenancy: { resolver } });
      expect(resolved.connection.client).toBe(client);
      expect(resolved.tenancy.resolver).toBe(resolver);
      expect(resolved.driver).toBe('redis');
    } finally {
      client.disconnect();
    }
  });

  it('accepts context resolvers without cloning them, and names resolvers among the known tenancy options', () => {
    const resolvers = { graphql: () => 'a', ws: () => 'b', rpc: () => undefined };
    expect(resolveOptions({ tenancy: { resolvers } }).tenancy.resolvers).toEqual(resolvers);
    expect(resolveOptions({ tenancy: { resolvers } }).tenancy.resolvers?.ws).toBe(resolvers.ws);
    const unknown = rejectionOf({ tenancy: { resolverz: {} } });
    expect(unknown.problems.find((p) => p.option === 'tenancy.resolverz')?.reason).toMatch(/\bresolvers\b/);
  });

  it('accepts telemetry providers and a tenant list without cloning them', () => {
    const meterProvider = metrics.getMeterProvider();
    const tracerProvider = trace.getTracerProvider();
    const tenantAttribute = ['acme', 'globex'];
    const resolved = resolveOptions({ telemetry: { meterProvider, tracerProvider, tenantAttribute, hashKeys: true } });
    expect(resolved.telemetry.meterProvider).toBe(meterProvider);
    expect(resolved.telemetry.tracerProvider).toBe(tracerProvider);
    expect(resolved.telemetry.tenantAttribute).toBe(tenantAttribute);
    expect(resolved.telemetry).toMatchObject({ hashKeys: true, metrics: true, traces: true, maxTenantValues: 100 });
  });

  it('accepts each single connection form', () => {
    const forms: CoordinationModuleOptions['connection'][] = [
      { url: 'rediss://user:pw@h:6380/2' },
      { host: 'h', port: 6379, username: 'u', password: 'p', db: 3, tls: true },
      { sentinels: [{ host: 's1', port: 26379 }], sentinelName: 'mymaster', password: 'p' },
      { cluster: [{ host: 'c1', port: 7000 }, { host: 'c2', port: 7001 }] },
    ];
    for (const connection of forms) expect(resolveOptions({ connection }).driver).toBe('redis');
  });
});

describe('resolveOptions: values no option can hold', () => {
  const cyclic = (): Record<string, unknown> => {
    const value: Record<string, unknown> = { a: 1 };
    value.self = value;
    return value;
  };

  it.each([
    ['prefix', (v: unknown) => ({ prefix: v })],
    ['tenancy.header', (v: unknown) => ({ tenancy: { header: v } })],
    ['locks.waitMs', (v: unknown) => ({ locks: { waitMs: v } })],
    ['connection.url', (v: unknown) => ({ connection: { url: v } })],
  ])('refuses a cyclic value at %s with the options error naming it', (option, build) => {
    const raw = build(cyclic());
    let thrown: unknown;
    try {
      resolveOptions(raw as CoordinationModuleOptions, [LOCKS_CAPABILITY.options!]);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidOptionsError);
    const problems = (thrown as InvalidOptionsError).problems;
    const problem = problems.find((p) => p.option === option || p.option.startsWith(`${option}.`));
    expect(problem?.reason).toMatch(/cyclic/);
  });

  it('refuses options whose root refers back to itself', () => {
    const raw: Record<string, unknown> = {};
    raw.tenancy = { nested: raw };
    expect(rejectionOf(raw).problems.map((p) => p.option)).toContain('tenancy.nested');
  });

  it('accepts one object used twice (shared, not cyclic)', () => {
    const shared = { host: 's1', port: 26379 };
    expect(resolveOptions({ connection: { sentinels: [shared, shared], sentinelName: 'm' } }).driver).toBe('redis');
  });

  class Node {
    self: Node = this;
  }
  it.each([
    ['a bigint', 10n, /got a bigint/],
    ['a cyclic plain object', cyclic(), /cyclic/],
    ['a cyclic class instance', new Node(), /got an object/],
  ])('refuses telemetry.tenantAttribute set to %s naming its kind', (_label, value, kind) => {
    const error = rejectionOf({ telemetry: { tenantAttribute: value } });
    const problem = error.problems.find((p) => p.option.startsWith('telemetry.tenantAttribute'));
    expect(problem?.reason).toMatch(kind);
  });

  it('refuses a context resolver named after an Object.prototype member', () => {
    const error = rejectionOf({ tenancy: { resolvers: { constructor: () => 'x' } } });
    expect(error.problems.find((p) => p.option === 'tenancy.resolvers.constructor')?.reason).toMatch(/not a known option.*graphql/);
  });

  it('either resolves or throws InvalidOptionsError for any option tree, cyclic, bigint or symbol', () => {
    const leaf = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.bigInt(), fc.constant(Symbol('s')));
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('tree'), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 6 }), tie('tree'), { maxKeys: 3 })),
    }));
    const section = fc.constantFrom('prefix', 'tenancy', 'telemetry', 'locks', 'connection', 'breaker', 'serializer', 'rateLimit', 'driver');
    const options = fc.record({
      entries: fc.dictionary(section, tree, { maxKeys: 4 }),
      cycleAt: fc.option(fc.nat(), { nil: undefined }),
    });
    fc.assert(
      fc.property(options, ({ entries, cycleAt }) => {
        const raw: Record<string, unknown> = { ...entries };
        if (cycleAt !== undefined) {
          // Close a cycle at one of the nested objects (or the root).
          const objects: Array<Record<string, unknown>> = [raw];
          const walk = (v: unknown): void => {
            if (typeof v === 'object' && v !== null) {
              objects.push(v as Record<string, unknown>);
              Object.values(v).forEach(walk);
            }
          };
          Object.values(raw).forEach(walk);
          const target = objects[cycleAt % objects.length];
          target.loop = objects[(cycleAt * 7) % objects.length];
        }
        try {
          resolveOptions(raw as CoordinationModuleOptions, [LOCKS_CAPABILITY.options!, RATE_LIMIT_CAPABILITY.options!]);
        } catch (error) {
          if (!(error instanceof InvalidOptionsError)) throw error;
        }
      }),
      { numRuns: 300 },
    );
  });
});
