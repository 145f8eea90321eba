import { REDIS_DRIVERS } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { GROUP, STREAM, StreamFleet, TENANT, type HandledRecord } from './stream-fleet.js';

// Children import the built library (libs/coordination/dist): `npm run build:lib` (run by `pretest`) must have run;
// StreamFleet.start fails naming the stale files otherwise.
const ENTRIES = 60;
/** Long enough that no live consumer's renewals (every third of it) come late on a busy machine. */
const CLAIM_IDLE_MS = 3_000;
const CONSUME = { batch: 10, concurrency: 1, claimIdleMs: CLAIM_IDLE_MS, maxDeliveries: 5 };

const idsOf = (records: HandledRecord[]) => new Set(records.map((r) => r.id));

describe.each(REDIS_DRIVERS)('stream consumers in separate processes, one killed mid-batch ($name)', (driver) => {
  let fleet: StreamFleet;

  beforeEach(async () => {
    fleet = await StreamFleet.start(driver);
  });

  afterEach(async () => {
    await fleet?.close();
  });

  it(`processes every one of ${ENTRIES} entries at least once and acks them all when a consumer is SIGKILLed holding a batch`, async () => {
    const ids = await fleet.append(ENTRIES);
    // The survivors hold what they read (batch + concurrency each) until told to go, so the victim
    // surely reads a batch: it records 3 entries, then stalls in the 3rd with the rest buffered.
    const survivors = [fleet.fork({ consumer: 'survivor-1', gated: true }, CONSUME), fleet.fork({ consumer: 'survivor-2', gated: true }, CONSUME)];
    const victim = fleet.fork({ consumer: 'victim', stallAfter: 3 }, CONSUME);
    await Promise.all([...survivors, victim].map((w) => w.next('ready')));
    await victim.next('stalled');
    victim.child.kill('SIGKILL');
    expect((await victim.exited).signal).toBe('SIGKILL');

    // What the victim held when it died (nobody claims it yet: the gated survivors hold all they can).
    const held = (await fleet.redis.xpending(fleet.streamKey, GROUP, '-', '+', ENTRIES, 'victim')) as Array<[string, string, number, number]>;
    const heldIds = held.map(([id]) => id);
    const recordedByVictim = (await fleet.records()).filter((r) => r.consumer === 'victim');
    expect(recordedByVictim).toHaveLength(3);
    // Mid-batch: it held entries it never recorded, besides the one it stalled in (recorded, not acked).
    expect(heldIds).toContain(recordedByVictim[2].id);
    expect(heldIds.filter((id) => !recordedByVictim.some((r) => r.id === id)).length).toBeGreaterThan(0);
    for (const survivor of survivors) survivor.child.send({ type: 'go' });

    let seen = 0;
    await until(async () => (seen = idsOf(await fleet.records()).size) === ENTRIES && (await fleet.settled()), {
      timeoutMs: 60_000, message: () => `every entry recorded by a handler (${seen} of ${ENTRIES} so far), and acked`,
    });
    const records = await fleet.records();
    // None lost: every appended id was handled, and nothing is left pending in the group.
    expect([...idsOf(records)].sort()).toEqual([...ids].sort());
    expect(await fleet.streams.pending(STREAM, GROUP, { tenant: TENANT })).toMatchObject({ count: 0, consumers: {} });
    // What the victim held when it died was handled again by a survivor, as a redelivery.
    for (const id of heldIds) {
      const again = records.filter((r) => r.id === id && r.consumer !== 'victim');
      expect(again).toHaveLength(1);
      expect(again[0].deliveries).toBeGreaterThanOrEqual(2);
    }
    // Everything else was handled once: at-least-once repeats only what the victim had recorded without acking.
    expect(records).toHaveLength(ENTRIES + recordedByVictim.filter((r) => heldIds.includes(r.id)).length);
    for (const survivor of survivors) expect(survivor.child.exitCode).toBeNull();
  }, 90_000);

  it('moves a poison entry to the dead letters after maxDeliveries, with the count and the error: its handler ran exactly that often, in either of two consumer processes', async () => {
    const MAX_DELIVERIES = 3;
    const ids = await fleet.append(10);
    const consume = { ...CONSUME, maxDeliveries: MAX_DELIVERIES };
    const workers = [fleet.fork({ consumer: 'c-1', poison: [4] }, consume), fleet.fork({ consumer: 'c-2', poison: [4] }, consume)];
    await Promise.all(workers.map((w) => w.next('ready')));

    const [letter] = await until(async () => {
      const letters = await fleet.streams.deadLetters(STREAM, { tenant: TENANT });
      return letters.length > 0 && (await fleet.settled()) && letters;
    }, { timeoutMs: 60_000, message: 'the poison entry in the dead-letter stream, and the group settled' });
    expect(letter).toMatchObject({
      entryId: ids[4], group: GROUP, deliveries: MAX_DELIVERIES, error: 'poison entry 4', payload: { n: 4 }, tenant: TENANT, stream: STREAM,
    });
    expect(['c-1', 'c-2']).toContain(letter.consumer);
    // Its handler ran exactly maxDeliveries times in the group, whichever process took each delivery.
    const attempts = await fleet.records('attempts');
    expect(attempts.map((a) => a.deliveries).sort()).toEqual([1, 2, 3]);
    expect(attempts.every((a) => a.id === ids[4])).toBe(true);
    const records = await fleet.records();
    expect([...idsOf(records)].sort()).toEqual(ids.filter((_, n) => n !== 4).sort());
    expect(await fleet.streams.deadLetters(STREAM, { tenant: TENANT })).toHaveLength(1);
  }, 90_000);
});
