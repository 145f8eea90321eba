import { ManualClock } from '@nest-coordination/core';
import { MemoryStreamStore } from '../../../libs/coordination/src/streams/memory-stream.store.js';
import { RedisStreamStore } from '../../../libs/coordination/src/streams/redis-stream.store.js';
import { StreamKeys } from '../../../libs/coordination/src/streams/stream-keys.js';
import { bootModule } from '../../support/boot.js';
import { DRIVERS, uniquePrefix, type DriverCase } from '../../support/drivers.js';
import { KeyBuilder } from '../../support/internals.js';
import { elapseServerTime } from '../../support/server-clock.js';
import { describeStreamStoreContract, type StreamStoreUnderTest } from './stream-store.contract.js';

/** A memory store on a ManualClock, or a Redis store on the connection of a booted module (its own prefix). */
async function storeFor(driver: DriverCase): Promise<StreamStoreUnderTest> {
  if (driver.name === 'memory') {
    const clock = new ManualClock(1_700_000_000_000);
    return {
      store: new MemoryStreamStore(clock),
      keys: new StreamKeys(new KeyBuilder(uniquePrefix('streamstore'))),
      elapse: async (ms) => clock.advance(ms),
      close: async () => undefined,
    };
  }
  const booted = await bootModule({ ...driver.options(), prefix: uniquePrefix('streamstore'), health: { pingIntervalMs: 0 } });
  const connection = booted.core.connection!;
  return {
    store: new RedisStreamStore(connection),
    keys: new StreamKeys(booted.core.keys),
    elapse: (ms) => elapseServerTime(connection, ms),
    close: () => booted.close(),
  };
}

describe.each(DRIVERS)('StreamStore contract ($name)', (driver) => {
  describeStreamStoreContract(() => storeFor(driver));
});
