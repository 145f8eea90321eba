import { Test } from '@nestjs/testing';
import { CoordinationCore, CoordinationModule, type CoordinationModuleOptions } from '@nest-coordination/core';
import { uniquePrefix } from './drivers.js';

export interface BootedCore {
  core: CoordinationCore;
  close(): Promise<void>;
}

/** Boots a silent module instance with `options` (on a unique key prefix) and returns its core. */
export async function bootCore(options: CoordinationModuleOptions): Promise<BootedCore> {
  const moduleRef = await Test.createTestingModule({
    imports: [CoordinationModule.forRoot({ prefix: uniquePrefix('conn'), ...options })],
  })
    .setLogger({ log() {}, error() {}, warn() {}, debug() {}, verbose() {} })
    .compile();
  await moduleRef.init();
  return { core: moduleRef.get(CoordinationCore), close: () => moduleRef.close() };
}
