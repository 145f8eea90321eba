import { RedisUnavailableError, type StreamEntry, type StreamService, type TaskId } from '@nest-coordination/core';
import { sleep, until } from '../support/wait.js';
import { breakerIs, healthUp, partitionEnv, RECOVERY_MS } from './partition-pair.js';
import { servicesOf, TENANT, type Services } from './partition-services.js';

/** Every entry of `stream`, oldest first (paged). */
async function readAll(streams: StreamService, stream: string): Promise<Array<StreamEntry<{ n: number; by: string }>>> {
  const entries: Array<StreamEntry<{ n: number; by: string }>> = [];
  for (;;) {
    const page = await streams.read<{ n: number; by: string }>(stream, { ...TENANT, count: 1_000, after: entries.at(-1)?.id });
    entries.push(...page);
    if (page.length < 1_000) return entries;
  }
}

async function appendN(s: Services, by: string, from: number, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let n = from; n < from + count; n += 1) ids.push(await s.streams.append('orders', { n, by }, TENANT));
  return ids;
}

/**
 * What a partition may lose and what it may not (README "Failure policy"): pub/sub events
 * published while an instance's subscriber is down are lost to it (at most once); stream
 * entries, tasks and sessions whose write was acknowledged are never lost, whatever the link does.
 */
describe('nothing acknowledged is lost when an instance is partitioned', () => {
  const env = partitionEnv();

  it("streams: A's consumer gets every entry B appended while A's subscriber, then all of A, was cut off; A's own acknowledged appends are all there", async () => {
    const { a, b, proxy, aId } = await env.boot();
    const [A, B] = [servicesOf(a), servicesOf(b)];
    const handled: string[] = [];
    const events: number[] = [];
    await A.streams.consume<{ n: number }>('orders', 'billing', (entry) => void handled.push(entry.id), {
      ...TENANT, blockMs: 200, claimIdleMs: 1_000, consumer: 'a',
    });
    const bus = A.events.on<{ n: number }>('orders.changed', TENANT);
    const subscription = bus.subscribe((event) => events.push(event.payload.n));
    const handledAll = (ids: string[], message: string) =>
      until(() => ids.every((id) => handled.includes(id)), { timeoutMs: RECOVERY_MS, message: () => `${message} (${handled.length} handled)` });
    try {
      await bus.ready();
      const fromA = await appendN(A, 'a', 0, 5);
      await handledAll(fromA, "A's own entries consumed");

      // A's subscriber only: pub/sub to A is lost; its stream consumer reads on its own connection, unaffected.
      proxy.cut({ role: 'subscriber' });
      await until(() => a.core.connection!.health().status === 'degraded', { timeoutMs: RECOVERY_MS, message: 'A degraded' });
      await B.events.publish('orders.changed', { n: 1 }, TENANT);
      const whileSubscriberDown = await appendN(B, 'b', 5, 5);
      await handledAll(whileSubscriberDown, "B's entries consumed by A while its subscriber is down");

      // All of A: its consumer pauses; B's appends wait in the stream.
      proxy.cut({ instanceId: aId });
      await breakerIs(a, 'open', "A's breaker to open");
      const whileCut = await appendN(B, 'b', 10, 10);

      proxy.restore();
      await healthUp(a, 'A back');
      await handledAll(whileCut, "B's entries appended while A was cut off, consumed by A after restore()");
      await until(async () => (await B.streams.pending('orders', 'billing', TENANT)).count === 0, {
        timeoutMs: RECOVERY_MS, message: 'every entry acknowledged by the group',
      });
      const stored = (await readAll(B.streams, 'orders')).map((entry) => entry.id);
      expect(stored).toEqual([...fromA, ...whileSubscriberDown, ...whileCut]);
      expect(new Set(handled)).toEqual(new Set(stored));

      // Pub/sub is at most once: the event published while A's subscriber was down is gone.
      await bus.ready();
      await B.events.publish('orders.changed', { n: 2 }, TENANT);
      await until(() => events.includes(2), { timeoutMs: RECOVERY_MS, message: 'an event published after restore()' });
      expect(events).toEqual([2]);
    } finally {
      subscription.unsubscribe();
    }
  });

  it('flapping cuts, freezes and delays of A: every append, enqueue and session write that resolved on A is in Redis afterwards', async () => {
    const { a, b, proxy, aId } = await env.boot({ connection: { commandTimeoutMs: 300 } });
    const [A, B] = [servicesOf(a), servicesOf(b)];
    const acked = {
      entries: new Map<string, number>(),
      tasks: new Map<TaskId, number>(),
      /** Session id -> the step of its last acknowledged write (1: created, 2: updated). */
      sessions: new Map<string, number>(),
    };
    let failures = 0;
    let successes = 0;
    let stop = false;
    const writer = async (write: (n: number) => Promise<void>) => {
      for (let n = 0; !stop; n += 1) {
        try {
          await write(n);
          successes += 1;
        } catch (error) {
          if (!(error instanceof RedisUnavailableError)) throw error;
          failures += 1;
          // Pace the writer while the breaker refuses at once: a partition is not a busy loop.
          await sleep(20);
        }
      }
    };
    const writers = Promise.all([
      writer(async (n) => {
        acked.entries.set(await A.streams.append('ledger', { n }, TENANT), n);
      }),
      writer(async (n) => {
        acked.tasks.set((await A.tasks.enqueue('ledger.post', { n }, TENANT)).id, n);
      }),
      writer(async (n) => {
        const session = await A.sessions.create(`user-${n}`, { step: 1 }, TENANT);
        acked.sessions.set(session.id, 1);
        await A.sessions.update(session.id, { step: 2 });
        acked.sessions.set(session.id, 2);
      }),
    ]);

    const faults: Array<[string, () => void]> = [
      ['cut of the command connection', () => proxy.cut({ role: 'command' })],
      ['freeze of the command connection', () => proxy.freeze({ role: 'command' })],
      ['a 500 ms delay of every connection', () => proxy.delay(500)],
      ['cut of every connection', () => proxy.cut({ instanceId: aId })],
      ['freeze of every connection', () => proxy.freeze()],
      ['a 500 ms delay of the command connection', () => proxy.delay(500, { role: 'command' })],
    ];
    try {
      for (const [label, fault] of faults) {
        const [failed, succeeded] = [failures, successes];
        fault();
        await until(() => failures >= failed + 3, { timeoutMs: RECOVERY_MS, message: `writes failing under ${label}` });
        proxy.restore();
        await until(() => successes >= succeeded + 10, { timeoutMs: RECOVERY_MS, message: `writes acknowledged again after ${label}` });
      }
    } finally {
      stop = true;
      proxy.restore();
      await writers;
    }
    await healthUp(a, 'A up after the flapping');
    expect(acked.entries.size).toBeGreaterThan(0);
    expect(acked.tasks.size).toBeGreaterThan(0);
    expect(acked.sessions.size).toBeGreaterThan(0);

    // Read back through B, which was never cut off.
    const entries = new Map((await readAll(B.streams, 'ledger')).map((entry) => [entry.id, entry.payload.n]));
    const missingEntries = [...acked.entries].filter(([id, n]) => entries.get(id) !== n);
    expect(missingEntries).toEqual([]);
    const missingTasks: TaskId[] = [];
    for (const [id, n] of acked.tasks) {
      const task = await B.tasks.get(id, TENANT);
      if ((task?.payload as { n?: number } | undefined)?.n !== n) missingTasks.push(id);
    }
    expect(missingTasks).toEqual([]);
    const lostSessionWrites: string[] = [];
    for (const [id, step] of acked.sessions) {
      const session = await B.sessions.get<{ step: number }>(id);
      // A write acknowledged as the last one is what the session holds (a later unacknowledged
      // write could only be the update, step 2).
      if (!session || session.data.step < step) lostSessionWrites.push(`${id}: ${JSON.stringify(session?.data)} < step ${step}`);
    }
    expect(lostSessionWrites).toEqual([]);
  });
});
