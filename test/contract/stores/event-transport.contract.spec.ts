import { RedisConnection } from '../../../libs/coordination/src/connection/redis-connection.js';
import { MemoryEventTransport } from '../../../libs/coordination/src/events/memory-event.transport.js';
import { RedisEventTransport } from '../../../libs/coordination/src/events/redis-event.transport.js';
import { resolveOptions } from '../../../libs/coordination/src/options/resolve-options.js';
import { adminClients, closeAll, subscriberCounts } from '../../events/pubsub-admin.js';
import { DRIVERS, uniquePrefix, type DriverCase } from '../../support/drivers.js';
import { describeEventTransportContract, type EventTransportCase, type TransportUnderTest } from './event-transport.contract.js';

/** A RedisEventTransport on its own RedisConnection, seen through its subscriber connection in CLIENT LIST. */
async function redisTransport(driver: DriverCase): Promise<TransportUnderTest> {
  const instanceId = uniquePrefix('evtransport');
  // No background PING: nothing but the suite's own commands on the connection.
  const connection = new RedisConnection(resolveOptions({ ...driver.options(), instanceId, health: { pingIntervalMs: 0 } }));
  await connection.connect();
  const transport = new RedisEventTransport(connection);
  const admins = adminClients(driver);
  return {
    transport,
    async serverSubscriptions() {
      const { sub, psub } = await subscriberCounts(admins, instanceId);
      return { channels: sub, patterns: psub };
    },
    async close() {
      await transport.drain();
      await connection.close();
      closeAll(admins);
    },
  };
}

function caseFor(driver: DriverCase): EventTransportCase {
  if (driver.name === 'memory') {
    return {
      name: driver.name,
      sharedBus: false,
      createTransport: async () => ({ transport: new MemoryEventTransport(), close: async () => undefined }),
    };
  }
  return { name: driver.name, sharedBus: true, createTransport: () => redisTransport(driver) };
}

describe.each(DRIVERS)('EventTransport contract ($name)', (driver) => {
  describeEventTransportContract(caseFor(driver));
});
