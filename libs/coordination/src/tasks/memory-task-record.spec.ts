import { Backoffs } from 'bullmq';
import { backoffDelay } from './memory-task-record.js';
import type { TaskBackoff } from './task.types.js';

describe('backoffDelay', () => {
  it.each<TaskBackoff>([
    { type: 'fixed', delayMs: 1_000 },
    { type: 'fixed', delayMs: 0 },
    { type: 'exponential', delayMs: 1_000 },
    { type: 'exponential', delayMs: 333 },
    // Not a valid option (delays are integers), but it shows the rounding is BullMQ's.
    { type: 'exponential', delayMs: 1.3 },
  ])('waits what BullMQ waits after attempts 1..5 with %j', (backoff) => {
    for (let failed = 1; failed <= 5; failed += 1) {
      expect(backoffDelay(backoff, failed)).toBe(Backoffs.calculate({ type: backoff.type, delay: backoff.delayMs }, failed, new Error('x'), undefined as never));
    }
  });
});
