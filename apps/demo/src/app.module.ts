import { Module, ValidationPipe, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { CoordinationExceptionFilter, CoordinationModule } from '@nest-coordination/core';
import { CompaniesModule } from './companies/companies.module.js';
import { CrewsModule } from './crews/crews.module.js';
import { demoConfigFromEnv, type DemoConfig } from './demo.config.js';
import { HealthModule } from './health/health.module.js';
import { LocksDemoModule } from './locks/locks-demo.module.js';
import { RateLimitDemoModule } from './rate-limit/rate-limit-demo.module.js';

/**
 * The demo application: companies (tenants) running crews of AI agents, coordinated
 * through `@nest-coordination/core`. Built with explicit configuration so tests can boot
 * it against any backend.
 *
 * @example
 * const app = await NestFactory.create(AppModule.register({ coordination: { driver: 'memory' } }));
 */
@Module({})
export class AppModule {
  static register(config: DemoConfig = demoConfigFromEnv()): DynamicModule {
    return {
      module: AppModule,
      imports: [CoordinationModule.forRoot(config.coordination), CompaniesModule, CrewsModule, HealthModule, RateLimitDemoModule, LocksDemoModule],
      providers: [
        // Registered here rather than in main.ts so that tests booting the module get them too.
        { provide: APP_PIPE, useValue: new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }) },
        { provide: APP_FILTER, useClass: CoordinationExceptionFilter },
      ],
    };
  }
}
