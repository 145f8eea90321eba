import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { CoordinationCore, LeaderService, type LeaderInfo } from '@nest-coordination/core';

/** The fleet-wide role every instance of the demo campaigns for: one instance coordinates the fleet. */
export const DEMO_COORDINATOR_ROLE = 'demo-coordinator';

/**
 * What `GET /leader` answers: the role, this instance, and who leads it fleet-wide.
 *
 * @example
 * const { leader, self } = (await request(app).get('/leader').set(ADA)).body as LeaderView; // self: this instance leads
 */
export interface LeaderView {
  role: string;
  /** This instance's `instanceId` (`COORD_INSTANCE_ID`). */
  instanceId: string;
  /** Who leads the role fleet-wide (from the store), or null between terms (no instance holds it). */
  leader: LeaderInfo | null;
  /** Whether this instance is that leader. */
  self: boolean;
}

/**
 * Campaigns for `demo-coordinator` once the application has started (`LeaderService.campaign`,
 * in the background, renewing its term while it leads), so that one instance of the fleet leads
 * at any time: another takes over within a lease (`leader.leaseMs`, 10 s) when it dies, within
 * about a third of one when it shuts down (its term is resigned).
 *
 * The role is fleet-wide (`fleet: true`): it belongs to no company, which the demo must say
 * explicitly since it requires a tenant for everything else (`tenancy.required`).
 *
 * @example
 * const view = await app.get(DemoCoordinator).view(); // { role: 'demo-coordinator', instanceId, leader, self }
 */
@Injectable()
export class DemoCoordinator implements OnApplicationBootstrap {
  constructor(private readonly leaders: LeaderService, private readonly core: CoordinationCore) {}

  onApplicationBootstrap(): void {
    this.leaders.campaign(DEMO_COORDINATOR_ROLE, { fleet: true });
  }

  /** Who leads the role fleet-wide, as this instance sees it. */
  async view(): Promise<LeaderView> {
    const leader = await this.leaders.leader(DEMO_COORDINATOR_ROLE, { fleet: true });
    return { role: DEMO_COORDINATOR_ROLE, instanceId: this.core.instanceId, leader, self: leader?.self ?? false };
  }
}
