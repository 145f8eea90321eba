import { Module } from '@nestjs/common';
import { CompaniesModule } from '../companies/companies.module.js';
import { AuthController } from './auth.controller.js';
import { SessionsController } from './sessions.controller.js';

/**
 * Logging in and out (`/auth/*`) and the caller's sessions (`GET /sessions`), on the library's
 * `SessionService`. `DemoAuthGuard`, the global guard that reads the session, is registered by
 * AppModule.
 *
 * @example
 * imports: [CoordinationModule.forRoot({ sessions: { cookie: { secret } } }), AuthModule]
 */
@Module({
  imports: [CompaniesModule],
  controllers: [AuthController, SessionsController],
})
export class AuthModule {}
