import 'reflect-metadata';
import { sendCommand, startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { SENTINEL_MASTER_NAME, startSentinel, startSentinelGroup, type SentinelHandle } from '../harness/redis-sentinel.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { uniquePrefix } from '../support/drivers.js';

// Failover (a promoted replica under load) is tested in test/reliability/sentinel-failover.e2e-spec.ts.
describe('connection through Sentinel', () => {
  let master: RedisServerHandle;
  let sentinel: SentinelHandle | undefined;
  let booted: BootedModule | undefined;

  beforeAll(async () => {
    master = await startRedisServer();
    sentinel = await startSentinel(master, { quorum: 1 });
  });
  afterAll(async () => {
    await booted?.close();
    await sentinel?.stop();
    await master?.stop();
  });

  it('finds the master through the sentinel and runs commands on it', async () => {
    booted = await bootModule({
      prefix: uniquePrefix('sentinel'),
      connection: { sentinels: [{ host: sentinel!.host, port: sentinel!.port }], sentinelName: SENTINEL_MASTER_NAME },
    });
    const connection = booted.core.connection!;
    expect(connection.health()).toMatchObject({ status: 'up', topology: 'sentinel' });
    const key = booted.core.keys.key('acme', 'probe', 'sentinel');
    await connection.execute('set', (c) => c.set(key, 'via-sentinel'));
    // Read straight from the master: the command really went there.
    expect(await sendCommand(master, ['GET', key])).toBe('via-sentinel');
  });
});

describe('the Sentinel group of the test harness', () => {
  it('promotes the replica of a killed master, takes the restarted one back as a replica, and fails over to it again', async () => {
    const group = await startSentinelGroup();
    try {
      const [first, second] = group.servers;
      expect(await group.master()).toBe(first);
      await sendCommand(first, ['SET', 'kept', '1']);
      await group.replicated();
      const { killed, promoted } = await group.killMaster();
      expect([killed, promoted]).toEqual([first, second]);
      expect(await sendCommand(second, ['GET', 'kept'])).toBe('1');
      await group.rejoin(first);
      expect(await group.replica()).toBe(first);
      await sendCommand(second, ['SET', 'kept', '2']);
      await group.replicated();
      expect(await group.failover()).toBe(first);
      expect(await sendCommand(first, ['GET', 'kept'])).toBe('2');
    } finally {
      await group.stop();
    }
  }, 60_000);
});
