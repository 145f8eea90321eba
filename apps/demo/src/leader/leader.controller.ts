import { Controller, Get } from '@nestjs/common';
import { DemoCoordinator, type LeaderView } from './demo-coordinator.service.js';

/**
 * `GET /leader`: which instance coordinates the fleet (role `demo-coordinator`), and whether it
 * is the one answering. Behind authentication like
 * `GET /cache/stats`: instance ids name hosts.
 */
@Controller('leader')
export class LeaderController {
  constructor(private readonly coordinator: DemoCoordinator) {}

  /** `{ role, instanceId, leader, self }`: `leader` is `LeaderService.leader()` (null between terms). */
  @Get()
  leader(): Promise<LeaderView> {
    return this.coordinator.view();
  }
}
