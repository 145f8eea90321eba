import type { JobKeys, TickClaim } from '../../../libs/coordination/src/leader/leader-store.interface.js';
import { BRIEF, LONG, SHORT, uniqueName, type LeaderStoresUnderTest } from './leader-store.contract.js';

/** A tick of the suite: ms since the epoch, a minute apart (as a cron job's would be). */
const tick = (i: number): number => Date.UTC(2026, 10, 30, 2, i);

/**
 * The JobTickStore contract: a tick is claimed at most once and only when later than the last
 * claimed one; a run holding its lease blocks (and marks taken) the next tick; finish frees the
 * lease; an expired lease lets the next tick run; renew and finish only for the owner's live run;
 * fencing tokens rise across runs, also after the counter is lost; exactly one of concurrent
 * claims wins. Every implementation must pass it unchanged.
 *
 * @example
 * describe.each(DRIVERS)('JobTickStore contract ($name)', (driver) => describeJobTickStoreContract(() => storesFor(driver)));
 */
export function describeJobTickStoreContract(createStores: () => Promise<LeaderStoresUnderTest>): void {
  let s: LeaderStoresUnderTest;
  beforeAll(async () => {
    s = await createStores();
  });
  afterAll(() => s.close());

  const job = (): JobKeys => s.jobKeys(uniqueName('job'));

  /** Claims and asserts the claim; returns the run's token. */
  async function claim(keys: JobKeys, tickMs: number, owner: string, leaseMs = LONG): Promise<number> {
    const reply = await s.jobs.claimTick(keys, tickMs, owner, leaseMs);
    if (!reply.claimed) throw new Error(`${owner} did not claim ${tickMs}: ${JSON.stringify(reply)}`);
    return reply.fencingToken;
  }

  it('claims a tick once: the same tick again is taken, whoever asks', async () => {
    const keys = job();
    const reply = await s.jobs.claimTick(keys, tick(1), 'node-a:1', LONG);
    expect(reply).toEqual({ claimed: true, fencingToken: expect.any(Number) });
    if (!reply.claimed) return;
    expect(Number.isSafeInteger(reply.fencingToken) && reply.fencingToken > 0).toBe(true);
    expect(await s.jobs.finishTick(keys, 'node-a:1', reply.fencingToken)).toBe(true);
    expect(await s.jobs.claimTick(keys, tick(1), 'node-b:1', LONG)).toEqual({ claimed: false, reason: 'taken', lastTickMs: tick(1) });
    expect(await s.jobs.claimTick(keys, tick(1), 'node-a:1', LONG)).toEqual({ claimed: false, reason: 'taken', lastTickMs: tick(1) });
  });

  it('is monotonic: a tick older than the last claimed one is taken (naming the last)', async () => {
    const keys = job();
    const token = await claim(keys, tick(5), 'node-a:1');
    expect(await s.jobs.finishTick(keys, 'node-a:1', token)).toBe(true);
    expect(await s.jobs.claimTick(keys, tick(4), 'node-b:1', LONG)).toEqual({ claimed: false, reason: 'taken', lastTickMs: tick(5) });
  });

  it('a run holding its lease blocks the next tick (running) and marks it taken; after finish the tick after claims with a higher token', async () => {
    const keys = job();
    const first = await claim(keys, tick(1), 'node-a:1');
    expect(await s.jobs.claimTick(keys, tick(2), 'node-b:1', LONG)).toEqual({ claimed: false, reason: 'running', lastTickMs: tick(2) });
    expect(await s.jobs.claimTick(keys, tick(2), 'node-c:1', LONG)).toEqual({ claimed: false, reason: 'taken', lastTickMs: tick(2) });
    expect(await s.jobs.finishTick(keys, 'node-a:1', first)).toBe(true);
    // tick 2 stays skipped: it was marked taken while the run held the lease.
    expect(await s.jobs.claimTick(keys, tick(2), 'node-b:1', LONG)).toEqual({ claimed: false, reason: 'taken', lastTickMs: tick(2) });
    expect(await claim(keys, tick(3), 'node-b:1')).toBeGreaterThan(first);
  });

  it('finish frees the lease once: finishing or renewing again answers false', async () => {
    const keys = job();
    const token = await claim(keys, tick(1), 'node-a:1');
    expect(await s.jobs.finishTick(keys, 'node-a:1', token)).toBe(true);
    expect(await s.jobs.finishTick(keys, 'node-a:1', token)).toBe(false);
    expect(await s.jobs.renewTick(keys, 'node-a:1', token, LONG)).toBe(false);
    expect(await claim(keys, tick(2), 'node-a:1')).toBeGreaterThan(token);
  });

  it('renew and finish refuse another owner or another token, and change nothing', async () => {
    const keys = job();
    const token = await claim(keys, tick(1), 'node-a:1');
    expect(await s.jobs.renewTick(keys, 'node-b:1', token, LONG)).toBe(false);
    expect(await s.jobs.renewTick(keys, 'node-a:1', token - 1, LONG)).toBe(false);
    expect(await s.jobs.finishTick(keys, 'node-b:1', token)).toBe(false);
    expect(await s.jobs.finishTick(keys, 'node-a:1', token + 1)).toBe(false);
    expect(await s.jobs.claimTick(keys, tick(2), 'node-b:1', LONG)).toMatchObject({ claimed: false, reason: 'running' });
    expect(await s.jobs.renewTick(keys, 'node-a:1', token, LONG)).toBe(true);
    expect(await s.jobs.finishTick(keys, 'node-a:1', token)).toBe(true);
  });

  it('renewTick extends the run lease past its first end', async () => {
    const keys = job();
    const token = await claim(keys, tick(1), 'node-a:1', SHORT);
    expect(await s.jobs.renewTick(keys, 'node-a:1', token, LONG)).toBe(true);
    await s.elapse(SHORT + 1);
    expect(await s.jobs.claimTick(keys, tick(2), 'node-b:1', LONG)).toEqual({ claimed: false, reason: 'running', lastTickMs: tick(2) });
    expect(await s.jobs.finishTick(keys, 'node-a:1', token)).toBe(true);
  });

  it('a lease that expires without finish lets the next tick run (higher token); the old run can neither renew nor finish', async () => {
    const keys = job();
    const old = await claim(keys, tick(1), 'node-a:1', BRIEF);
    await s.elapse(BRIEF + 1);
    const next = await claim(keys, tick(2), 'node-b:1');
    expect(next).toBeGreaterThan(old);
    expect(await s.jobs.renewTick(keys, 'node-a:1', old, LONG)).toBe(false);
    expect(await s.jobs.finishTick(keys, 'node-a:1', old)).toBe(false);
    expect(await s.jobs.finishTick(keys, 'node-b:1', next)).toBe(true);
  });

  it('an expired lease cannot be renewed or finished even before the next claim', async () => {
    const keys = job();
    const token = await claim(keys, tick(1), 'node-a:1', BRIEF);
    await s.elapse(BRIEF + 1);
    expect(await s.jobs.renewTick(keys, 'node-a:1', token, LONG)).toBe(false);
    expect(await s.jobs.finishTick(keys, 'node-a:1', token)).toBe(false);
  });

  it('lets exactly one of 20 concurrent claims of one tick run; the others see it taken', async () => {
    const keys = job();
    const replies: TickClaim[] = await Promise.all(Array.from({ length: 20 }, (_, i) => s.jobs.claimTick(keys, tick(1), `node-${i}:1`, LONG)));
    expect(replies.filter((r) => r.claimed)).toHaveLength(1);
    for (const r of replies) if (!r.claimed) expect(r).toEqual({ claimed: false, reason: 'taken', lastTickMs: tick(1) });
  });

  it('issues each claim a token at or above the store clock in microseconds (tokens follow the clock)', async () => {
    const keys = job();
    const first = await claim(keys, tick(1), 'node-a:1');
    expect(await s.jobs.finishTick(keys, 'node-a:1', first)).toBe(true);
    await s.elapse(5); // a counter that merely counts on now stays below the clock
    const floor = (await s.now()) * 1_000;
    const second = await claim(keys, tick(2), 'node-b:1');
    expect(second).toBeGreaterThanOrEqual(floor);
    expect(second).toBeGreaterThan(first);
  });

  it('issues tokens strictly above the earlier ones after the fencing counter is lost', async () => {
    const keys = job();
    const first = await claim(keys, tick(1), 'node-a:1');
    expect(await s.jobs.finishTick(keys, 'node-a:1', first)).toBe(true);
    await s.loseFence(keys.fence);
    expect(await claim(keys, tick(2), 'node-b:1')).toBeGreaterThan(first);
  });

  it('keeps jobs apart', async () => {
    const [a, b] = [job(), job()];
    await claim(a, tick(1), 'node-a:1');
    await claim(b, tick(1), 'node-a:1');
    expect(await s.jobs.claimTick(b, tick(2), 'node-b:1', LONG)).toMatchObject({ claimed: false, reason: 'running' });
  });
}
