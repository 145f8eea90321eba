/**
 * Parses the `field:value` text that Redis returns for INFO and CLUSTER INFO. Section
 * headers (`# Memory`) and blank lines are skipped; values stay strings because INFO mixes
 * numbers, sizes and enums.
 *
 * @example
 * parseRedisInfo('# Replication\r\nrole:master\r\n').role; // 'master'
 */
export function parseRedisInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = Object.create(null);
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}

/** Memory use of one Redis node, from INFO memory. */
export interface MemoryUsage {
  usedBytes: number;
  /** 0 means no limit. */
  maxBytes: number;
  /** Present only when `maxBytes` > 0. */
  usedPercent?: number;
  maxmemoryPolicy?: string;
  /** `host:port` of the node, for a cluster (the fullest master is reported). */
  node?: string;
}

export function memoryUsageOf(info: Record<string, string>, node?: string): MemoryUsage {
  const usedBytes = Number(info.used_memory ?? 0);
  const maxBytes = Number(info.maxmemory ?? 0);
  const usage: MemoryUsage = { usedBytes, maxBytes };
  if (maxBytes > 0) usage.usedPercent = Math.round((usedBytes / maxBytes) * 1000) / 10;
  if (info.maxmemory_policy !== undefined) usage.maxmemoryPolicy = info.maxmemory_policy;
  if (node !== undefined) usage.node = node;
  return usage;
}

/** The node closest to its limit; without limits, the one using the most memory. */
export function fullestNode(usages: MemoryUsage[]): MemoryUsage | undefined {
  const ratio = (u: MemoryUsage) => (u.maxBytes > 0 ? u.usedBytes / u.maxBytes : -1 / (1 + u.usedBytes));
  return usages.reduce<MemoryUsage | undefined>((worst, u) => (worst === undefined || ratio(u) > ratio(worst) ? u : worst), undefined);
}

/** The CLUSTER INFO fields a health check cares about. */
export interface ClusterState {
  state: string;
  slotsAssigned: number;
  slotsOk: number;
  slotsFail: number;
  knownNodes: number;
  size: number;
}

export function clusterStateOf(info: Record<string, string>): ClusterState {
  return {
    state: info.cluster_state ?? 'unknown',
    slotsAssigned: Number(info.cluster_slots_assigned ?? 0),
    slotsOk: Number(info.cluster_slots_ok ?? 0),
    slotsFail: Number(info.cluster_slots_fail ?? 0),
    knownNodes: Number(info.cluster_known_nodes ?? 0),
    size: Number(info.cluster_size ?? 0),
  };
}
