// class-transformer's @Type needs the Reflect metadata API; resolveOptions() is public and may run before Nest loads it.
import 'reflect-metadata';
import { Type, plainToInstance } from 'class-transformer';
import {
  IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, ValidateNested,
  ArrayMinSize, IsNotEmpty, getMetadataStorage, validateSync, type ValidationError,
} from 'class-validator';
import { MAX_DEPTH } from '../serialization/serializer.js';

// Classes mirroring CoordinationModuleOptions, so that class-validator can check user input
// at startup. Function-valued and instance-valued options (resolver, client, clock) are
// checked by hand in resolve-options.ts: class-transformer would try to clone them.

class NodeAddressSchema {
  @IsString() @IsNotEmpty() host!: string;
  @IsInt() @Min(1) @Max(65535) port!: number;
}

class ConnectionSchema {
  @IsOptional() @IsString() @Matches(/^rediss?:\/\//, { message: 'must start with redis:// or rediss://' }) url?: string;
  @IsOptional() @IsString() @IsNotEmpty() host?: string;
  @IsOptional() @IsInt() @Min(1) @Max(65535) port?: number;
  @IsOptional() @IsString() username?: string;
  @IsOptional() @IsString() password?: string;
  @IsOptional() @IsInt() @Min(0) @Max(15) db?: number;
  @IsOptional() @ValidateNested({ each: true }) @ArrayMinSize(1) @Type(() => NodeAddressSchema) sentinels?: NodeAddressSchema[];
  @IsOptional() @IsString() @IsNotEmpty() sentinelName?: string;
  @IsOptional() @ValidateNested({ each: true }) @ArrayMinSize(1) @Type(() => NodeAddressSchema) cluster?: NodeAddressSchema[];
  @IsOptional() @IsInt() @Min(1) @Max(600_000) connectTimeoutMs?: number;
  @IsOptional() @IsInt() @Min(1) @Max(600_000) commandTimeoutMs?: number;
}

class ReconnectSchema {
  @IsOptional() @IsInt() @Min(1) @Max(60_000) baseDelayMs?: number;
  @IsOptional() @IsInt() @Min(1) @Max(600_000) maxDelayMs?: number;
}

class BreakerSchema {
  @IsOptional() @IsInt() @Min(1) @Max(10_000) failureThreshold?: number;
  @IsOptional() @IsInt() @Min(1) @Max(3_600_000) openMs?: number;
}

class HealthSchema {
  @IsOptional() @IsInt() @Min(0) @Max(3_600_000) pingIntervalMs?: number;
  @IsOptional() @IsInt() @Min(1) @Max(600_000) degradedLatencyMs?: number;
}

class TelemetrySchema {
  @IsOptional() @IsBoolean() metrics?: boolean;
  @IsOptional() @IsBoolean() traces?: boolean;
  @IsOptional() @IsBoolean() hashKeys?: boolean;
  @IsOptional() @IsInt() @Min(1) @Max(100_000) maxTenantValues?: number;
}

class TenancySchema {
  @IsOptional() @IsBoolean() required?: boolean;
  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9-]+$/, { message: 'must be an HTTP header name' }) header?: string;
  @IsOptional() @IsString() @Matches(/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/, { message: 'must be a property path such as "companyId" or "org.id"' }) userProperty?: string;
}

class SerializerSchema {
  @IsOptional() @IsInt() @Min(0) compressThresholdBytes?: number;
  @IsOptional() @IsInt() @Min(1) @Max(MAX_DEPTH) maxDepth?: number;
}

/** The core options (see CoreModuleOptions); capability sections are validated by their own schemas. */
export class CoreOptionsSchema {
  @IsOptional() @IsIn(['redis', 'memory']) driver?: string;
  @IsOptional() @ValidateNested() @Type(() => ConnectionSchema) connection?: ConnectionSchema;
  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, { message: 'must be 1-64 letters, digits, "_", "." or "-", starting with a letter or digit' }) prefix?: string;
  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/, { message: 'must be 1-128 letters, digits, "_", ".", ":" or "-"' }) instanceId?: string;
  @IsOptional() @IsBoolean() isGlobal?: boolean;
  @IsOptional() @ValidateNested() @Type(() => TenancySchema) tenancy?: TenancySchema;
  @IsOptional() @ValidateNested() @Type(() => ReconnectSchema) reconnect?: ReconnectSchema;
  @IsOptional() @ValidateNested() @Type(() => BreakerSchema) breaker?: BreakerSchema;
  @IsOptional() @ValidateNested() @Type(() => HealthSchema) health?: HealthSchema;
  @IsOptional() @ValidateNested() @Type(() => SerializerSchema) serializer?: SerializerSchema;
  @IsOptional() @ValidateNested() @Type(() => TelemetrySchema) telemetry?: TelemetrySchema;
}

export interface OptionProblem {
  option: string;
  reason: string;
}

/**
 * Runs class-validator over a plain options object; returns one problem per failed constraint,
 * named by its path below `path`. `alsoKnown` lists properties checked elsewhere (capability
 * sections at the root), so they are named among the known options of an unknown one.
 */
export function validateSchema<T extends object>(schema: new () => T, plain: object, path = '', alsoKnown: readonly string[] = []): OptionProblem[] {
  const instance = plainToInstance(schema, plain);
  const errors = validateSync(instance, { forbidUnknownValues: false, whitelist: true, forbidNonWhitelisted: true });
  return flatten(errors, path, alsoKnown);
}

/** Options checked by hand in resolve-options.ts, so absent from the schema classes but still known. */
const HAND_CHECKED_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  '': ['clock'],
  connection: ['client', 'tls'],
  tenancy: ['resolver', 'resolvers'],
  telemetry: ['meterProvider', 'tracerProvider', 'tenantAttribute'],
};

function flatten(errors: ValidationError[], parent: string, alsoKnown: readonly string[]): OptionProblem[] {
  return errors.flatMap((error) => {
    const option = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.entries(error.constraints ?? {}).map(([constraint, message]) => ({
      option,
      reason:
        constraint === 'whitelistValidation'
          ? `is not a known option; known options here: ${knownOptions(error.target, parent, alsoKnown).join(', ')}`
          : // Built-in messages start with the property name ("port must be ..."); custom ones do not.
            `${message.startsWith(`${error.property} `) ? message.slice(error.property.length + 1) : message} (got ${describe(error.value, option)})`,
    }));
    return [...own, ...flatten(error.children ?? [], option, [])];
  });
}

function knownOptions(target: object | undefined, parent: string, alsoKnown: readonly string[]): string[] {
  const schema = target?.constructor;
  const declared = schema
    ? getMetadataStorage().getTargetValidationMetadatas(schema, '', true, false).map((m) => m.propertyName)
    : [];
  const section = parent.replace(/\.\d+$/, '');
  return [...new Set([...declared, ...(HAND_CHECKED_OPTIONS[section] ?? []), ...alsoKnown])];
}

/**
 * Options whose values are secrets: a startup error names them and describes their value, never
 * prints it (logs and error trackers keep startup errors). `sessions.cookie.secret`,
 * `connection.password` and any TLS key material (`connection.tls.*`, checked by hand today);
 * `connection.url` is printed without its credentials.
 */
const SECRET_OPTION = /^(?:sessions\.cookie\.secret|connection\.password|connection\.tls)(?:\.|$)/;

/** The scheme of a URL (`redis://`, `//`), when it has one. */
const URL_SCHEME = /^[^:/?#@]*:?\/\//;

/**
 * `url` with everything between its scheme (if any) and its last `@` masked: the user-info
 * (`user:password@`) whatever characters the password holds (`@`, `/`), in a URL with or without
 * a scheme. A stray `@` after the host (a query) masks more, never less.
 */
function maskUrlCredentials(url: string): string {
  const at = url.lastIndexOf('@');
  if (at < 0) return url;
  const scheme = URL_SCHEME.exec(url)?.[0] ?? '';
  return `${scheme}***${url.slice(at)}`;
}

function describe(value: unknown, option: string): string {
  if (SECRET_OPTION.test(option)) return typeof value === 'string' ? `a string of ${value.length} characters` : kindOf(value);
  // A URL of the wrong scheme may still carry the password.
  if (option === 'connection.url' && typeof value === 'string') return JSON.stringify(maskUrlCredentials(value));
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}

/** The kind of a value, never its content. */
function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
