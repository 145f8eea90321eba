import { InvalidOptionsError } from '../errors/coordination.error.js';
import type { CoreModuleOptions } from '../options/core-options.interface.js';
import { resolveOptions } from '../options/resolve-options.js';
import { bootModule } from '../../../../test/support/boot.js';
import { DEFAULT_TASK_OPTIONS, TaskOptionsSchema, resolveTaskOptions, type ResolvedTaskOptions, type TaskModuleOptions } from './task.options.js';

const SECTION = { key: 'tasks', schema: TaskOptionsSchema, resolve: resolveTaskOptions };
const resolveTasks = (tasks: TaskModuleOptions): ResolvedTaskOptions =>
  resolveOptions({ tasks } as CoreModuleOptions, [SECTION]).sections.tasks as ResolvedTaskOptions;

describe('tasks options', () => {
  it('applies the defaults', () => {
    expect(resolveTasks({})).toEqual(DEFAULT_TASK_OPTIONS);
    expect(resolveTasks({ concurrency: 4, backoff: { type: 'fixed', delayMs: 10 } })).toMatchObject({ concurrency: 4, attempts: 3, backoff: { type: 'fixed', delayMs: 10 } });
  });

  it.each([
    ['concurrency', { concurrency: 0 }],
    ['attempts', { attempts: 1.5 }],
    ['backoff.type', { backoff: { type: 'linear', delayMs: 10 } }],
    ['backoff.delayMs', { backoff: { type: 'fixed', delayMs: -1 } }],
    ['backoff', { backoff: [] }],
    ['backoff', { backoff: 'exponential' }],
    ['backoff', { backoff: 1 }],
    ['lockDurationMs', { lockDurationMs: 999 }],
    ['stalledIntervalMs', { stalledIntervalMs: 999 }],
    ['maxStalledCount', { maxStalledCount: -1 }],
    ['keepCompleted', { keepCompleted: -1 }],
    ['keepFailed', { keepFailed: 'all' }],
    ['shutdownTimeoutMs', { shutdownTimeoutMs: 600_001 }],
    ['unknown', { unknown: true }],
  ])('refuses an invalid %s, naming it', (option, tasks) => {
    const resolve = () => resolveTasks(tasks as TaskModuleOptions);
    expect(resolve).toThrow(InvalidOptionsError);
    expect(resolve).toThrow(new RegExp(`tasks\\.${option.replace('.', '\\.')}`));
  });

  it('fails the application at startup', async () => {
    const boot = bootModule({ driver: 'memory', tasks: { concurrency: 0 } });
    await expect(boot).rejects.toThrow(InvalidOptionsError);
    await expect(boot).rejects.toThrow(/tasks\.concurrency/);
  });
});
