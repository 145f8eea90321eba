import type { CoordinationCore } from './internals.js';

/**
 * Every key matching `pattern` on every master (one node on standalone, each master of a
 * cluster), sorted. SCAN, never KEYS; empty on the memory driver.
 */
export async function scanKeys(core: CoordinationCore, pattern: string): Promise<string[]> {
  const client = core.connection?.client;
  if (!client) return [];
  const nodes = 'nodes' in client && typeof client.nodes === 'function' ? client.nodes('master') : [client];
  const found: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
      cursor = next;
      found.push(...batch);
    } while (cursor !== '0');
  }
  return found.sort();
}
