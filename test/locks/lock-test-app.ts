import { Test, type TestingModule } from '@nestjs/testing';
import {
  CoordinationCore, CoordinationModule, LOCK_STORE, LockKeys, LockService,
  type CoordinationModuleOptions, type LockStore,
} from '@nest-coordination/core';
import { uniquePrefix, type DriverCase } from '../support/drivers.js';
import { scanKeys } from '../support/scan-keys.js';

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
  const moduleRef = await Test.createTestingModule({
    imports: [CoordinationModule.forRoot({ ...driver.options(), ...extra, prefix, health: { pingIntervalMs: 0 } })],
  }).compile();
  await moduleRef.init();
  const core = moduleRef.get(CoordinationCore);
  return {
    moduleRef, core, prefix,
    locks: moduleRef.get(LockService),
    store: moduleRef.get<LockStore>(LOCK_STORE),
    keys: new LockKeys(core.keys),
    close: () => moduleRef.close(),
  };
}

/** Resolves once `n` acquisitions of `kind` have been refused at first (i.e. joined the wait queue). */
export async function contended(app: LockTestApp, n: number, kind = 'mutex'): Promise<void> {
  while (app.core.metrics.counter('lock_contended_total', { kind }) < n) await sleep(2);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every key under the app's prefix, from every master (standalone or cluster). */
export function keysUnderPrefix(app: LockTestApp): Promise<string[]> {
  return scanKeys(app.core, `${app.prefix}:*`);
}
