import { createHook } from 'node:async_hooks';
import { until } from './wait.js';

/**
 * Runs `work` (a close, a stop) and fails unless every timer it created and left running is
 * gone within `timeoutMs` (fired or cleared), or does not hold the process (unref'd): a timer
 * left behind keeps Node alive after the application closed ("Jest did not exit one second
 * after the test run"). The failure lists where each remaining timer was created.
 *
 * @example
 * await server.kill();
 * await expectNoTimersLeftBy(() => app.close());
 */
export async function expectNoTimersLeftBy(work: () => Promise<unknown>, timeoutMs = 1_000): Promise<void> {
  const live = new Map<number, { timer: NodeJS.Timeout; stack: string }>();
  const hook = createHook({
    init(id, type, _trigger, resource) {
      if (type === 'Timeout') live.set(id, { timer: resource as NodeJS.Timeout, stack: new Error().stack ?? '' });
    },
    destroy(id) {
      live.delete(id);
    },
  });
  hook.enable();
  try {
    await work();
    const created = new Set(live.keys()); // not the timers of the wait below
    const holding = () => [...live].filter(([id, { timer }]) => created.has(id) && timer.hasRef()).map(([, { stack }]) => stack);
    await until(() => holding().length === 0, {
      timeoutMs,
      message: () => `the timers it left behind to go:\n${holding().map((stack) => stack.split('\n').slice(2, 10).join('\n')).join('\n---\n')}`,
    });
  } finally {
    hook.disable();
  }
}
