import { REDIS_DRIVERS } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { GROUP, STREAM, StreamFleet, TENANT } from './stream-fleet.js';

// Children import the built library (libs/coordination/dist): `npm run build:lib` (run by `pretest`) must have run;
// StreamFleet.start fails naming the stale files otherwise.
const ENTRIES = 8;
/** Long enough that no live consumer's renewals (every third of it) come late on a busy machine. */
const CLAIM_IDLE_MS = 3_000;
/** Each handler holds its entry longer than claimIdleMs: without renewals the other consumer would reclaim it. */
const HOLD_MS = 4_000;
// Two handlers at once per process and one entry read ahead: read-ahead entries wait longer than claimIdleMs too.
const CONSUME = { batch: 1, concurrency: 2, claimIdleMs: CLAIM_IDLE_MS, maxDeliveries: 5 };

describe.each(REDIS_DRIVERS)('two live stream consumers in separate processes, one group ($name)', (driver) => {
  let fleet: StreamFleet;

  beforeEach(async () => {
    fleet = await StreamFleet.start(driver);
  });

  afterEach(async () => {
    await fleet?.close();
  });

  it('never run one entry at once, and handle each entry exactly once while both stay alive', async () => {
    const workers = [
      fleet.fork({ consumer: 'c-1', exclusive: true, holdMs: HOLD_MS }, CONSUME),
      fleet.fork({ consumer: 'c-2', exclusive: true, holdMs: HOLD_MS }, CONSUME),
    ];
    // Both read before anything is appended, so both get entries.
    await Promise.all(workers.map((w) => w.next('ready')));
    const ids = await fleet.append(ENTRIES);

    await until(async () => (await fleet.records()).length >= ENTRIES && (await fleet.settled()), {
      timeoutMs: 60_000, message: `${ENTRIES} entries handled and acked`,
    });
    expect(await fleet.redis.lrange(fleet.key('overlaps'), 0, -1)).toEqual([]);
    const records = await fleet.records();
    expect(records.map((r) => r.id).sort()).toEqual([...ids].sort());
    // Nobody took an entry from a live consumer: each was delivered once.
    expect(records.every((r) => r.deliveries === 1)).toBe(true);
    expect(new Set(records.map((r) => r.consumer))).toEqual(new Set(['c-1', 'c-2']));
    expect(await fleet.streams.pending(STREAM, GROUP, { tenant: TENANT })).toMatchObject({ count: 0 });
    for (const worker of workers) expect(worker.child.exitCode).toBeNull();
  }, 90_000);
});
