import { clusterStateOf, fullestNode, memoryUsageOf, parseRedisInfo } from './redis-info.parser.js';

describe('parseRedisInfo', () => {
  it('reads field:value lines and skips section headers and blank lines', () => {
    const info = parseRedisInfo('# Replication\r\nrole:master\r\nconnected_slaves:0\r\n\r\n# Memory\r\nused_memory_human:1.02M\r\n');
    expect({ ...info }).toEqual({ role: 'master', connected_slaves: '0', used_memory_human: '1.02M' });
  });

  it('keeps colons inside values and cannot be polluted through field names', () => {
    const info = parseRedisInfo('executable:/usr/bin/redis-server\n__proto__:polluted\n');
    expect(info.executable).toBe('/usr/bin/redis-server');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(info)).toBeNull();
  });
});

describe('memoryUsageOf', () => {
  it('gives a percentage only when maxmemory is set', () => {
    expect(memoryUsageOf({ used_memory: '512', maxmemory: '2048', maxmemory_policy: 'noeviction' })).toEqual({
      usedBytes: 512, maxBytes: 2048, usedPercent: 25, maxmemoryPolicy: 'noeviction',
    });
    expect(memoryUsageOf({ used_memory: '512', maxmemory: '0' })).toEqual({ usedBytes: 512, maxBytes: 0 });
  });
});

describe('fullestNode', () => {
  it('picks the node closest to its limit, and a limited node over unlimited ones', () => {
    const a = { usedBytes: 900, maxBytes: 1000, node: 'a' };
    const b = { usedBytes: 100, maxBytes: 0, node: 'b' };
    const c = { usedBytes: 500, maxBytes: 1000, node: 'c' };
    expect(fullestNode([c, b, a])?.node).toBe('a');
    expect(fullestNode([b, { usedBytes: 700, maxBytes: 0, node: 'd' }])?.node).toBe('d');
    expect(fullestNode([])).toBeUndefined();
  });
});

describe('clusterStateOf', () => {
  it('reads state, slots and nodes from CLUSTER INFO', () => {
    const info = parseRedisInfo('cluster_state:fail\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:10923\r\ncluster_slots_fail:5461\r\ncluster_known_nodes:3\r\ncluster_size:3\r\n');
    expect(clusterStateOf(info)).toEqual({ state: 'fail', slotsAssigned: 16384, slotsOk: 10923, slotsFail: 5461, knownNodes: 3, size: 3 });
  });
});
