import { Module } from '@nestjs/common';
import { DemoCoordinator } from './demo-coordinator.service.js';
import { LeaderController } from './leader.controller.js';

/** The fleet's coordinator election (fleet-wide role `demo-coordinator`) and `GET /leader`. */
@Module({ controllers: [LeaderController], providers: [DemoCoordinator] })
export class CoordinatorModule {}
