import { sendCommand, type RedisNodeAddress } from '../../test/harness/redis-server.js';

/** Running totals of one or more redis-servers (a cluster's masters summed), from INFO. */
export interface NodeCounters {
  /** used_cpu_user + used_cpu_sys, µs. */
  cpuUs: number;
  /** total_net_input_bytes (requests) and total_net_output_bytes (replies, pub/sub deliveries). */
  netInBytes: number;
  netOutBytes: number;
  /** total_commands_processed (a script counts as one, its redis.call()s as more). */
  commands: number;
  /** connected_clients of the busiest node, and the lowest maxclients among the nodes. */
  clients: number;
  maxClients: number;
}

const field = (info: string, name: string): number => {
  const match = new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info);
  if (!match) throw new Error(`INFO has no ${name}`);
  return Number(match[1]);
};

/** The counters now, summed over `nodes` (INFO over a fresh socket per node: never queued behind the load). */
export async function readCounters(nodes: readonly RedisNodeAddress[]): Promise<NodeCounters> {
  const infos = await Promise.all(nodes.map((node) => sendCommand(node, ['INFO', 'stats', 'cpu', 'clients'], 5_000)));
  const sum = (of: (info: string) => number): number => infos.reduce((total, info) => total + of(info), 0);
  return {
    cpuUs: Math.round(sum((info) => field(info, 'used_cpu_user') + field(info, 'used_cpu_sys')) * 1e6),
    netInBytes: sum((info) => field(info, 'total_net_input_bytes')),
    netOutBytes: sum((info) => field(info, 'total_net_output_bytes')),
    commands: sum((info) => field(info, 'total_commands_processed')),
    clients: Math.max(...infos.map((info) => field(info, 'connected_clients'))),
    maxClients: Math.min(...infos.map((info) => field(info, 'maxclients'))),
  };
}
