import { fileURLToPath } from 'node:url';
import { StreamService, type StreamConsumeOptions } from '@nest-coordination/core';
import { Cluster, Redis } from 'ioredis';
import { StreamKeys } from '../../libs/coordination/src/streams/stream-keys.js';
import { testClusterNodes, testRedisUrl } from '../harness/env.js';
import { forkWorker, killWorker, type WorkerProcess } from '../locks/worker-process.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { assertFreshBuild } from '../support/stale-build.js';
import { uniquePrefix, type DriverCase } from '../support/drivers.js';

// Children import @nest-coordination/core from libs/coordination/dist (`npm run build:lib`).
const CHILD = fileURLToPath(new URL('./children/stream-consumer.child.mjs', import.meta.url));

/**
 * The stream, group and tenant every process of a fleet works on.
 *
 * @example
 * await fleet.streams.pending(STREAM, GROUP, { tenant: TENANT });
 */
export const STREAM = 'jobs';
export const GROUP = 'workers';
export const TENANT = 'acme';

/**
 * What a consumer process's handler does besides recording (see children/stream-consumer.child.mjs).
 *
 * @example
 * fleet.fork({ consumer: 'victim', stallAfter: 3 }, { claimIdleMs: 1_000 });
 */
export interface ChildBehaviour {
  consumer: string;
  /** Record this many entries, then stall in the handler forever (report `stalled`). */
  stallAfter?: number;
  /** Handlers wait for a `go` message. */
  gated?: boolean;
  /** Count handlers of one entry running at once (`overlaps`). */
  exclusive?: boolean;
  /** Hold each entry this long before recording it. */
  holdMs?: number;
  /** Payload numbers whose handler throws (recorded in `attempts`). */
  poison?: number[];
}

/**
 * What a consumer process recorded for an entry.
 *
 * @example
 * const redelivered = (await fleet.records()).filter((r: HandledRecord) => r.deliveries > 1);
 */
export interface HandledRecord {
  id: string;
  n: number;
  consumer: string;
  deliveries: number;
}

/**
 * Consumer processes of one stream on one backend (standalone or cluster), and the parent's own
 * module on the same prefix to append and inspect. Records of the processes live under one hash
 * tag (`<prefix>:{test}:*`), read with `redis`.
 *
 * @example
 * const fleet = await StreamFleet.start(driver);
 * await fleet.append(20);
 * fleet.fork({ consumer: 'c1' }, { claimIdleMs: 1_000 });
 */
export class StreamFleet {
  readonly workers: WorkerProcess[] = [];

  private constructor(
    private readonly driver: DriverCase,
    private readonly booted: BootedModule,
    readonly redis: Redis | Cluster,
    readonly prefix: string,
  ) {}

  /** Fails naming the stale files when dist/streams is older than its sources: the children would run old code. */
  static async start(driver: DriverCase): Promise<StreamFleet> {
    assertFreshBuild('streams', 'the consumer processes');
    const prefix = uniquePrefix('streamfleet');
    const booted = await bootModule({ ...driver.options(), prefix, health: { pingIntervalMs: 0 } });
    const redis = driver.name === 'cluster' ? new Cluster(testClusterNodes()) : new Redis(testRedisUrl());
    return new StreamFleet(driver, booted, redis, prefix);
  }

  get streams(): StreamService {
    return this.booted.get(StreamService);
  }

  /** The Redis key of the stream (for raw XPENDING checks). */
  get streamKey(): string {
    return new StreamKeys(this.booted.core.keys).of(TENANT, STREAM).stream;
  }

  /** A key of the processes' records. */
  key(name: string): string {
    return `${this.keys}:${name}`;
  }

  /** The base of the records' keys, one hash tag. */
  private get keys(): string {
    return `${this.prefix}:{test}`;
  }

  /** Appends entries `{ n: 0 }` … `{ n: count - 1 }` and returns their ids in order. */
  async append(count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let n = 0; n < count; n++) ids.push(await this.streams.append(STREAM, { n }, { tenant: TENANT }));
    return ids;
  }

  /** Forks a consumer process of the group; it is killed by close() if still running. */
  fork(behaviour: ChildBehaviour, consume: StreamConsumeOptions): WorkerProcess {
    const cluster = this.driver.name === 'cluster' ? { cluster: testClusterNodes() } : {};
    const worker = forkWorker(CHILD, { ...cluster, ...behaviour, prefix: this.prefix, keys: this.keys, stream: STREAM, group: GROUP, tenant: TENANT, consume });
    this.workers.push(worker);
    return worker;
  }

  /** The entries the processes' handlers recorded (succeeded), in order. */
  records(list: 'records' | 'attempts' = 'records'): Promise<HandledRecord[]> {
    return this.redis.lrange(this.key(list), 0, -1).then((items) => items.map((item) => JSON.parse(item) as HandledRecord));
  }

  /** Whether the group has handled and acknowledged every entry appended so far. */
  async settled(): Promise<boolean> {
    const group = (await this.streams.groups(STREAM, { tenant: TENANT })).find((g) => g.group === GROUP);
    return group !== undefined && group.lag === 0 && group.pending === 0;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.splice(0).map(killWorker));
    this.redis.disconnect();
    await this.booted.close();
  }
}
