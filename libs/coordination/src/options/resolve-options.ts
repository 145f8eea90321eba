import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { InvalidOptionsError } from '../errors/coordination.error.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { CapabilityOptions } from '../core/capability.js';
import type {
  BreakerOptions, ConnectionOptions, CoreModuleOptions, HealthOptions, ReconnectOptions,
  SerializerModuleOptions, TelemetryOptions, TenancyOptions,
} from './core-options.interface.js';
import { CoreOptionsSchema, validateSchema, type OptionProblem } from './core-options.schema.js';
import { MAX_DEPTH } from '../serialization/serializer.js';
import { kindOf } from '../keys/key-builder.js';

/** Defaults of every core option; one place to read them (each capability keeps its own beside its schema). */
export const DEFAULT_COORDINATION_OPTIONS = {
  prefix: 'coord',
  isGlobal: true,
  tenancy: { required: false, header: 'x-tenant-id' },
  reconnect: { baseDelayMs: 100, maxDelayMs: 5_000 },
  breaker: { failureThreshold: 5, openMs: 5_000 },
  health: { pingIntervalMs: 5_000, degradedLatencyMs: 250 },
  serializer: { compressThresholdBytes: 1024, maxDepth: MAX_DEPTH },
  connection: { connectTimeoutMs: 10_000, commandTimeoutMs: 5_000 },
  telemetry: { metrics: true, traces: true, hashKeys: false, tenantAttribute: 'all', maxTenantValues: 100 },
} as const;

/** Telemetry options with their defaults; the providers stay undefined for "the global one". */
export type ResolvedTelemetryOptions = Required<Omit<TelemetryOptions, 'meterProvider' | 'tracerProvider'>> & Pick<TelemetryOptions, 'meterProvider' | 'tracerProvider'>;

/** Options after validation, with every default applied. */
export interface ResolvedCoordinationOptions {
  driver: 'redis' | 'memory';
  connection: ConnectionOptions & Required<Pick<ConnectionOptions, 'connectTimeoutMs' | 'commandTimeoutMs'>>;
  prefix: string;
  instanceId: string;
  isGlobal: boolean;
  tenancy: TenancyOptions & Required<Pick<TenancyOptions, 'required' | 'header'>>;
  reconnect: Required<ReconnectOptions>;
  breaker: Required<BreakerOptions>;
  health: Required<HealthOptions>;
  serializer: Required<SerializerModuleOptions>;
  telemetry: ResolvedTelemetryOptions;
  clock: Clock;
  /** Each capability's options section, validated and with its defaults, by section key. */
  sections: Readonly<Record<string, unknown>>;
  /** The options as given (core options and capability sections). */
  raw: CoreModuleOptions;
}

/** What resolveOptions needs of a capability's options (see CoordinationCapability.options). */
export type OptionSection = Pick<CapabilityOptions, 'key' | 'schema' | 'resolve'>;

/** Anything the module was given: the core options and whatever sections the capabilities declare. */
type RawOptions = CoreModuleOptions & Record<string, unknown>;

/**
 * Validates module options and applies defaults: the core options, then each capability's
 * section with its own schema. Throws `InvalidOptionsError` listing every offending option by
 * its path, with the allowed values.
 */
export function resolveOptions(raw: CoreModuleOptions = {}, capabilitySections: readonly OptionSection[] = []): ResolvedCoordinationOptions {
  if (typeof raw !== 'object' || raw === null) {
    throw new InvalidOptionsError('CoordinationModule options must be an object', [{ option: '(root)', reason: 'must be an object' }]);
  }
  const given = raw as RawOptions;
  const cycles = findCycles(given);
  if (cycles.length > 0) {
    throw new InvalidOptionsError(`Invalid CoordinationModule options:\n${cycles.map((p) => `  - ${p.option}: ${p.reason}`).join('\n')}`, cycles);
  }
  const sectionKeys = capabilitySections.map((s) => s.key);
  const problems = [
    ...validateSchema(CoreOptionsSchema, validatable(given, sectionKeys), '', sectionKeys),
    ...checkByHand(raw),
    ...capabilitySections.flatMap((s) => validateSection(s, given[s.key])),
  ];
  if (problems.length > 0) {
    const lines = problems.map((p) => `  - ${p.option}: ${p.reason}`).join('\n');
    throw new InvalidOptionsError(`Invalid CoordinationModule options:\n${lines}`, problems);
  }
  const d = DEFAULT_COORDINATION_OPTIONS;
  return {
    driver: raw.driver ?? (raw.connection ? 'redis' : 'memory'),
    connection: { ...d.connection, ...withoutUnset(raw.connection) },
    prefix: raw.prefix ?? d.prefix,
    instanceId: raw.instanceId ?? `${hostname().replace(/[^A-Za-z0-9_.-]/g, '-')}-${process.pid}-${randomBytes(3).toString('hex')}`,
    isGlobal: raw.isGlobal ?? d.isGlobal,
    tenancy: { ...d.tenancy, ...withoutUnset(raw.tenancy) },
    reconnect: { ...d.reconnect, ...withoutUnset(raw.reconnect) },
    breaker: { ...d.breaker, ...withoutUnset(raw.breaker) },
    health: { ...d.health, ...withoutUnset(raw.health) },
    serializer: { ...d.serializer, ...withoutUnset(raw.serializer) },
    telemetry: { ...d.telemetry, ...withoutUnset(raw.telemetry) },
    clock: raw.clock ?? systemClock,
    // A null section means "not configured", as it did before sections had their own schemas;
    // a section's options given as undefined or null get their defaults, as the core ones do.
    sections: Object.fromEntries(capabilitySections.map((s) => [s.key, s.resolve(sectionOf(given[s.key]))])),
    raw,
  };
}

/** Options that hold an instance or a function as given, which the cycle walk leaves alone. */
const INSTANCE_OPTIONS = new Set(['clock', 'connection.client', 'connection.tls', 'tenancy.resolver', 'tenancy.resolvers', 'telemetry.meterProvider', 'telemetry.tracerProvider']);

/**
 * Every option whose value refers back to an object that contains it (a cycle), which no option
 * can hold and which class-transformer would recurse into until the stack overflows. Walks plain
 * objects and arrays only (a client, a provider or a function is kept as given); one object used
 * twice is not a cycle.
 */
function findCycles(raw: object): OptionProblem[] {
  const problems: OptionProblem[] = [];
  const ancestors = new WeakSet<object>();
  const walk = (value: unknown, path: string): void => {
    if (typeof value !== 'object' || value === null || INSTANCE_OPTIONS.has(path)) return;
    if (!Array.isArray(value) && !isPlainObject(value)) return;
    if (ancestors.has(value)) {
      problems.push({ option: path || '(root)', reason: 'refers back to an object that contains it (a cyclic value); options must be plain data' });
      return;
    }
    ancestors.add(value);
    for (const [key, child] of Object.entries(value)) walk(child, path ? `${path}.${key}` : key);
    ancestors.delete(value);
  };
  walk(raw, '');
  return problems;
}

/**
 * A section's options without those given as undefined or null, which the schema accepts as
 * absent: `header: process.env.TENANT_HEADER` unset must get the default, not override it. Nested
 * plain objects (`rateLimit.violations`, `cache.l1`) likewise; anything else (a client, a provider,
 * a function, an array) is kept as given.
 */
function withoutUnset<T extends object>(section: T | undefined | null): Partial<T> {
  if (section === undefined || section === null) return {};
  const copy: Partial<T> = {};
  for (const [key, value] of Object.entries(section)) {
    if (value === undefined || value === null) continue;
    copy[key as keyof T] = (isPlainObject(value) ? withoutUnset(value) : value) as T[keyof T];
  }
  return copy;
}

function isPlainObject(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** A capability section as its resolver takes it: absent, or without the options given as undefined or null. */
function sectionOf(section: unknown): object | undefined {
  return section === undefined || section === null ? undefined : withoutUnset(section as object);
}

function validateSection(section: OptionSection, value: unknown): OptionProblem[] {
  if (value === undefined || value === null) return [];
  if (!isObject(value)) return [{ option: section.key, reason: `must be an object (got ${Array.isArray(value) ? 'an array' : String(value)})` }];
  return validateSchema(section.schema, value, section.key);
}

/**
 * A copy without the capability sections (validated by their own schemas) and without the
 * function- and instance-valued options that class-transformer must not touch.
 */
function validatable(raw: RawOptions, sectionKeys: readonly string[]): object {
  const { clock: _clock, ...rest } = raw;
  const copy: Record<string, unknown> = { ...rest };
  for (const key of sectionKeys) delete copy[key];
  // A section that is not an object is left as is, for the schema to report it.
  if (isObject(raw.connection)) {
    const { client: _client, tls: _tls, ...connection } = raw.connection;
    copy.connection = connection;
  }
  if (isObject(raw.tenancy)) {
    const { resolver: _resolver, resolvers: _resolvers, ...tenancy } = raw.tenancy;
    copy.tenancy = tenancy;
  }
  if (isObject(raw.telemetry)) {
    const { meterProvider: _meters, tracerProvider: _tracers, tenantAttribute: _tenants, ...telemetry } = raw.telemetry;
    copy.telemetry = telemetry;
  }
  return copy;
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkByHand(raw: CoreModuleOptions): OptionProblem[] {
  const problems: OptionProblem[] = [];
  const c = isObject(raw.connection) ? raw.connection : undefined;
  if (raw.driver === 'redis' && !c) {
    problems.push({ option: 'connection', reason: 'is required when driver is "redis" (give url, host/port, sentinels, cluster or client)' });
  }
  if (c) {
    const forms = [c.url !== undefined, c.host !== undefined || c.port !== undefined, c.sentinels !== undefined, c.cluster !== undefined, c.client !== undefined];
    if (forms.filter(Boolean).length > 1) {
      problems.push({ option: 'connection', reason: 'give only one of url, host/port, sentinels, cluster or client' });
    }
    if (c.sentinels && !c.sentinelName) problems.push({ option: 'connection.sentinelName', reason: 'is required with connection.sentinels' });
    if (c.client !== undefined && (typeof c.client !== 'object' || c.client === null || typeof (c.client as { duplicate?: unknown }).duplicate !== 'function')) {
      problems.push({ option: 'connection.client', reason: 'must be an ioredis Redis or Cluster instance' });
    }
    if (c.tls !== undefined && typeof c.tls !== 'boolean' && (typeof c.tls !== 'object' || c.tls === null)) {
      problems.push({ option: 'connection.tls', reason: 'must be a boolean or a node:tls options object' });
    }
  }
  if (isObject(raw.tenancy) && raw.tenancy.resolver !== undefined && typeof raw.tenancy.resolver !== 'function') {
    problems.push({ option: 'tenancy.resolver', reason: 'must be a function (request) => string | undefined' });
  }
  if (isObject(raw.tenancy)) problems.push(...checkContextResolvers(raw.tenancy.resolvers));
  if (isObject(raw.telemetry)) problems.push(...checkTelemetry(raw.telemetry));
  if (raw.clock !== undefined && typeof raw.clock?.now !== 'function') {
    problems.push({ option: 'clock', reason: 'must be an object with a now(): number method' });
  }
  if (raw.reconnect?.baseDelayMs && raw.reconnect.maxDelayMs && raw.reconnect.baseDelayMs > raw.reconnect.maxDelayMs) {
    problems.push({ option: 'reconnect.baseDelayMs', reason: 'must not exceed reconnect.maxDelayMs' });
  }
  return problems;
}

/** The context types `tenancy.resolvers` knows, with the arguments their resolvers get (for messages). */
const CONTEXT_RESOLVER_ARGUMENTS: Readonly<Record<string, string>> = { graphql: '(graphqlContext, context)', ws: '(client, context)', rpc: '(data, context)' };

/** `tenancy.resolvers`: an object of functions, one per known context type. */
function checkContextResolvers(resolvers: unknown): OptionProblem[] {
  if (resolvers === undefined || resolvers === null) return [];
  if (!isObject(resolvers)) return [{ option: 'tenancy.resolvers', reason: 'must be an object: { graphql?, ws?, rpc? }, a resolver function per context type' }];
  const known = Object.keys(CONTEXT_RESOLVER_ARGUMENTS);
  return Object.entries(resolvers).flatMap(([type, resolver]): OptionProblem[] => {
    const option = `tenancy.resolvers.${type}`;
    if (!Object.hasOwn(CONTEXT_RESOLVER_ARGUMENTS, type)) return [{ option, reason: `is not a known option; known options here: ${known.join(', ')}` }];
    if (resolver === undefined || resolver === null || typeof resolver === 'function') return [];
    return [{ option, reason: `must be a function ${CONTEXT_RESOLVER_ARGUMENTS[type]} => string | undefined` }];
  });
}

/** The telemetry options class-validator cannot check: providers (instances) and the tenant attribute (a union). */
function checkTelemetry(telemetry: TelemetryOptions): OptionProblem[] {
  const problems: OptionProblem[] = [];
  const { meterProvider, tracerProvider, tenantAttribute } = telemetry;
  if (meterProvider !== undefined && typeof (meterProvider as { getMeter?: unknown } | null)?.getMeter !== 'function') {
    problems.push({ option: 'telemetry.meterProvider', reason: 'must be an OpenTelemetry MeterProvider (with getMeter())' });
  }
  if (tracerProvider !== undefined && typeof (tracerProvider as { getTracer?: unknown } | null)?.getTracer !== 'function') {
    problems.push({ option: 'telemetry.tracerProvider', reason: 'must be an OpenTelemetry TracerProvider (with getTracer())' });
  }
  const validList = Array.isArray(tenantAttribute) && tenantAttribute.every((t) => typeof t === 'string' && t.length > 0);
  if (tenantAttribute !== undefined && tenantAttribute !== 'all' && tenantAttribute !== 'none' && !validList) {
    problems.push({ option: 'telemetry.tenantAttribute', reason: `must be 'all', 'none' or an array of tenant ids (got ${typeof tenantAttribute === 'string' ? JSON.stringify(tenantAttribute) : kindOf(tenantAttribute)})` });
  }
  return problems;
}
