import { Module, RequestMethod, type DynamicModule, type InjectionToken, type MiddlewareConsumer, type NestModule, type Provider } from '@nestjs/common';
import { APP_INTERCEPTOR, DiscoveryModule } from '@nestjs/core';
import { CAPABILITIES } from './capabilities.js';
import {
  resolveModuleOptions, type CoordinationModuleAsyncOptions, type CoordinationModuleOptions, type CoordinationOptionsFactory,
} from './coordination-options.js';
import { ContextExceptions } from './contexts/context-exceptions.js';
import { ContextsExplorer } from './contexts/contexts.explorer.js';
import { CoordinationCore } from './core/coordination-core.js';
import { COORDINATION_MODULE_OPTIONS, COORDINATION_RESOLVED_OPTIONS } from './core/coordination.tokens.js';
import type { ResolvedCoordinationOptions } from './options/resolve-options.js';
import { TenantInterceptor } from './tenancy/tenant.interceptor.js';
import { TenantMiddleware } from './tenancy/tenant.middleware.js';
import { TenantResolver } from './tenancy/tenant-resolver.js';

const CORE_PROVIDERS: Provider[] = [
  {
    provide: COORDINATION_RESOLVED_OPTIONS,
    inject: [COORDINATION_MODULE_OPTIONS],
    useFactory: resolveModuleOptions,
  },
  CoordinationCore,
  TenantResolver,
  TenantMiddleware,
  ContextExceptions,
  ContextsExplorer,
  { provide: APP_INTERCEPTOR, useClass: TenantInterceptor },
];

/** Each capability's resolved options section under its token, then its own providers. */
const CAPABILITY_PROVIDERS: Provider[] = CAPABILITIES.flatMap((c): Provider[] => [
  ...('options' in c
    ? [{ provide: c.options.token, inject: [COORDINATION_RESOLVED_OPTIONS], useFactory: (o: ResolvedCoordinationOptions) => o.sections[c.options.key] }]
    : []),
  ...c.providers,
]);
const CAPABILITY_EXPORTS: InjectionToken[] = CAPABILITIES.flatMap((c) => [...c.exports, ...('options' in c ? [c.options.token] : [])]);

/**
 * Registers the coordination services (locks, rate limits, events, health; see CAPABILITIES)
 * over one shared Redis (or the embedded memory driver). Options are validated at
 * startup; an invalid option fails boot with a message naming it.
 *
 * @example
 * @Module({
 *   imports: [
 *     CoordinationModule.forRoot({
 *       connection: { url: process.env.REDIS_URL },
 *       tenancy: { header: 'x-company-id', required: true },
 *     }),
 *   ],
 * })
 * export class AppModule {}
 *
 * @example
 * CoordinationModule.forRootAsync({
 *   imports: [ConfigModule],
 *   inject: [ConfigService],
 *   useFactory: (config: ConfigService) => ({ connection: { url: config.get('REDIS_URL') } }),
 * });
 */
@Module({})
export class CoordinationModule implements NestModule {
  static forRoot(options: CoordinationModuleOptions = {}): DynamicModule {
    return this.assemble([{ provide: COORDINATION_MODULE_OPTIONS, useValue: options }], [], options.isGlobal);
  }

  static forRootAsync(options: CoordinationModuleAsyncOptions): DynamicModule {
    const providers: Provider[] = [];
    if (options.useFactory) {
      providers.push({ provide: COORDINATION_MODULE_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] });
    } else if (options.useClass || options.useExisting) {
      const factoryClass = (options.useClass ?? options.useExisting)!;
      if (options.useClass) providers.push({ provide: options.useClass, useClass: options.useClass });
      providers.push({
        provide: COORDINATION_MODULE_OPTIONS,
        useFactory: (factory: CoordinationOptionsFactory) => factory.createCoordinationOptions(),
        inject: [factoryClass],
      });
    } else {
      throw new Error('CoordinationModule.forRootAsync() needs one of useFactory, useClass or useExisting');
    }
    return this.assemble(providers, options.imports ?? [], options.isGlobal);
  }

  private static assemble(optionProviders: Provider[], imports: DynamicModule['imports'], isGlobal = true): DynamicModule {
    return {
      module: CoordinationModule,
      global: isGlobal,
      imports: [DiscoveryModule, ...(imports ?? [])],
      providers: [...optionProviders, ...CORE_PROVIDERS, ...CAPABILITY_PROVIDERS],
      exports: [CoordinationCore, TenantResolver, ContextExceptions, ...CAPABILITY_EXPORTS],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(TenantMiddleware).forRoutes({ path: '{*path}', method: RequestMethod.ALL });
  }
}
