import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { GraphQLModule } from '@nestjs/graphql';
import { CoordinationExceptionFilter, RateLimitGuard } from '@nest-coordination/core';
import { CoordinationWebSocketsModule } from '@nest-coordination/core/websockets';
import { AuthModule } from './auth/auth.module.js';
import { companyOfSocket } from './auth/current-user.decorator.js';
import { DemoAuthGuard } from './auth/demo-auth.guard.js';
import { CacheStatsModule } from './cache/cache-stats.module.js';
import { CompaniesModule } from './companies/companies.module.js';
import { CrewsModule } from './crews/crews.module.js';
import { DashboardModule } from './dashboard/dashboard.module.js';
import { demoConfigFromEnv, type DemoConfig } from './demo.config.js';
import { HealthModule } from './health/health.module.js';
import { DemoValidationPipe } from './http/demo-validation.pipe.js';
import { HTTP_CONFIG, TrustedProxies } from './http/trusted-proxies.js';
import { CoordinatorModule } from './leader/coordinator.module.js';
import { HeldLocksModule } from './locks/held-locks.module.js';
import { ViolationsModule } from './rate-limit/violations.module.js';
import { ReportsModule } from './reports/reports.module.js';
import { DemoTelemetryModule } from './telemetry/demo-telemetry.module.js';
import { TasksModule } from './tasks/tasks.module.js';

/**
 * The demo application: companies (tenants) whose users run crews of AI agents, coordinated
 * through `@nest-coordination/core`. Built with explicit configuration so tests can boot
 * it against any backend.
 *
 * A request passes, in order: `TenantMiddleware` (company from `x-company-id`), `DemoAuthGuard`
 * (user and company from the session cookie or bearer token, else user from `x-user-id`, member
 * of that company), `RateLimitGuard` (`@RateLimit` rules, `user` rules counted by
 * `request.user.id`), `TenantInterceptor` (the handler runs in the company's tenant context),
 * `CacheInterceptor` on `GET /crews/:crewId`, `IdempotencyInterceptor` on `POST /crews/:crewId/runs`
 * (`@Idempotent`: a retry with the same `Idempotency-Key` replays the first answer), the handler
 * (`@WithLock` on crew runs; crew definitions and company profiles read through `@Cacheable`).
 *
 * GraphQL operations (`POST /graphql`: `crewRuns`, `runCrew`) and socket.io messages (the `/crews`
 * namespace: `crew.subscribe`) pass the same global guards and interceptor, per resolver and per
 * message: `DemoAuthGuard` (the HTTP request's credentials, the handshake's), `RateLimitGuard`,
 * `TenantInterceptor`; their refusals are a GraphQL error with `extensions.code` and the
 * `exception` event with `code`.
 *
 * Besides requests: the nightly report (`@Cron` + `@SingletonJob`, once per tick across the
 * fleet) and the `demo-coordinator` leader election (`GET /leader`).
 *
 * Metrics: `GET /metrics` serves the library's OpenTelemetry metrics for Prometheus, from a meter
 * provider created with the app (one per app), behind `config.metrics` (DemoTelemetryModule).
 *
 * @example
 * const app = await NestFactory.create(AppModule.register(demoConfigFromEnv({}))); // memory driver, crews in memory
 */
@Module({})
export class AppModule {
  static register(config: DemoConfig = demoConfigFromEnv()): DynamicModule {
    const crews = CrewsModule.register(config);
    const telemetry = DemoTelemetryModule.register(config.metrics);
    // A socket's company is its authenticated user's: a function, so added here, not in the (plain data) configuration.
    const coordination = { ...config.coordination, tenancy: { ...config.coordination.tenancy, resolvers: { ws: companyOfSocket } } };
    return {
      module: AppModule,
      imports: [
        // CoordinationModule with config.coordination, recording into this app's meter provider (GET /metrics).
        DemoTelemetryModule.coordination({ ...config, coordination }, telemetry), ScheduleModule.forRoot(), CompaniesModule, AuthModule, crews, HeldLocksModule, ViolationsModule, TasksModule,
        CacheStatsModule, HealthModule, ReportsModule.register(config, crews), CoordinatorModule, DashboardModule.register(config, crews),
        telemetry,
        // `POST /graphql`: the schema is generated from the resolvers' classes at startup, kept in memory.
        // Apollo stops (and drains the HTTP server, waiting for open requests) at onApplicationShutdown,
        // after the dashboard has ended its streams (beforeApplicationShutdown): stopped at
        // onModuleDestroy, it would wait for them, delaying every shutdown with an open stream.
        GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, autoSchemaFile: true, stopOnApplicationShutdown: true }),
        // The library answers socket.io clients (the `/crews` namespace) with a WsException.
        CoordinationWebSocketsModule,
      ],
      providers: [
        // `trust proxy` from TRUSTED_PROXIES: the client address `ip` rate-limit rules count by.
        { provide: HTTP_CONFIG, useValue: config.http }, TrustedProxies,
        // Registered here rather than in main.ts so that tests booting the module get them too.
        // DemoValidationPipe refuses bodies nested too deep for class-transformer first (400, not 500).
        { provide: APP_PIPE, useValue: new DemoValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }) },
        { provide: APP_FILTER, useClass: CoordinationExceptionFilter },
        // Global guards run in the order they are provided: authentication must set request.user
        // before RateLimitGuard counts per-user quotas (it would count per IP otherwise).
        { provide: APP_GUARD, useClass: DemoAuthGuard },
        { provide: APP_GUARD, useClass: RateLimitGuard },
      ],
    };
  }
}
