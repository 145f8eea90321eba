import {
  EventBus, InvalidArgumentError, LeaderService, LeaderLostError, LeaderShutdownError, RedisUnavailableError, TenantInvalidError,
  type CoordinationEvent, type LeadershipChange, type LeaderCampaign,
} from '@nest-coordination/core';
import { CoordinationCore } from '../../libs/coordination/src/core/coordination-core.js';
import { LEADER_STORE, type LeaderStore } from '../../libs/coordination/src/leader/leader-store.interface.js';
import { MemoryLeaderStore } from '../../libs/coordination/src/leader/memory-leader.store.js';
import { RedisLeaderStore } from '../../libs/coordination/src/leader/redis-leader.store.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { uniquePrefix, type DriverCase } from '../support/drivers.js';
import { expectNoTimersLeftBy } from '../support/timers.js';
import { rejectionOf, sleep, until } from '../support/wait.js';

/** Short enough for the suite, long enough for round trips on a loaded machine (renewals every 500 ms). */
const LEASE_MS = 1_500;
const WAIT = { timeoutMs: 4 * LEASE_MS };

/** One "instance" of the fleet: a module, its service, a switch cutting its store off, and what it observed. */
interface Instance {
  readonly booted: BootedModule;
  readonly leaders: LeaderService;
  readonly instanceId: string;
  /** While true, every store call of this instance fails as if Redis were unreachable. */
  cut: boolean;
  /** Every leadership change of ROLE, with the local time it arrived. */
  readonly changes: Array<LeadershipChange & { at: number }>;
  /** leader.* events this module instance published. */
  readonly events: CoordinationEvent<Record<string, unknown>>[];
  close(): Promise<void>;
}

/** A store whose calls fail while `instance.cut` (the instance's Redis access cut off). */
function cuttable(store: LeaderStore, isCut: () => boolean): LeaderStore {
  const guard = <T>(operation: string, call: () => Promise<T>) =>
    isCut() ? Promise.reject(new RedisUnavailableError(operation, new Error('cut off by the test'))) : call();
  return {
    campaign: (...args) => guard('leader.campaign', () => store.campaign(...args)),
    renew: (...args) => guard('leader.renew', () => store.renew(...args)),
    resign: (...args) => guard('leader.resign', () => store.resign(...args)),
    read: (...args) => guard('leader.read', () => store.read(...args)),
  };
}

/**
 * What LeaderService promises on every backend, through the Nest module: two module instances on
 * one prefix play two instances of a fleet (on memory they share one MemoryLeaderStore).
 */
export function describeLeaderServiceContract(driver: DriverCase): void {
  let prefix: string;
  let shared: MemoryLeaderStore | undefined;
  let fleet: Instance[];
  let role: string;

  const instance = async (): Promise<Instance> => {
    const self = { cut: false } as Instance & { cut: boolean };
    const booted = await bootModule(
      { ...driver.options(), prefix, health: { pingIntervalMs: 0 }, leader: { leaseMs: LEASE_MS } },
      {
        overrides: [{
          token: LEADER_STORE,
          inject: [CoordinationCore],
          factory: (core: CoordinationCore) => {
            const real = core.connection ? new RedisLeaderStore(core.connection) : (shared ??= new MemoryLeaderStore(core.clock));
            return cuttable(real, () => self.cut);
          },
        }],
      },
    );
    const leaders = booted.get(LeaderService);
    const changes: Instance['changes'] = [];
    leaders.leadership(role, { tenant: 'acme' }).subscribe((change) => changes.push({ ...change, at: Date.now() }));
    const events: Instance['events'] = [];
    const stream = booted.get(EventBus).on<Record<string, unknown>>('leader.*', { tenant: 'acme' });
    stream.subscribe((event) => {
      if (event.payload.instanceId === booted.core.instanceId) events.push(event);
    });
    await stream.ready();
    let closed: Promise<void> | undefined;
    return Object.assign(self, {
      booted, leaders, instanceId: booted.core.instanceId, changes, events,
      close: () => (closed ??= booted.close()),
    });
  };

  beforeEach(async () => {
    prefix = uniquePrefix('leader');
    shared = undefined;
    role = `role-${Math.random().toString(36).slice(2, 8)}`;
    fleet = [await instance(), await instance()];
  });
  afterEach(async () => {
    await Promise.all(fleet.map((i) => i.close()));
  });

  const campaignAll = () => fleet.map((i) => i.leaders.campaign(role, { tenant: 'acme' }));
  const leaderOf = async (campaigns: LeaderCampaign[]) => {
    await until(() => campaigns.some((c) => c.isLeader), { ...WAIT, message: 'one candidate to be elected' });
    const index = campaigns.findIndex((c) => c.isLeader);
    return { index, leader: fleet[index], other: fleet[1 - index], campaign: campaigns[index], otherCampaign: campaigns[1 - index] };
  };

  it('elects one of two candidates; isLeader, term(), the campaign and leader() agree on every instance', async () => {
    const campaigns = campaignAll();
    const { leader, other, campaign, otherCampaign } = await leaderOf(campaigns);
    // Several renewals (every 500 ms) pass: the leader keeps its term, the other never takes it.
    await sleep(LEASE_MS + 500);
    expect(campaign.isLeader).toBe(true);
    expect(otherCampaign.isLeader).toBe(false);
    const term = campaign.term!;
    expect(term).toMatchObject({ role, tenant: 'acme' });
    expect(term.signal.aborted).toBe(false);
    expect(leader.leaders.isLeader(role, { tenant: 'acme' })).toBe(true);
    expect(leader.leaders.term(role, { tenant: 'acme' })).toBe(term);
    expect(other.leaders.isLeader(role, { tenant: 'acme' })).toBe(false);
    expect(other.leaders.term(role, { tenant: 'acme' })).toBeUndefined();
    expect(leader.leaders.isLeader(role, { tenant: 'globex' })).toBe(false);
    const [seenByLeader, seenByOther] = await Promise.all([leader, other].map((i) => i.leaders.leader(role, { tenant: 'acme' })));
    expect(seenByLeader).toMatchObject({ role, tenant: 'acme', instanceId: leader.instanceId, self: true, fencingToken: term.fencingToken, electedAt: term.electedAt });
    expect(seenByOther).toMatchObject({ instanceId: leader.instanceId, self: false, fencingToken: term.fencingToken });
    expect(seenByOther!.expiresAt.getTime()).toBeGreaterThan(seenByOther!.electedAt.getTime());
    expect(await leader.leaders.leader(role, { tenant: 'globex' })).toBeNull();
    expect(await campaign.elected()).toBe(term);
  });

  it('leadership() emits false then true; resign ends the term at once and the other candidate leads with a higher token', async () => {
    const campaigns = campaignAll();
    const { leader, other, campaign, otherCampaign } = await leaderOf(campaigns);
    const first = campaign.term!;
    const pending = otherCampaign.elected();
    await leader.leaders.resign(role, { tenant: 'acme' });
    // At once: the signal aborted, the state says so, and the store no longer names the old leader.
    expect(first.signal.aborted).toBe(true);
    expect(first.signal.reason).toBeInstanceOf(LeaderLostError);
    expect(first.signal.reason).toMatchObject({ code: 'E_LEADER_LOST', role, fencingToken: first.fencingToken, reason: 'resigned' });
    expect(campaign.isLeader).toBe(false);
    expect((await other.leaders.leader(role, { tenant: 'acme' }))?.fencingToken).not.toBe(first.fencingToken);
    const second = await pending;
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
    expect(otherCampaign.term).toBe(second);
    expect(leader.changes.map(({ leader: l, fencingToken, reason }) => ({ leader: l, fencingToken, reason }))).toEqual([
      { leader: false, fencingToken: undefined, reason: undefined },
      { leader: true, fencingToken: first.fencingToken, reason: undefined },
      { leader: false, fencingToken: first.fencingToken, reason: 'resigned' },
    ]);
    expect(other.changes.map((c) => c.leader)).toEqual([false, true]);
    // Resigned: it stops campaigning, so it never leads again (the other holds the role anyway).
    await expect(campaign.elected()).rejects.toMatchObject({ name: 'AbortError' });
    const events = async (i: Instance, n: number) => {
      await until(() => i.events.length >= n, { ...WAIT, message: () => `${n} leader events of ${i.instanceId} (got ${i.events.length})` });
      return i.events.map((e) => ({ channel: e.channel, payload: e.payload }));
    };
    expect(await events(leader, 2)).toEqual([
      { channel: 'leader.elected', payload: { role, instanceId: leader.instanceId, fencingToken: first.fencingToken } },
      { channel: 'leader.lost', payload: { role, instanceId: leader.instanceId, fencingToken: first.fencingToken, reason: 'resigned' } },
    ]);
    expect(await events(other, 1)).toEqual([
      { channel: 'leader.elected', payload: { role, instanceId: other.instanceId, fencingToken: second.fencingToken } },
    ]);
    // A new campaign after resigning is a new one.
    const again = leader.leaders.campaign(role, { tenant: 'acme' });
    expect(again).not.toBe(campaign);
    expect(leader.booted.core.metrics.counter('leader_terms_total', { role })).toBe(1);
    expect(leader.booted.core.metrics.counter('leader_terms_lost_total', { reason: 'resigned' })).toBe(1);
  });

  it('a leader cut off from the store steps down at its lease, before the other candidate is elected', async () => {
    const [a, b] = fleet;
    const first = await a.leaders.campaign(role, { tenant: 'acme' }).elected();
    const other = b.leaders.campaign(role, { tenant: 'acme' });
    const lostAt = new Promise<number>((resolve) => first.signal.addEventListener('abort', () => resolve(Date.now()), { once: true }));
    a.cut = true;
    const second = await other.elected();
    const electedAt = Date.now();
    expect(first.signal.aborted).toBe(true);
    expect(first.signal.reason).toMatchObject({ code: 'E_LEADER_LOST', reason: 'expired', fencingToken: first.fencingToken });
    expect(await lostAt).toBeLessThanOrEqual(electedAt);
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
    // By their own beliefs, the two terms never overlap: a's ended (expired) before b's began.
    const aLost = a.changes.find((c) => !c.leader && c.reason !== undefined)!;
    const bWon = b.changes.find((c) => c.leader)!;
    expect(aLost).toMatchObject({ reason: 'expired', fencingToken: first.fencingToken });
    expect(aLost.at).toBeLessThanOrEqual(bWon.at);
    expect(a.leaders.isLeader(role, { tenant: 'acme' })).toBe(false);
    // Back in touch, a finds b leading and stands by.
    a.cut = false;
    expect(await a.leaders.leader(role, { tenant: 'acme' })).toMatchObject({ instanceId: b.instanceId, self: false, fencingToken: second.fencingToken });
    expect(a.booted.core.metrics.counter('leader_terms_lost_total', { reason: 'expired' })).toBe(1);
    expect(a.booted.core.metrics.counter('leader_errors_total', { operation: 'leader.renew' })).toBeGreaterThan(0);
  });

  it('refuses bad roles and options with typed errors before any store call', () => {
    const { leaders } = fleet[0];
    fleet[0].cut = true; // a store call would fail with RedisUnavailableError, not these
    for (const bad of ['', 'x'.repeat(101), 'a\nb', 42 as unknown as string, undefined as unknown as string]) {
      expect(() => leaders.campaign(bad)).toThrow(InvalidArgumentError);
      expect(() => leaders.isLeader(bad)).toThrow(InvalidArgumentError);
      expect(() => leaders.leadership(bad)).toThrow(InvalidArgumentError);
    }
    expect(() => leaders.campaign('r', { leaseMs: 999 })).toThrow(/leaseMs/);
    expect(() => leaders.campaign('r', { leaseMs: 1_500.5 })).toThrow(InvalidArgumentError);
    expect(() => leaders.campaign('r', { lease: 5_000 } as never)).toThrow(/options\.lease\b/);
    expect(() => leaders.campaign('r', { tenant: 'a*b' })).toThrow(TenantInvalidError);
    expect(() => leaders.campaign('x'.repeat(100))).not.toThrow();
    return Promise.all([
      expect(leaders.leader('')).rejects.toThrow(InvalidArgumentError),
      expect(leaders.resign('', { tenant: 'acme' })).rejects.toThrow(InvalidArgumentError),
    ]);
  });

  it('a second campaign for the same tenant and role returns the live one; other tenants campaign apart', () => {
    const { leaders } = fleet[0];
    const campaign = leaders.campaign(role, { tenant: 'acme' });
    expect(leaders.campaign(role, { tenant: 'acme', leaseMs: 5_000 })).toBe(campaign);
    expect(campaign.leaseMs).toBe(LEASE_MS);
    const globex = leaders.campaign(role, { tenant: 'globex' });
    expect(globex).not.toBe(campaign);
    expect(globex.tenant).toBe('globex');
    expect(campaign.candidate).toMatch(new RegExp(`^${fleet[0].instanceId}:`));
    expect(globex.candidate).not.toBe(campaign.candidate);
  });

  it('shutdown rejects pending elected(), completes leadership, leaves no timers, and resigns so the other leads at once', async () => {
    const [a, b] = fleet;
    const first = await a.leaders.campaign(role, { tenant: 'acme' }).elected();
    const bCampaign = b.leaders.campaign(role, { tenant: 'acme' });
    const pending = bCampaign.elected();
    let completed = false;
    b.leaders.leadership(role, { tenant: 'acme' }).subscribe({ complete: () => (completed = true) });
    await expectNoTimersLeftBy(() => b.close());
    expect(await rejectionOf(pending)).toBeInstanceOf(LeaderShutdownError);
    expect(completed).toBe(true);
    expect(() => b.leaders.campaign('later')).toThrow(LeaderShutdownError);

    // A fresh candidate, then the leader shuts down: its term ends (shutdown) and the role is free at once.
    fleet.push(await instance());
    const c = fleet[2];
    const cCampaign = c.leaders.campaign(role, { tenant: 'acme' });
    await expectNoTimersLeftBy(() => a.close());
    expect(first.signal.reason).toBeInstanceOf(LeaderShutdownError);
    expect(a.changes.at(-1)).toMatchObject({ leader: false, fencingToken: first.fencingToken, reason: 'shutdown' });
    const now = await c.leaders.leader(role, { tenant: 'acme' });
    expect(now === null || now.instanceId === c.instanceId).toBe(true);
    const second = await cCampaign.elected();
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
  });
}
