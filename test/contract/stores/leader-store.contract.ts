import { randomBytes } from 'node:crypto';
import type { JobKeys, JobTickStore, LeaderKeys, LeaderStore } from '../../../libs/coordination/src/leader/leader-store.interface.js';

/** The leader and job-tick stores of one backend, under test. */
export interface LeaderStoresUnderTest {
  /** The stores (memory: replaced by `loseFence`, so read them from here at each call). */
  leaders: LeaderStore;
  jobs: JobTickStore;
  /** A role's keys, as the capability builds them (KeyBuilder on the store's own prefix). */
  roleKeys(tenant: string, role: string): LeaderKeys;
  /** A singleton job's keys (shared tenant, capability `jobs`). */
  jobKeys(name: string): JobKeys;
  /** The stores' clock: the ManualClock in memory, the server's TIME on Redis. */
  now(): Promise<number>;
  /** Lets `ms` pass for the stores: memory advances its ManualClock, Redis awaits that much server time. */
  elapse(ms: number): Promise<void>;
  /**
   * Loses the fencing counter `fenceKey`: Redis DELs it (what a restart without persistence or an
   * eviction does); memory replaces both stores by new instances (a restarted process) a little later.
   */
  loseFence(fenceKey: string): Promise<void>;
  close(): Promise<void>;
}

/** Long enough that nothing expires while a test relies on it. */
export const LONG = 600_000;
/** A lease that outlives a few round trips on a loaded machine, then is let run out (Redis: in real time, awaited). */
export const SHORT = 1_000;
/** A lease a test only lets run out. */
export const BRIEF = 100;

/** A name no other test uses (so suites sharing a server never meet). */
export function uniqueName(label: string): string {
  return `${label}-${randomBytes(4).toString('hex')}`;
}

/**
 * The LeaderStore contract: terms, fencing tokens strictly rising across terms (also after the
 * counter is lost), renewal and resignation only by the holder's candidate and token, expiry,
 * and exactly one winner of concurrent campaigns. Every implementation must pass it unchanged.
 *
 * @example
 * describe.each(DRIVERS)('LeaderStore contract ($name)', (driver) => describeLeaderStoreContract(() => storesFor(driver)));
 */
export function describeLeaderStoreContract(createStores: () => Promise<LeaderStoresUnderTest>): void {
  let s: LeaderStoresUnderTest;
  beforeAll(async () => {
    s = await createStores();
  });
  afterAll(() => s.close());

  /** A fresh role (tenants alternate, so roles land on many slots and both tenants). */
  let n = 0;
  const role = (): LeaderKeys => s.roleKeys(++n % 2 === 0 ? 'acme' : 'globex', uniqueName('role'));

  /** Campaigns and asserts the candidate was elected; returns its token. */
  async function elect(keys: LeaderKeys, candidate: string, leaseMs = LONG): Promise<number> {
    const reply = await s.leaders.campaign(keys, candidate, `${candidate}-instance`, leaseMs);
    if (!reply.elected) throw new Error(`${candidate} was not elected: ${JSON.stringify(reply)}`);
    return reply.fencingToken;
  }

  it('elects the first candidate: a new term with an integer token, electedAt from the store clock, ttl = the lease', async () => {
    const keys = role();
    const before = await s.now();
    const reply = await s.leaders.campaign(keys, 'node-a:1', 'node-a', LONG);
    const after = await s.now();
    expect(reply).toEqual({ elected: true, renewed: false, fencingToken: expect.any(Number), electedAt: expect.any(Number), ttlMs: LONG });
    if (!reply.elected) return;
    expect(Number.isSafeInteger(reply.fencingToken) && reply.fencingToken > 0).toBe(true);
    expect(reply.electedAt).toBeGreaterThanOrEqual(before);
    expect(reply.electedAt).toBeLessThanOrEqual(after);
    const read = await s.leaders.read(keys);
    expect(read).toEqual({ candidate: 'node-a:1', instanceId: 'node-a', fencingToken: reply.fencingToken, electedAt: reply.electedAt, ttlMs: expect.any(Number) });
    expect(read!.ttlMs).toBeGreaterThan(0);
    expect(read!.ttlMs).toBeLessThanOrEqual(LONG);
  });

  it('does not elect a second candidate while the term lives: it sees the holder and its remaining ttl', async () => {
    const keys = role();
    const token = await elect(keys, 'node-a:1');
    const electedAt = (await s.leaders.read(keys))!.electedAt;
    const reply = await s.leaders.campaign(keys, 'node-b:1', 'node-b', LONG);
    expect(reply).toEqual({ elected: false, holder: { candidate: 'node-a:1', instanceId: 'node-a:1-instance', fencingToken: token, electedAt, ttlMs: expect.any(Number) } });
    if (reply.elected) return;
    expect(reply.holder.ttlMs).toBeGreaterThan(0);
    expect(reply.holder.ttlMs).toBeLessThanOrEqual(LONG);
    expect((await s.leaders.read(keys))!.candidate).toBe('node-a:1');
  });

  it('renews the same candidate\'s term on a second campaign: same token and electedAt, the lease restarted', async () => {
    const keys = role();
    const first = await s.leaders.campaign(keys, 'node-a:1', 'node-a', SHORT);
    if (!first.elected) throw new Error('not elected');
    const again = await s.leaders.campaign(keys, 'node-a:1', 'node-a', LONG);
    expect(again).toEqual({ elected: true, renewed: true, fencingToken: first.fencingToken, electedAt: first.electedAt, ttlMs: LONG });
    await s.elapse(SHORT + 1); // past the first lease: the renewal must have extended it
    expect(await s.leaders.read(keys)).toMatchObject({ candidate: 'node-a:1', fencingToken: first.fencingToken });
  });

  it('renew extends the lease of the holder\'s term', async () => {
    const keys = role();
    const token = await elect(keys, 'node-a:1', SHORT);
    expect(await s.leaders.renew(keys, 'node-a:1', token, LONG)).toBe(true);
    await s.elapse(SHORT + 1);
    expect(await s.leaders.read(keys)).toMatchObject({ candidate: 'node-a:1', fencingToken: token });
    expect(await s.leaders.renew(keys, 'node-a:1', token, LONG)).toBe(true);
  });

  it('lets the lease expire: the role is free, another candidate gets a higher token, the old term can neither renew nor resign', async () => {
    const keys = role();
    const old = await elect(keys, 'node-a:1', BRIEF);
    await s.elapse(BRIEF + 1);
    expect(await s.leaders.read(keys)).toBeNull();
    const reply = await s.leaders.campaign(keys, 'node-b:1', 'node-b', LONG);
    expect(reply).toMatchObject({ elected: true, renewed: false });
    if (!reply.elected) return;
    expect(reply.fencingToken).toBeGreaterThan(old);
    expect(await s.leaders.renew(keys, 'node-a:1', old, LONG)).toBe(false);
    expect(await s.leaders.resign(keys, 'node-a:1', old)).toBe(false);
    expect(await s.leaders.campaign(keys, 'node-a:1', 'node-a', LONG)).toMatchObject({ elected: false, holder: { candidate: 'node-b:1', fencingToken: reply.fencingToken } });
  });

  it('refuses renew and resign for another candidate or another token, and changes nothing', async () => {
    const keys = role();
    const token = await elect(keys, 'node-a:1');
    expect(await s.leaders.renew(keys, 'node-b:1', token, LONG)).toBe(false);
    expect(await s.leaders.renew(keys, 'node-a:1', token - 1, LONG)).toBe(false);
    expect(await s.leaders.renew(keys, 'node-a:1', token + 1, LONG)).toBe(false);
    expect(await s.leaders.resign(keys, 'node-b:1', token)).toBe(false);
    expect(await s.leaders.resign(keys, 'node-a:1', token - 1)).toBe(false);
    expect(await s.leaders.read(keys)).toMatchObject({ candidate: 'node-a:1', fencingToken: token });
    expect(await s.leaders.renew(keys, 'node-a:1', token, LONG)).toBe(true);
  });

  it('resign frees the role at once (the next term has a higher token); a second resign answers false', async () => {
    const keys = role();
    const token = await elect(keys, 'node-a:1');
    expect(await s.leaders.resign(keys, 'node-a:1', token)).toBe(true);
    expect(await s.leaders.read(keys)).toBeNull();
    expect(await s.leaders.resign(keys, 'node-a:1', token)).toBe(false);
    expect(await s.leaders.renew(keys, 'node-a:1', token, LONG)).toBe(false);
    expect(await elect(keys, 'node-b:1')).toBeGreaterThan(token);
  });

  it('reads null for a role nobody campaigned for; roles (and tenants) are independent', async () => {
    const keys = role();
    expect(await s.leaders.read(keys)).toBeNull();
    const name = uniqueName('shared-name');
    const [acme, globex] = [s.roleKeys('acme', name), s.roleKeys('globex', name)];
    await elect(acme, 'node-a:1');
    await elect(globex, 'node-b:1');
    expect((await s.leaders.read(acme))!.candidate).toBe('node-a:1');
    expect((await s.leaders.read(globex))!.candidate).toBe('node-b:1');
  });

  it('elects exactly one of 20 concurrent candidates; the others see it as the holder', async () => {
    const keys = role();
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => s.leaders.campaign(keys, `node-${i}:1`, `node-${i}`, LONG)));
    const elected = replies.filter((r) => r.elected);
    expect(elected).toHaveLength(1);
    const winner = elected[0];
    const leader = await s.leaders.read(keys);
    for (const r of replies) if (!r.elected) expect(r.holder).toMatchObject({ candidate: leader!.candidate, fencingToken: winner.fencingToken });
  });

  it('issues each new term a token at or above the store clock in microseconds (tokens follow the clock)', async () => {
    const keys = role();
    const first = await elect(keys, 'node-a:1');
    expect(await s.leaders.resign(keys, 'node-a:1', first)).toBe(true);
    await s.elapse(5); // a counter that merely counts on now stays below the clock
    const floor = (await s.now()) * 1_000;
    const second = await elect(keys, 'node-b:1');
    expect(second).toBeGreaterThanOrEqual(floor);
    expect(second).toBeGreaterThan(first);
  });

  it('issues tokens strictly above the earlier ones after the fencing counter is lost', async () => {
    const keys = role();
    const tokens = [await elect(keys, 'node-a:1')];
    expect(await s.leaders.resign(keys, 'node-a:1', tokens[0])).toBe(true);
    tokens.push(await elect(keys, 'node-b:1'));
    expect(await s.leaders.resign(keys, 'node-b:1', tokens[1])).toBe(true);
    await s.loseFence(keys.fence);
    tokens.push(await elect(keys, 'node-c:1'));
    expect(tokens[1]).toBeGreaterThan(tokens[0]);
    expect(tokens[2]).toBeGreaterThan(tokens[1]);
  });
}
