import { fileURLToPath } from 'node:url';
import { uniquePrefix } from '../support/drivers.js';
import { forkWorker, workersOnStandalone } from './worker-process.js';

// Children import the built library: `npm run build:lib` (run by `pretest`) must have run.
const WORKER = fileURLToPath(new URL('./children/shutdown-worker.mjs', import.meta.url));

describe('locks when a holder process gets SIGTERM (standalone Redis)', () => {
  const pool = workersOnStandalone();
  const { workers } = pool;

  it('lets a contender in only after the holder\'s section stopped on its aborted signal: the two never overlap', async () => {
    const prefix = uniquePrefix('mpshut');
    const log = `${prefix}:test-log`;
    const holder = forkWorker(WORKER, { mode: 'holder', prefix, log });
    workers.push(holder);
    await holder.next('entered');
    const contender = forkWorker(WORKER, { mode: 'contender', prefix, log });
    workers.push(contender);
    await contender.next('refused');

    holder.child.kill('SIGTERM');
    await contender.next('done');
    expect(await holder.exited).toEqual({ code: null, signal: 'SIGTERM' });

    expect(await pool.redis.lrange(log, 0, -1)).toEqual([
      'holder:start',
      'holder:aborted:E_LOCK_SHUTDOWN',
      'holder:end',
      'contender:start',
    ]);
    await pool.redis.del(log);
  }, 60_000);
});
