import {
  EventBus, InvalidArgumentError, systemClock, LeaderService, LeaderLostError, LeaderShutdownError, RedisUnavailableError, TenantInvalidError, TenantRequiredError,
  type CoordinationEvent, type LeadershipChange, type LeaderCampaign,
} from '@nest-coordination/core';
import { CoordinationCore } from '../../libs/coordination/src/core/coordination-core.js';
import { LEADER_STORE, type LeaderStore } from '../../libs/coordination/src/leader/leader-store.interface.js';
import { MemoryLeaderStore } from '../../libs/coordination/src/leader/memory-leader.store.js';
import { RedisLeaderStore } from '../../libs/coordination/src/leader/redis-leader.store.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { uniquePrefix, type DriverCase } from '../support/drivers.js';
import { expectNoTimersLeftBy } from '../support/timers.js';
import { nextEvent, rejectionOf, sleep, until } from '../support/wait.js';

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
  /** While true, a renewal runs in the store but its reply is lost (RedisUnavailableError, as on a command timeout). */
  loseRenewReplies: boolean;
  /** The next campaign call runs in the store but its reply is lost (then this turns false). */
  loseNextCampaignReply: boolean;
  /** A renewal's reply arrives this long after the store ran it, ms (0: at once). */
  renewReplyDelayMs: number;
  /** Renewals running (store call or delayed reply) and renewals that returned, of this instance. */
  renewsInFlight: number;
  renewsDone: number;
  /** Every leadership change of ROLE, with the local time it arrived. */
  readonly changes: Array<LeadershipChange & { at: number }>;
  /** leader.* events this module instance published. */
  readonly events: CoordinationEvent<Record<string, unknown>>[];
  close(): Promise<void>;
}

type Faults = Pick<Instance, 'cut' | 'loseNextCampaignReply' | 'loseRenewReplies' | 'renewReplyDelayMs' | 'renewsInFlight' | 'renewsDone'>;

/**
 * A store whose calls fail while `faults.cut` (the instance's Redis access cut off), and whose
 * renewals run in the store but answer late (`renewReplyDelayMs`) or never (`loseRenewReplies`).
 */
function faulty(store: LeaderStore, faults: Faults): LeaderStore {
  const guard = <T>(operation: string, call: () => Promise<T>) =>
    faults.cut ? Promise.reject(new RedisUnavailableError(operation, new Error('cut off by the test'))) : call();
  const renew: LeaderStore['renew'] = async (...args) => {
    faults.renewsInFlight++;
    try {
      const renewed = await store.renew(...args);
      if (faults.renewReplyDelayMs > 0) await sleep(faults.renewReplyDelayMs); // the reply travels slowly
      if (faults.loseRenewReplies) throw new RedisUnavailableError('leader.renew', new Error('reply lost by the test'));
      faults.renewsDone++;
      return renewed;
    } finally {
      faults.renewsInFlight--;
    }
  };
  return {
    campaign: (...args) => guard('leader.campaign', async () => {
      const reply = await store.campaign(...args);
      if (!faults.loseNextCampaignReply) return reply;
      faults.loseNextCampaignReply = false;
      throw new RedisUnavailableError('leader.campaign', new Error('reply lost by the test'));
    }),
    renew: (...args) => guard('leader.renew', () => renew(...args)),
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
    const self = { cut: false, loseNextCampaignReply: false, loseRenewReplies: false, renewReplyDelayMs: 0, renewsInFlight: 0, renewsDone: 0 } as Instance;
    const booted = await bootModule(
      { ...driver.options(), prefix, health: { pingIntervalMs: 0 }, leader: { leaseMs: LEASE_MS } },
      {
        overrides: [{
          token: LEADER_STORE,
          inject: [CoordinationCore],
          factory: (core: CoordinationCore) => {
            const real = core.connection ? new RedisLeaderStore(core.connection) : (shared ??= new MemoryLeaderStore(core.clock));
            return faulty(real, self);
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
    // Both events, in either order: they are two publishes, which a cluster may deliver out of order
    // (each goes through whichever node ioredis picks); leadership$ above is the ordered view.
    const leaderEvents = await events(leader, 2);
    expect(leaderEvents).toHaveLength(2);
    expect(leaderEvents).toEqual(expect.arrayContaining([
      { channel: 'leader.elected', payload: { role, instanceId: leader.instanceId, fencingToken: first.fencingToken } },
      { channel: 'leader.lost', payload: { role, instanceId: leader.instanceId, fencingToken: first.fencingToken, reason: 'resigned' } },
    ]));
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

  it('a fleet-wide role (fleet: true) is apart from every tenant\'s role of that name, and needs no tenant where tenancy is required', async () => {
    const campaigns = fleet.map((i) => i.leaders.campaign(role, { fleet: true }));
    await until(() => campaigns.some((c) => c.isLeader), { ...WAIT, message: 'one fleet-wide leader' });
    const index = campaigns.findIndex((c) => c.isLeader);
    expect(campaigns[1 - index].isLeader).toBe(false);
    const info = await fleet[1 - index].leaders.leader(role, { fleet: true });
    expect(info).toMatchObject({ instanceId: fleet[index].instanceId, self: false, fencingToken: campaigns[index].term!.fencingToken });
    expect(fleet[index].leaders.isLeader(role, { fleet: true })).toBe(true);
    // The tenant's role of the same name is another role: nobody campaigns for it.
    expect(await fleet[0].leaders.leader(role, { tenant: 'acme' })).toBeNull();
    expect(fleet[index].leaders.isLeader(role, { tenant: 'acme' })).toBe(false);
    expect(() => fleet[0].leaders.campaign(role, { fleet: true, tenant: 'acme' })).toThrow(/options\.fleet/);
    expect(() => fleet[0].leaders.campaign(role, { fleet: 'yes' as never })).toThrow(InvalidArgumentError);

    const strict = await bootModule({ ...driver.options(), prefix: uniquePrefix('leaderstrict'), health: { pingIntervalMs: 0 }, tenancy: { required: true } });
    try {
      const leaders = strict.get(LeaderService);
      expect(() => leaders.campaign(role)).toThrow(TenantRequiredError);
      const term = await leaders.campaign(role, { fleet: true }).elected();
      expect(term.tenant).toBe('_shared');
      expect((await leaders.leader(role, { fleet: true }))?.self).toBe(true);
    } finally {
      await strict.close();
    }
  });

  it('shutdown rejects pending elected(), completes leadership, leaves no timers, and resigns: the role is free at once', async () => {
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

  it('a renewal that ran in the store but whose reply was lost never lets a later term reuse its fencing token', async () => {
    const [a] = fleet;
    const campaign = a.leaders.campaign(role, { tenant: 'acme' });
    const first = await campaign.elected();
    // Every renewal now extends the lease in the store, but a never hears so: its term ends at its local expiry...
    const ended = nextEvent(first.signal, 'abort', { ...WAIT, message: 'the term to end at its local expiry' });
    a.loseRenewReplies = true;
    await ended;
    a.loseRenewReplies = false;
    expect(first.signal.reason).toMatchObject({ reason: 'expired', fencingToken: first.fencingToken });
    // ...while the store still names its candidate: campaigning again must begin a NEW term, not revive the old one.
    const second = await campaign.elected();
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
    expect((await a.leaders.leader(role, { tenant: 'acme' }))?.fencingToken).toBe(second.fencingToken);
    expect(a.changes.map(({ leader, fencingToken }) => ({ leader, fencingToken }))).toEqual([
      { leader: false, fencingToken: undefined },
      { leader: true, fencingToken: first.fencingToken },
      { leader: false, fencingToken: first.fencingToken },
      { leader: true, fencingToken: second.fencingToken },
    ]);
    await until(() => a.events.length >= 3, { ...WAIT, message: () => `3 leader events (got ${a.events.length})` });
    const electedTokens = a.events.filter((e) => e.channel === 'leader.elected').map((e) => e.payload.fencingToken);
    expect(electedTokens).toEqual([first.fencingToken, second.fencingToken]);
  });

  it('with renewal replies arriving late, a leader then cut off still steps down before the other candidate is elected', async () => {
    const [a, b] = fleet;
    const first = await a.leaders.campaign(role, { tenant: 'acme' }).elected();
    // Each renewal runs in the store at once and answers 400 ms later: the local expiry must count
    // from the call's start, not from the reply (the store's lease began before the reply came).
    a.renewReplyDelayMs = 400;
    await until(() => a.renewsDone >= 2, { ...WAIT, message: 'two late renewals to complete' });
    const other = b.leaders.campaign(role, { tenant: 'acme' });
    const lostAt = new Promise<number>((resolve) => first.signal.addEventListener('abort', () => resolve(Date.now()), { once: true }));
    await until(() => a.renewsInFlight > 0, { ...WAIT, message: 'a renewal in flight' });
    a.cut = true; // the renewal in flight still succeeds, late; the next ones fail
    const second = await other.elected();
    const electedAt = Date.now();
    expect(await lostAt).toBeLessThanOrEqual(electedAt);
    expect(first.signal.reason).toMatchObject({ reason: 'expired', fencingToken: first.fencingToken });
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
    const aLost = a.changes.find((c) => !c.leader && c.reason !== undefined)!;
    expect(aLost.at).toBeLessThanOrEqual(b.changes.find((c) => c.leader)!.at);
  });

  it('shutdown waits for a resign() already in progress: the role is free once close() returns', async () => {
    const [a, b] = fleet;
    const campaign = a.leaders.campaign(role, { tenant: 'acme' });
    await campaign.elected();
    a.renewReplyDelayMs = 1_000; // a renewal stays in flight long enough for close() to overtake the resign
    await until(() => a.renewsInFlight > 0, { ...WAIT, message: 'a renewal in flight' });
    const resigned = campaign.resign().then(() => 'resigned', (error: unknown) => error);
    await a.close();
    expect(await b.leaders.leader(role, { tenant: 'acme' })).toBeNull();
    expect(await resigned).toBe('resigned');
  });

  it('a campaign granted in the store whose reply was lost, then resigned, leaves the role free', async () => {
    const [a] = fleet;
    a.loseNextCampaignReply = true;
    const campaign = a.leaders.campaign(role, { tenant: 'acme' });
    await until(() => !a.loseNextCampaignReply, { ...WAIT, message: 'the first campaign call to have run' });
    expect(campaign.isLeader).toBe(false);
    await campaign.resign();
    expect(await a.leaders.leader(role, { tenant: 'acme' })).toBeNull();
  });

  it('delivers leadership changes in order, also when a subscriber resigns on being elected', async () => {
    const campaign = fleet[0].leaders.campaign(role, { tenant: 'acme' });
    const seen: boolean[] = [];
    campaign.leadership$.subscribe(({ leader }) => {
      if (leader) void campaign.resign().catch(() => undefined);
    });
    campaign.leadership$.subscribe(({ leader }) => seen.push(leader));
    await until(() => seen.length >= 3, { ...WAIT, message: () => `three changes (got ${JSON.stringify(seen)})` });
    expect(seen).toEqual([false, true, false]);
    expect(campaign.isLeader).toBe(false);
    expect(fleet[0].changes.map((c) => c.leader)).toEqual([false, true, false]);
  });

  it('leadership() of a role first asked for after shutdown completes at once', async () => {
    const { leaders } = fleet[0];
    await fleet[0].close();
    let completed = false;
    const values: LeadershipChange[] = [];
    leaders.leadership('asked-after-shutdown').subscribe({ next: (c) => values.push(c), complete: () => (completed = true) });
    expect(completed).toBe(true);
    expect(values).toEqual([]);
  });

  // On memory the store runs on the same wall clock as the instances, so a step moves its leases too.
  if (driver.name !== 'memory') {
    it('a wall-clock step backwards does not stretch a cut-off leader\'s term past the other candidate\'s election', async () => {
      const [a, b] = fleet;
      expect(a.booted.core.clock).toBe(systemClock);
      const first = await a.leaders.campaign(role, { tenant: 'acme' }).elected();
      const other = b.leaders.campaign(role, { tenant: 'acme' });
      const realNow = Date.now;
      a.cut = true;
      Date.now = () => realNow.call(Date) - 5_000; // NTP steps the wall clock back 5 s during the outage
      try {
        await other.elected();
        expect(a.leaders.isLeader(role, { tenant: 'acme' })).toBe(false);
        expect(first.signal.aborted).toBe(true);
      } finally {
        Date.now = realNow;
        a.cut = false;
      }
    });
  }
}
