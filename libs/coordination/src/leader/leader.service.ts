import { randomBytes } from 'node:crypto';
import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { EMPTY, type Observable } from 'rxjs';
import { CoordinationCore } from '../core/coordination-core.js';
import { InvalidArgumentError } from '../errors/coordination.error.js';
import { outageAs, runAs } from '../errors/outage-operation.js';
import { SHARED_TENANT, kindOf } from '../keys/key-builder.js';
import { LeaderCampaign, type CampaignDeps } from './leader-campaign.js';
import { LeadershipState } from './leadership-state.js';
import { LeaderKeys } from './leader-keys.js';
import { LeaderObserver } from './leader-observer.js';
import { LEADER_STORE, type LeaderStore } from './leader-store.interface.js';
import { assertLeaseMs, assertOptionKeys, assertRoleName } from './leader-validation.js';
import { LeaderShutdownError } from './leader.errors.js';
import { LEADER_LIMITS, LEADER_OPTIONS, type ResolvedLeaderOptions } from './leader.options.js';
import type { CampaignOptions, LeaderInfo, LeadershipChange, LeadershipTerm, RoleOptions } from './leader.types.js';

const CAMPAIGN_OPTIONS = ['leaseMs', 'tenant', 'fleet'] as const;
const ROLE_OPTIONS = ['tenant', 'fleet'] as const;

/**
 * Leader election: one leader per role (per tenant) across the fleet, with a fencing token per
 * term strictly higher than every earlier term's. `campaign()` campaigns in the background and
 * renews the term every third of the lease; a leader that dies is replaced within about one lease.
 * Leadership is local knowledge (`isLeader`, `term`, `leadership`): a term ends locally before
 * its lease can end in the store, so two instances never both believe they lead. `leader()` asks
 * the store who leads fleet-wide.
 *
 * While Redis is unreachable a leader keeps trying to renew and steps down at its lease's end
 * (reason `expired`); candidates keep trying to be elected. At shutdown every campaign stops,
 * held terms end (signals abort with LeaderShutdownError) and are resigned so another instance
 * takes over without waiting for the lease (candidates poll: within about a third of it).
 *
 * Events: `leader.elected` { role, instanceId, fencingToken } and `leader.lost` { role,
 * instanceId, fencingToken, reason }, under the role's tenant.
 *
 * @example
 * @Injectable()
 * class Sweeper implements OnApplicationBootstrap {
 *   constructor(private readonly leaders: LeaderService) {}
 *   onApplicationBootstrap() {
 *     this.leaders.campaign('sweeper', { leaseMs: 5_000 }).leadership$.subscribe(({ leader }) => (leader ? this.start() : this.stop()));
 *   }
 * }
 */
@Injectable()
export class LeaderService implements BeforeApplicationShutdown {
  /** Live campaigns by `<tenant>\n<role>`. */
  private readonly campaigns = new Map<string, LeaderCampaign>();
  /** Leadership state of each role seen on this instance, by `<tenant>\n<role>` (outlives a resigned campaign). */
  private readonly states = new Map<string, LeadershipState>();
  /** Campaigns stopped (resigned) whose store resign may still run: shutdown waits for them before the connection closes. */
  private readonly draining = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly core: CoordinationCore,
    @Inject(LEADER_STORE) private readonly store: LeaderStore,
    @Inject(LEADER_OPTIONS) private readonly options: ResolvedLeaderOptions,
    private readonly keys: LeaderKeys,
    private readonly observer: LeaderObserver,
  ) {}

  /**
   * Campaigns for `role` in the background (see LeaderCampaign) and returns the campaign; the
   * live campaign when this module instance already campaigns for the tenant's role. Throws
   * InvalidArgumentError for a bad role or option, LeaderShutdownError once the application is
   * shutting down.
   *
   * @example
   * const campaign = leaders.campaign('billing', { leaseMs: 5_000, tenant: 'acme' });
   * campaign.leadership$.subscribe(({ leader }) => console.info(leader ? 'leading billing' : 'standing by'));
   */
  campaign(role: string, options?: CampaignOptions): LeaderCampaign {
    assertRoleName(role, 'role');
    assertOptionKeys(options, CAMPAIGN_OPTIONS, 'options');
    const leaseMs = options?.leaseMs ?? this.options.leaseMs;
    if (options?.leaseMs !== undefined) assertLeaseMs(leaseMs, LEADER_LIMITS.leaseMs, 'options.leaseMs');
    const tenant = this.tenantOf(options, 'leader.campaign');
    if (this.closed) throw new LeaderShutdownError(role);
    const id = idOf(tenant, role);
    const live = this.campaigns.get(id);
    if (live) return live;
    const deps: CampaignDeps = {
      store: this.store,
      observer: this.observer,
      clock: this.core.clock,
      instanceId: this.core.instanceId,
      tracer: this.core.telemetry.tracer,
      state: this.stateOf(tenant, role),
      stopped: (stopped, done) => {
        if (this.campaigns.get(id) === stopped) this.campaigns.delete(id);
        const settled = done.catch(() => undefined).finally(() => this.draining.delete(settled));
        this.draining.add(settled);
      },
    };
    const campaign = new LeaderCampaign(role, tenant, leaseMs, this.keys.leader(tenant, role), randomBytes(8).toString('hex'), deps);
    this.campaigns.set(id, campaign);
    campaign.start();
    return campaign;
  }

  /**
   * Whether this module instance leads `role` now: a live term, not past its local expiry.
   *
   * @example
   * if (leaders.isLeader('billing')) await sweep();
   */
  isLeader(role: string, options?: RoleOptions): boolean {
    return this.campaignOf(role, options, 'leader.isLeader')?.isLeader ?? false;
  }

  /**
   * This module instance's live term of `role`, if it leads.
   *
   * @example
   * const term = leaders.term('billing');
   * if (term) await ledger.write(entry, { fence: term.fencingToken });
   */
  term(role: string, options?: RoleOptions): LeadershipTerm | undefined {
    return this.campaignOf(role, options, 'leader.term')?.term;
  }

  /**
   * This module instance's leadership of `role`: the current state first (`leader: false` before
   * any campaign), then every change; completes at shutdown (at once when asked after it).
   *
   * @example
   * leaders.leadership('billing').subscribe(({ leader, reason }) => logger.log(leader ? 'leading' : `standing by (${reason ?? 'not elected'})`));
   */
  leadership(role: string, options?: RoleOptions): Observable<LeadershipChange> {
    assertRoleName(role, 'role');
    assertOptionKeys(options, ROLE_OPTIONS, 'options');
    const tenant = this.tenantOf(options, 'leader.leadership');
    // After shutdown no state is created any more (it would never complete): a known role's has completed.
    if (this.closed) return this.states.get(idOf(tenant, role))?.changes$ ?? EMPTY;
    return this.stateOf(tenant, role).changes$;
  }

  /**
   * Who leads `role` fleet-wide, from the store (null when nobody does); `self` when this
   * module instance does. Throws RedisUnavailableError when Redis is unreachable.
   *
   * @example
   * const info = await leaders.leader('billing'); // { instanceId: 'api-7-…', self: false, fencingToken: 12, … }
   */
  async leader(role: string, options?: RoleOptions): Promise<LeaderInfo | null> {
    assertRoleName(role, 'role');
    assertOptionKeys(options, ROLE_OPTIONS, 'options');
    const tenant = this.tenantOf(options, 'leader.leader');
    const record = await runAs('leader.leader', () => this.store.read(this.keys.leader(tenant, role)), (error, operation) => {
      this.observer.failed(operation, error);
      return outageAs(error, operation);
    });
    if (!record) return null;
    return {
      role,
      tenant,
      instanceId: record.instanceId,
      self: this.campaigns.get(idOf(tenant, role))?.candidate === record.candidate,
      fencingToken: record.fencingToken,
      electedAt: new Date(record.electedAt),
      expiresAt: new Date(this.core.clock.now() + record.ttlMs),
    };
  }

  /**
   * Stops campaigning for `role` and ends this instance's term at once, if it holds one, so that
   * another candidate takes the role without waiting for the lease (see LeaderCampaign.resign).
   * Nothing happens when this instance does not campaign for it.
   *
   * @example
   * await leaders.resign('billing');
   */
  async resign(role: string, options?: RoleOptions): Promise<void> {
    await this.campaignOf(role, options, 'leader.resign')?.resign();
  }

  /** Stops every campaign, resigns every held term and completes the leadership Observables. */
  async beforeApplicationShutdown(): Promise<void> {
    this.closed = true;
    // Also campaigns resigned just before whose store resign is still running (errors were the caller's to handle).
    await Promise.all([...[...this.campaigns.values()].map((campaign) => campaign.shutdown()), ...this.draining]);
    for (const state of this.states.values()) state.complete();
  }

  private campaignOf(role: string, options: RoleOptions | undefined, operation: string): LeaderCampaign | undefined {
    assertRoleName(role, 'role');
    assertOptionKeys(options, ROLE_OPTIONS, 'options');
    return this.campaigns.get(idOf(this.tenantOf(options, operation), role));
  }

  /**
   * The role's tenant: the shared namespace for a fleet-wide role (`fleet: true`, said explicitly,
   * so it works when tenancy is required), else the tenant given or of the current context.
   */
  private tenantOf(options: RoleOptions | undefined, operation: string): string {
    const fleet = options?.fleet;
    if (fleet !== undefined && typeof fleet !== 'boolean') throw new InvalidArgumentError('options.fleet', `must be a boolean, got ${kindOf(fleet)}`);
    if (!fleet) return this.core.tenants.resolve(options?.tenant, operation);
    if (options?.tenant !== undefined) throw new InvalidArgumentError('options.fleet', 'a fleet-wide role has no tenant: pass fleet or tenant, not both');
    return SHARED_TENANT;
  }

  private stateOf(tenant: string, role: string): LeadershipState {
    const id = idOf(tenant, role);
    let state = this.states.get(id);
    if (!state) this.states.set(id, (state = new LeadershipState({ role, tenant, leader: false })));
    return state;
  }
}

function idOf(tenant: string, role: string): string {
  return `${tenant}\n${role}`;
}
