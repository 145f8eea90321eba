import { ManualClock } from '@nest-coordination/core';
import { MemoryTaskBackend } from '../../libs/coordination/src/tasks/memory-task.backend.js';
import { RedisTaskBackend } from '../../libs/coordination/src/tasks/redis-task.backend.js';
import { resolveTaskOptions, type TaskModuleOptions } from '../../libs/coordination/src/tasks/task.options.js';
import { describeTaskBackendContract, type TaskBackendUnderTest } from '../contract/stores/task-backend.contract.js';
import { bootModule } from '../support/boot.js';
import { DRIVERS, uniquePrefix, type DriverCase } from '../support/drivers.js';
import { scanKeys } from '../support/scan-keys.js';

/** A memory backend on a ManualClock, or a Redis backend on the core of a booted module (its own prefix). */
async function backendFor(driver: DriverCase, options?: TaskModuleOptions): Promise<TaskBackendUnderTest> {
  const resolved = resolveTaskOptions(options);
  if (driver.name === 'memory') {
    const clock = new ManualClock(1_700_000_000_000);
    const backend = new MemoryTaskBackend(clock, resolved);
    return { backend, elapse: async (ms) => clock.advance(ms), close: () => backend.close(1_000) };
  }
  const prefix = uniquePrefix('taskbackend');
  const booted = await bootModule({ ...driver.options(), prefix, health: { pingIntervalMs: 0 } });
  const backend = new RedisTaskBackend(booted.core, resolved);
  return {
    backend,
    elapse: async () => undefined,
    close: async () => {
      await backend.close(1_000);
      // The fairness case leaves thousands of tasks queued: drop every key of this backend.
      // A few hundred at a time: ten thousand UNLINKs at once overran the command timeout on a
      // loaded machine (a rejected cleanup fails the whole suite).
      const client = booted.core.connection!.client;
      const keys = await scanKeys(booted.core, `${prefix}:*`);
      for (let from = 0; from < keys.length; from += 200) await Promise.all(keys.slice(from, from + 200).map((key) => client.unlink(key)));
      await booted.close();
    },
  };
}

describe.each(DRIVERS)('TaskBackend contract ($name)', (driver) => {
  describeTaskBackendContract((options) => backendFor(driver, options));
});
