import { Redis } from 'ioredis';
import { RedisUnavailableError } from '@nest-coordination/core';
import { LockKeys } from '../../libs/coordination/src/locks/lock-keys.js';
import type { MutexKeys, MutexRequest } from '../../libs/coordination/src/locks/lock-store.interface.js';
import { RedisLockStore } from '../../libs/coordination/src/locks/redis-lock.store.js';
import { beginSlotMigration, masterOf, nodeCommand, otherMaster, slotOf, type SlotMigration } from '../harness/cluster-ops.js';
import { startRedisCluster, type RedisClusterHandle, type RedisNodeAddress } from '../harness/redis-server.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';

/**
 * The mutex scripts while the slot of a lock migrates. Redis runs a script only when the node
 * has every key it declares (else TRYAGAIN / ASK: nothing ran), but stops it at the first
 * command on a key the script itself removed (on the source: any command; on the target: a
 * multi-key one) and keeps what it wrote before: a release that deleted the lock and then wrote
 * it for the next waiter lost the lock and the waiter's place. Each case holds the slot open in
 * one state (none, some or all of the lock's keys moved) and checks that a call either completes
 * as it would without a migration, or fails typed having changed no key (compared by DUMP and
 * PEXPIRETIME), and that it completes once the migration is over.
 *
 * Store calls, not the service: no heartbeat or renewal changes the keys between two snapshots.
 * One private cluster (3 masters) for the file; each case uses its own lock.
 */
describe('lock scripts while the slot of the lock migrates', () => {
  let cluster: RedisClusterHandle;
  let app: BootedModule;
  let store: RedisLockStore;
  let lockKeys: LockKeys;
  let migration: SlotMigration | undefined;

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    app = await bootModule({ prefix: uniquePrefix('cls'), connection: { cluster: cluster.nodes }, health: { pingIntervalMs: 0 } });
    store = new RedisLockStore(app.core.connection!);
    lockKeys = new LockKeys(app.core.keys);
  }, 60_000);

  afterEach(() => finishMigration());

  afterAll(async () => {
    await app?.close();
    await cluster?.stop();
  });

  const keysOf = (resource: string): MutexKeys => lockKeys.mutex('acme', resource);
  const allKeys = (k: MutexKeys): string[] => [k.lock, k.fence, k.queue, k.queueExp, k.queueSeq];

  /** A waiter's attempt (acquire.lua; the first holder takes the free lock with it too). */
  const request = (token: string, leaseMs = 60_000): MutexRequest => ({
    token, owner: token, ttlMs: 60_000, reentrant: false, enqueue: true, priority: 0, leaseMs, queued: true,
  });

  async function holdWithWaiters(k: MutexKeys, waiters: string[]): Promise<void> {
    expect(await store.acquireMutex(k, request('holder'))).toMatchObject({ acquired: true });
    for (const [i, w] of waiters.entries()) expect(await store.acquireMutex(k, request(w))).toMatchObject({ acquired: false, position: i });
  }

  /** Opens the migration of the lock's slot to another master; `move`: keys MIGRATEd to it now. */
  async function migrate(k: MutexKeys, move: string[] = []): Promise<SlotMigration> {
    const slot = await slotOf(cluster, k.lock);
    migration = await beginSlotMigration(cluster, slot, await otherMaster(cluster, await masterOf(cluster, slot)));
    const { from, to } = migration;
    if (move.length > 0) expect(await nodeCommand(from, 'MIGRATE', to.host, to.port, '', 0, 5_000, 'KEYS', ...move)).toBe('OK');
    return migration;
  }

  /** Ends the open migration. inspect.lua declares the lock and its queue-exp key: with no queue left it gets TRYAGAIN until then. */
  async function finishMigration(): Promise<void> {
    await migration?.finish();
    migration = undefined;
  }

  /** Every key of the lock as stored (DUMP, expiry), read from the node holding it (the target with ASKING). */
  async function snapshot(m: SlotMigration, k: MutexKeys): Promise<Record<string, string>> {
    const state: Record<string, string> = {};
    for (const key of allKeys(k)) {
      let node: RedisNodeAddress = m.from;
      let asking = false;
      let dump = await onNode(node, asking, 'DUMP', key).catch((error: Error) => error);
      if (dump instanceof Error && dump.message.startsWith('ASK ')) {
        [node, asking] = [m.to, true];
        dump = await onNode(node, asking, 'DUMP', key);
      }
      if (dump instanceof Error) throw dump;
      const expiresAt = await onNode(node, asking, 'PEXPIRETIME', key);
      state[key] = `${node.port} ${dump === null ? 'missing' : (dump as Buffer).toString('hex')} ${String(expiresAt)}`;
    }
    return state;
  }

  it('hands the lock to the next waiter in one piece while none of its keys has moved yet', async () => {
    const k = keysOf('none-moved');
    await holdWithWaiters(k, ['w1', 'w2']);
    await migrate(k);
    expect(await store.releaseMutex(k, 'holder')).toBe('released');
    expect(await store.inspectMutex(k)).toMatchObject({ holder: { owner: 'w1' }, waiters: 1 });
  }, 30_000);

  it('hands the lock to its only waiter, deleting the queue, while none of its keys has moved yet', async () => {
    const k = keysOf('none-moved-one');
    await holdWithWaiters(k, ['w1']);
    const m = await migrate(k);
    expect(await store.releaseMutex(k, 'holder')).toBe('released');
    const state = await snapshot(m, k);
    expect([k.queue, k.queueExp, k.queueSeq].map((key) => state[key].split(' ')[1])).toEqual(['missing', 'missing', 'missing']);
    await finishMigration();
    expect(await store.inspectMutex(k)).toMatchObject({ holder: { owner: 'w1' }, waiters: 0 });
  }, 30_000);

  it('hands the lock to its only waiter on the target, once every key moved before the slot did', async () => {
    const k = keysOf('all-moved');
    await holdWithWaiters(k, ['w1']);
    const m = await migrate(k, allKeys(k));
    // The source answers ASK; the client runs the script on the target (ASKING).
    expect(await store.releaseMutex(k, 'holder')).toBe('released');
    const state = await snapshot(m, k);
    expect(state[k.lock].split(' ')[0]).toBe(String(m.to.port));
    await finishMigration();
    expect(await store.inspectMutex(k)).toMatchObject({ holder: { owner: 'w1' }, waiters: 0 });
  }, 30_000);

  it('lets a waiter alone in the queue leave it while the slot migrates', async () => {
    const k = keysOf('leave-alone');
    await holdWithWaiters(k, ['w1']);
    await migrate(k);
    expect(await store.leaveQueue(k, { token: 'w1', ttlMs: 60_000, owner: 'w1' })).toBeNull();
    await finishMigration();
    expect(await store.inspectMutex(k)).toMatchObject({ holder: { owner: 'holder' }, waiters: 0 });
  }, 30_000);

  it('queues a new waiter behind a waiter whose lease ran out while the slot migrates', async () => {
    const k = keysOf('dead-waiter');
    // The queue keys live as long as the longest lease given: `keeper` keeps them once `dying` is dead.
    await holdWithWaiters(k, ['keeper']);
    expect(await store.acquireMutex(k, request('dying', 300))).toMatchObject({ acquired: false, position: 1 });
    expect(await store.leaveQueue(k, { token: 'keeper', ttlMs: 60_000, owner: 'keeper' })).toBeNull();
    await until(async () => (await store.inspectMutex(k)).waiters === 0, { timeoutMs: 5_000, message: 'the lease of the waiter to run out' });
    await migrate(k);
    expect(await store.acquireMutex(k, request('late'))).toMatchObject({ acquired: false, position: 0 });
    expect(await store.releaseMutex(k, 'holder')).toBe('released');
    await finishMigration();
    expect(await store.inspectMutex(k)).toMatchObject({ holder: { owner: 'late' }, waiters: 0 });
  }, 30_000);

  it('fails every queue call typed with no key changed while only some keys moved, and serves them after the migration', async () => {
    const k = keysOf('some-moved');
    await holdWithWaiters(k, ['w1', 'w2']);
    const m = await migrate(k, [k.lock]);
    const before = await snapshot(m, k);
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['release', () => store.releaseMutex(k, 'holder')],
      ['acquire', () => store.acquireMutex(k, request('w3'))],
      ['heartbeat', () => store.heartbeat(k, { token: 'w1', ttlMs: 60_000, owner: 'w1' }, 60_000)],
      ['leave', () => store.leaveQueue(k, { token: 'w2', ttlMs: 60_000, owner: 'w2' })],
    ];
    for (const [name, call] of calls) {
      const error = await call().then(() => `${name} succeeded`, (e: unknown) => e);
      expect(error).toBeInstanceOf(RedisUnavailableError);
      expect(await snapshot(m, k)).toEqual(before);
    }
    await finishMigration();
    expect(await store.releaseMutex(k, 'holder')).toBe('released');
    expect(await store.inspectMutex(k)).toMatchObject({ holder: { owner: 'w1' }, waiters: 1 });
  }, 40_000);
});

/** One command on one node over a fresh connection, after ASKING when `asking` (a key of an importing slot). */
async function onNode(node: RedisNodeAddress, asking: boolean, command: string, key: string): Promise<unknown> {
  const redis = new Redis({ host: node.host, port: node.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    if (asking) await redis.call('ASKING');
    return command === 'DUMP' ? await redis.callBuffer(command, key) : await redis.call(command, key);
  } finally {
    redis.disconnect();
  }
}
