import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { CoordinationCore, LeaderService, type LeaderInfo } from '@nest-coordination/core';
import { CompaniesService } from '../companies/companies.service.js';

/** The role every instance of the demo campaigns for, in each company: one instance coordinates each company. */
export const DEMO_COORDINATOR_ROLE = 'demo-coordinator';

/**
 * What `GET /leader` answers: the role, this instance, and who leads the caller's company's role
 * fleet-wide.
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
 * Campaigns for `demo-coordinator` in every company once the application has started
 * (`LeaderService.campaign`, in the background, renewing its terms while it leads), so that for
 * each company one instance of the fleet leads at any time: another takes over within a lease
 * (`leader.leaseMs`, 10 s) when it dies, at once when it shuts down (its terms are resigned).
 *
 * One role per company rather than one for the fleet: the demo requires a tenant for everything
 * (`tenancy.required`), and the library does not fall back to its shared namespace then, so a
 * campaign started outside any request names its company (`{ tenant }`).
 *
 * @example
 * const view = await app.get(DemoCoordinator).view('acme'); // { role: 'demo-coordinator', instanceId, leader, self }
 */
@Injectable()
export class DemoCoordinator implements OnApplicationBootstrap {
  constructor(private readonly leaders: LeaderService, private readonly companies: CompaniesService, private readonly core: CoordinationCore) {}

  onApplicationBootstrap(): void {
    for (const company of this.companies.list()) this.leaders.campaign(DEMO_COORDINATOR_ROLE, { tenant: company.id });
  }

  /** Who leads the company's role fleet-wide, as this instance sees it. */
  async view(companyId: string): Promise<LeaderView> {
    const leader = await this.leaders.leader(DEMO_COORDINATOR_ROLE, { tenant: companyId });
    return { role: DEMO_COORDINATOR_ROLE, instanceId: this.core.instanceId, leader, self: leader?.self ?? false };
  }
}
