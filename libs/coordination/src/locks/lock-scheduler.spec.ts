import { DUE, LockScheduler } from './lock-scheduler.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `done()` (bounded far above any due time here): no assertion depends on how fast timers fire. */
async function until(done: () => boolean, boundMs = 5_000): Promise<void> {
  const deadline = performance.now() + boundMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error('condition not reached');
    await sleep(2);
  }
}

describe('LockScheduler', () => {
  it('runs due tasks on one shared timer, never a cancelled one, and lets a task reschedule itself', async () => {
    const scheduler = new LockScheduler();
    const runs: string[] = [];
    const again = { [DUE]: () => { runs.push('again'); if (runs.filter((r) => r === 'again').length < 2) scheduler.schedule(again, 5, true); } };
    const kept = { [DUE]: () => runs.push('kept') };
    const cancelled = { [DUE]: () => runs.push('cancelled') };
    scheduler.schedule(kept, 20, false);
    scheduler.schedule(cancelled, 10, true);
    scheduler.schedule(again, 1, true);
    scheduler.cancel(cancelled);
    expect(scheduler.size).toBe(2);
    // The cancelled task was due before `kept`: had it survived, it would have run by then.
    await until(() => runs.length >= 3 && scheduler.size === 0);
    expect(runs.sort()).toEqual(['again', 'again', 'kept']);
    expect(scheduler.size).toBe(0);
  });

  it('keeps the other tasks running when one throws, and never runs a task before its time when rounding up', async () => {
    const scheduler = new LockScheduler();
    const ranAt: number[] = [];
    const start = performance.now();
    scheduler.schedule({ [DUE]: () => { throw new Error('boom'); } }, 5, false);
    scheduler.schedule({ [DUE]: () => ranAt.push(performance.now() - start) }, 30, false);
    await until(() => scheduler.size === 0);
    expect(ranAt).toHaveLength(1);
    expect(ranAt[0]).toBeGreaterThanOrEqual(29);
  });

  it('re-arms for an earlier task than the one the timer waits for', async () => {
    const scheduler = new LockScheduler();
    const runs: string[] = [];
    scheduler.schedule({ [DUE]: () => runs.push('late') }, 10_000, false);
    scheduler.schedule({ [DUE]: () => runs.push('early') }, 5, true);
    // Bounded well below the late task's 10 s: only a re-armed timer can run `early` in time.
    await until(() => runs.length > 0, 5_000);
    expect(runs).toEqual(['early']);
    scheduler.clear();
    expect(scheduler.size).toBe(0);
  });
});
