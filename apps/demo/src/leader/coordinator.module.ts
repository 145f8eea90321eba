import { Module } from '@nestjs/common';
import { CompaniesModule } from '../companies/companies.module.js';
import { DemoCoordinator } from './demo-coordinator.service.js';
import { LeaderController } from './leader.controller.js';

/** The coordinator election of each company (role `demo-coordinator`) and `GET /leader`. */
@Module({ imports: [CompaniesModule], controllers: [LeaderController], providers: [DemoCoordinator] })
export class CoordinatorModule {}
