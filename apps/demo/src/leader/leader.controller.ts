import { Controller, Get } from '@nestjs/common';
import type { AuthUser } from '../auth/auth-user.model.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { DemoCoordinator, type LeaderView } from './demo-coordinator.service.js';

/**
 * `GET /leader`: which instance of the fleet coordinates the caller's company (role
 * `demo-coordinator`), and whether it is the one answering. Behind authentication like
 * `GET /cache/stats`: instance ids name hosts.
 */
@Controller('leader')
export class LeaderController {
  constructor(private readonly coordinator: DemoCoordinator) {}

  /** `{ role, instanceId, leader, self }`: `leader` is `LeaderService.leader()` (null between terms). */
  @Get()
  leader(@CurrentUser() user: AuthUser): Promise<LeaderView> {
    return this.coordinator.view(user.companyId);
  }
}
