import { randomBytes } from 'node:crypto';
import type { CoordinationModuleOptions } from '@nest-coordination/core';
import { testClusterNodes, testRedisUrl } from '../harness/env.js';

/**
 * The three backends every contract suite runs against: the embedded memory driver, a
 * standalone redis-server and a three-master cluster, all started by the global setup.
 */
export interface DriverCase {
  name: 'memory' | 'standalone' | 'cluster';
  /** Module options for this backend; merge your own on top. */
  options(): CoordinationModuleOptions;
}

export const DRIVERS: DriverCase[] = [
  { name: 'memory', options: () => ({ driver: 'memory' }) },
  { name: 'standalone', options: () => ({ connection: { url: testRedisUrl() } }) },
  { name: 'cluster', options: () => ({ connection: { cluster: testClusterNodes() } }) },
];

/** The Redis-backed drivers only, for tests of Redis-specific behaviour. */
export const REDIS_DRIVERS = DRIVERS.filter((d) => d.name !== 'memory');

/**
 * A key prefix unique to one test, so suites that share the standalone server and the
 * cluster (Jest runs files in parallel) never see each other's keys.
 */
export function uniquePrefix(label = 't'): string {
  return `${label.replace(/[^A-Za-z0-9]/g, '')}${randomBytes(4).toString('hex')}`;
}
