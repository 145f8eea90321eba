import { Module } from '@nestjs/common';
import { CompaniesModule } from '../companies/companies.module.js';
import { CrewsModule } from '../crews/crews.module.js';
import { CrewRunsController } from './crew-runs.controller.js';

/** Distributed locks in the demo: crew runs guarded by @WithLock, and the held-locks view. */
@Module({
  imports: [CompaniesModule, CrewsModule],
  controllers: [CrewRunsController],
})
export class LocksDemoModule {}
