import { ManualClock, systemClock } from '../core/clock.js';
import { sleep, until } from '../../../../test/support/wait.js';
import { WorkerWakeups } from './memory-task-signals.js';

describe('WorkerWakeups', () => {
  let wakeups: WorkerWakeups | undefined;
  afterEach(() => wakeups?.stop());

  it('on the system clock sleeps until the next due time instead of polling', async () => {
    let calls = 0;
    wakeups = new WorkerWakeups(systemClock, () => Date.now() + 60_000);
    wakeups.add(() => void (calls += 1));
    await sleep(300); // a 50 ms poll would wake the worker 5 times meanwhile
    expect(calls).toBe(1);
  });

  it('on the system clock wakes earlier when a task due sooner arrives', async () => {
    let calls = 0;
    let due = Date.now() + 60_000;
    wakeups = new WorkerWakeups(systemClock, () => due);
    wakeups.add(() => void (calls += 1));
    due = Date.now() + 50;
    wakeups.wake();
    await until(() => calls >= 3, { timeoutMs: 5_000, message: 'the wake-up at the sooner due time' });
  });

  it('on a ManualClock looks again while a delayed task waits, so a moved clock is noticed', async () => {
    const clock = new ManualClock(0);
    let calls = 0;
    wakeups = new WorkerWakeups(clock, () => 60_000);
    wakeups.add(() => void (calls += 1));
    await until(() => calls >= 3, { timeoutMs: 5_000, message: 'the worker to be woken again' });
  });
});
