import type { TestingModule } from '@nestjs/testing';
import { LockService, type CoordinationModuleOptions } from '@nest-coordination/core';
import { CoordinationCore } from '../support/internals.js';
// Internals of the locks capability, for tests that reach below LockService.
import { LockKeys } from '../../libs/coordination/src/locks/lock-keys.js';
import { LOCK_STORE, type LockStore } from '../../libs/coordination/src/locks/lock-store.interface.js';
import { bootModule } from '../support/boot.js';
import { uniquePrefix, type DriverCase } from '../support/drivers.js';
import { scanKeys } from '../support/scan-keys.js';
import { until } from '../support/wait.js';

export interface LockTestApp {
  moduleRef: TestingModule;
  locks: LockService;
  core: CoordinationCore;
  store: LockStore;
  keys: LockKeys;
  prefix: string;
  close(): Promise<void>;
}

/** One module instance on `driver`; pass the same `prefix` to make two instances share locks. */
export async function lockTestApp(driver: DriverCase, extra: CoordinationModuleOptions = {}): Promise<LockTestApp> {
  const prefix = extra.prefix ?? uniquePrefix('locks');
  const { moduleRef, core, get, close } = await bootModule({ ...driver.options(), ...extra, prefix, health: { pingIntervalMs: 0 } });
  return {
    moduleRef, core, prefix, close,
    locks: get(LockService),
    store: get<LockStore>(LOCK_STORE),
    keys: new LockKeys(core.keys),
  };
}

/** Resolves once `n` acquisitions of `kind` have been refused at first (i.e. joined the wait queue). */
export async function contended(app: LockTestApp, n: number, kind = 'mutex'): Promise<void> {
  await until(() => app.core.metrics.counter('lock_contended_total', { kind }) >= n, {
    timeoutMs: 10_000, intervalMs: 2, message: `${n} contended ${kind} acquisition(s)`,
  });
}

/** Every key under the app's prefix, from every master (standalone or cluster). */
export function keysUnderPrefix(app: LockTestApp): Promise<string[]> {
  return scanKeys(app.core, `${app.prefix}:*`);
}
