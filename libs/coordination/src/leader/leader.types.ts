/**
 * Options of `LeaderService.campaign()`. Every field is optional.
 *
 * @example
 * leaders.campaign('billing', { leaseMs: 5_000, tenant: 'acme' }); // acme's billing leader
 * leaders.campaign('migrations', { fleet: true }); // one leader for the whole fleet, outside every tenant
 */
export interface CampaignOptions {
  /**
   * How long a term lasts without renewal, ms (renewed at a third of it). A leader that dies is
   * replaced within about this long. Default `leader.leaseMs` (10 s).
   */
  leaseMs?: number;
  /** Tenant of the role (each tenant has its own leaders); default the tenant of the current context (TenantRequiredError without one when tenancy is required). */
  tenant?: string;
  /** A fleet-wide role, outside every tenant (the shared namespace), also when tenancy is required. Not with `tenant`. */
  fleet?: boolean;
}

/**
 * Options naming a role's tenant (`isLeader`, `term`, `leadership`, `leader`, `resign` of LeaderService).
 *
 * @example
 * if (leaders.isLeader('migrations', { fleet: true })) await migrate();
 * await leaders.resign('billing', { tenant: 'acme' });
 */
export interface RoleOptions {
  /** Default the tenant of the current context (TenantRequiredError without one when tenancy is required). */
  tenant?: string;
  /** The fleet-wide role of that name (see CampaignOptions.fleet). */
  fleet?: boolean;
}

/**
 * One term of this instance as leader of a role.
 *
 * @example
 * const term = await leaders.campaign('billing').elected();
 * await ledger.write(entry, { fence: term.fencingToken, signal: term.signal });
 */
export interface LeadershipTerm {
  readonly role: string;
  readonly tenant: string;
  /** Strictly higher than every earlier term's of the role (pass it to what the leader writes, and check it there). */
  readonly fencingToken: number;
  readonly electedAt: Date;
  /** Aborts when the term ends: lost or resigned (reason: LeaderLostError naming why), or at shutdown (LeaderShutdownError). */
  readonly signal: AbortSignal;
}

/**
 * A change of this instance's leadership of a role, as `LeaderService.leadership()` emits it.
 *
 * @example
 * leaders.leadership('billing').subscribe(({ leader, fencingToken, reason }) =>
 *   logger.log(leader ? `leading (token ${fencingToken})` : `standing by (${reason ?? 'not elected'})`));
 */
export interface LeadershipChange {
  readonly role: string;
  readonly tenant: string;
  readonly leader: boolean;
  /** The term's token while leader; the ended term's when not (absent before the first term). */
  readonly fencingToken?: number;
  /** Why a term ended (with `leader: false` after a term). */
  readonly reason?: LeadershipLossReason;
}

/**
 * Why a term ended: `resigned` (resign()), `expired` (renewal came too late or Redis was unreachable past the lease), `replaced` (another candidate holds the role), `shutdown` (the application shut down: the term was resigned).
 *
 * @example
 * campaign.leadership$.subscribe(({ leader, reason }) => { if (!leader && reason === 'expired') logger.warn('billing: lease lost'); });
 */
export type LeadershipLossReason = 'resigned' | 'expired' | 'replaced' | 'shutdown';

/**
 * Who leads a role fleet-wide (`LeaderService.leader()`).
 *
 * @example
 * const info = await leaders.leader('billing');
 * if (info && !info.self) logger.log(`${info.instanceId} leads billing until ${info.expiresAt.toISOString()}`);
 */
export interface LeaderInfo {
  readonly role: string;
  readonly tenant: string;
  /** The `instanceId` of the leader's module. */
  readonly instanceId: string;
  /** Whether the leader is this module instance. */
  readonly self: boolean;
  readonly fencingToken: number;
  readonly electedAt: Date;
  /** When the lease ends unless renewed (the leader renews at a third of it). */
  readonly expiresAt: Date;
}

/**
 * Payload of the `leader.elected` event (emitted under the role's tenant).
 *
 * @example
 * @OnCoordinationEvent('leader.elected', { tenant: 'acme' })
 * onElected({ payload }: CoordinationEvent<LeaderElectedEvent>) { this.logger.log(`${payload.instanceId} leads ${payload.role}`); }
 */
export interface LeaderElectedEvent {
  role: string;
  instanceId: string;
  fencingToken: number;
}

/**
 * Payload of the `leader.lost` event (emitted under the role's tenant).
 *
 * @example
 * @OnCoordinationEvent('leader.lost', { tenant: 'acme' })
 * onLost({ payload }: CoordinationEvent<LeaderLostEvent>) { if (payload.reason === 'expired') this.logger.warn(`${payload.role}: lease lost`); }
 */
export interface LeaderLostEvent {
  role: string;
  instanceId: string;
  fencingToken: number;
  reason: LeadershipLossReason;
}

/**
 * Options of `@SingletonJob()`.
 *
 * @example
 * @Interval(60_000)
 * @SingletonJob('sync-rates', { leaseMs: 90_000 })
 * async syncRates(tick: JobTick) { await this.rates.sync({ signal: tick.signal }); }
 */
export interface SingletonJobOptions {
  /**
   * How long one run holds the job without renewal, ms (renewed at a third of it while the handler
   * runs). Later ticks are skipped while a run holds it, on every instance; a run whose instance
   * died holds it this long. Default `leader.jobLeaseMs` (60 s).
   */
  leaseMs?: number;
}

/**
 * What a `@SingletonJob` handler receives as its first argument: the tick it runs.
 *
 * @example
 * @Interval(300_000)
 * @SingletonJob('purge-expired')
 * async purge(tick: JobTick) { await this.store.purgeBefore(tick.scheduledAt, { fence: tick.fencingToken, signal: tick.signal }); }
 */
export interface JobTick {
  readonly job: string;
  /** The scheduled time of this tick (the same on every instance). */
  readonly scheduledAt: Date;
  /** Strictly higher than every earlier run's of the job. */
  readonly fencingToken: number;
  /** Aborts when the run lease is lost (LeaderLostError: refused or not renewed by its local expiry) or the application shuts down (LeaderShutdownError). */
  readonly signal: AbortSignal;
}
