import type { InjectionToken, ModuleMetadata, OptionalFactoryDependency, Type } from '@nestjs/common';
import { CAPABILITIES, type CapabilityModuleOptions } from './capabilities.js';
import type { CoreModuleOptions } from './options/core-options.interface.js';
import { resolveOptions, type ResolvedCoordinationOptions } from './options/resolve-options.js';

/**
 * Options of `CoordinationModule.forRoot()`: the core options (connection, prefix, tenancy,
 * failure handling) and one section per capability (`locks`, `rateLimit`, ...). Every field
 * is optional.
 *
 * @example
 * const options: CoordinationModuleOptions = {
 *   connection: { url: 'redis://localhost:6379' },
 *   tenancy: { header: 'x-company-id', required: true },
 *   locks: { defaultTtlMs: 10_000 },
 *   rateLimit: { onRedisUnavailable: 'fail-closed' },
 * };
 */
export interface CoordinationModuleOptions extends CoreModuleOptions, CapabilityModuleOptions {}

/** A class that produces the module options, for `forRootAsync({ useClass | useExisting })`. */
export interface CoordinationOptionsFactory {
  createCoordinationOptions(): CoordinationModuleOptions | Promise<CoordinationModuleOptions>;
}

/** Options of `CoordinationModule.forRootAsync()`: exactly one of useFactory, useClass or useExisting. */
export interface CoordinationModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  isGlobal?: boolean;
  useFactory?: (...args: any[]) => CoordinationModuleOptions | Promise<CoordinationModuleOptions>;
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
  useClass?: Type<CoordinationOptionsFactory>;
  useExisting?: Type<CoordinationOptionsFactory>;
}

/**
 * Validates the module options (core options and every capability's section) and applies the
 * defaults, as `CoordinationModule` does at startup. Throws `InvalidOptionsError` naming every
 * offending option.
 */
export function resolveModuleOptions(raw: CoordinationModuleOptions = {}): ResolvedCoordinationOptions {
  return resolveOptions(raw, CAPABILITIES.flatMap((c) => ('options' in c ? [c.options] : [])));
}
