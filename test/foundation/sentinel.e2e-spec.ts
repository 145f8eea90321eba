import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort, sendCommand, startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';

/** A private Sentinel watching `master`; the harness has no Sentinel, and it needs a writable config file. */
async function startSentinel(master: RedisServerHandle): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await findFreePort();
  const dir = mkdtempSync(join(tmpdir(), 'coord-sentinel-'));
  const config = join(dir, 'sentinel.conf');
  writeFileSync(config, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor coordmaster 127.0.0.1 ${master.port} 1`, ''].join('\n'));
  const child: ChildProcess = spawn('redis-server', [config, '--sentinel'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async () => {
    process.off('exit', killOnExit);
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const pong = async () => (await sendCommand({ host: '127.0.0.1', port }, ['PING']).catch(() => '')) === 'PONG';
    await until(pong, { timeoutMs: 10_000, intervalMs: 50, message: `the sentinel on port ${port} to answer PING` });
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, stop };
}

describe('connection through Sentinel', () => {
  let master: RedisServerHandle;
  let sentinel: Awaited<ReturnType<typeof startSentinel>> | undefined;
  let booted: BootedModule | undefined;

  beforeAll(async () => {
    master = await startRedisServer();
    sentinel = await startSentinel(master);
  });
  afterAll(async () => {
    await booted?.close();
    await sentinel?.stop();
    await master?.stop();
  });

  it('finds the master through the sentinel and runs commands on it', async () => {
    booted = await bootModule({
      prefix: uniquePrefix('sentinel'),
      connection: { sentinels: [{ host: '127.0.0.1', port: sentinel!.port }], sentinelName: 'coordmaster' },
    });
    const connection = booted.core.connection!;
    expect(connection.health()).toMatchObject({ status: 'up', topology: 'sentinel' });
    const key = booted.core.keys.key('acme', 'probe', 'sentinel');
    await connection.execute('set', (c) => c.set(key, 'via-sentinel'));
    // Read straight from the master: the command really went there.
    expect(await sendCommand(master, ['GET', key])).toBe('via-sentinel');
  });
});
