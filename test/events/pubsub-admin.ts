import { Cluster, Redis } from 'ioredis';
import { testClusterNodes, testRedisUrl } from '../harness/env.js';
import type { DriverCase } from '../support/drivers.js';

// Looks at pub/sub from the server's side. Nothing here loads the library, so store-level
// suites can use it without booting a module.

/** Raw admin clients on every node of the driver's backend, for PUBSUB / CLIENT LIST checks. */
export function adminClients(driver: DriverCase): Redis[] {
  const urls = driver.name === 'cluster' ? testClusterNodes().map((n) => `redis://${n.host}:${n.port}`) : [testRedisUrl()];
  return urls.map((url) => new Redis(url, { maxRetriesPerRequest: 1 }));
}

/** Subscribers of `channel` summed over every node (a cluster subscriber sits on any one node). */
export async function numsub(admins: Redis[], channel: string): Promise<number> {
  let total = 0;
  for (const admin of admins) {
    const reply = (await admin.call('PUBSUB', 'NUMSUB', channel)) as [string, number];
    total += Number(reply[1]);
  }
  return total;
}

/**
 * Channels and patterns the subscriber connection(s) of one instance hold, from CLIENT LIST
 * (`sub=` / `psub=`). PUBSUB NUMPAT counts every client of the server, and other test files
 * share it, so it cannot isolate one instance's patterns.
 */
export async function subscriberCounts(admins: Redis[], instanceId: string): Promise<{ sub: number; psub: number }> {
  const counts = { sub: 0, psub: 0 };
  for (const admin of admins) {
    const list = (await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
    for (const line of list.split('\n')) {
      if (!line.includes(`coord:${instanceId}:subscriber`)) continue;
      counts.sub += Number(/ sub=(\d+)/.exec(line)?.[1] ?? 0);
      counts.psub += Number(/ psub=(\d+)/.exec(line)?.[1] ?? 0);
    }
  }
  return counts;
}

/** Disconnects `clients` (and empties the array). */
export function closeAll(clients: Array<Redis | Cluster>): void {
  for (const client of clients.splice(0)) client.disconnect();
}
