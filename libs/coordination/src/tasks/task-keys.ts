import { SHARED_TENANT, type KeyBuilder } from '../keys/key-builder.js';

/** Capability segment of the library's own task keys (per tenant). */
export const TASK_CAPABILITY = 'tasks';
/**
 * Capability segment of BullMQ's keys, apart from the library's: the shared namespace's own task
 * keys (`_shared:tasks:{n}:failed`, a task enqueued outside any tenant) must never be BullMQ's
 * (`…:{n}:failed` is also a BullMQ key name).
 */
export const TASK_QUEUE_CAPABILITY = 'tasks-bullmq';

/**
 * Keys of the task queue. BullMQ's keys of task name `n` are `<prefix>:_shared:tasks-bullmq:{n}:<type>`
 * (BullMQ prefix `<prefix>:_shared:tasks-bullmq`, queue name `{n}`: hash-tagged, one cluster slot per
 * name, no ioredis keyPrefix); the library's own per-tenant keys of that name sit in the same slot:
 * `<prefix>:<tenant>:tasks:{n}:fair` (the last fairness tag given), `…:waiting` (the job ids of its
 * waiting tasks that never started, by enqueue order: `depth`), `…:index` (the tenant's tasks by
 * enqueue time, for `list`) and `…:failed` (its dead-letter view). `bull(name)` names the BullMQ
 * keys the library's scripts read (same slot).
 *
 * @example
 * const keys = new TaskKeys(core.keys);
 * keys.bullPrefix();           // 'coord:_shared:tasks-bullmq'
 * keys.queueName('agent.step'); // '{agent.step}'
 * keys.ofTenant('acme', 'agent.step').fair; // 'coord:acme:tasks:{agent.step}:fair'
 */
export class TaskKeys {
  constructor(private readonly keys: KeyBuilder) {}

  bullPrefix(): string {
    return this.keys.namespace(SHARED_TENANT, TASK_QUEUE_CAPABILITY).slice(0, -1);
  }

  /** Task names are validated ([A-Za-z0-9][A-Za-z0-9._-]*), so they need no encoding. */
  queueName(name: string): string {
    return `{${name}}`;
  }

  /** BullMQ's keys of task name `name` that the library's scripts read: its wait list, prioritized and delayed zsets, and a job's key. */
  bull(name: string): BullTaskKeys {
    const base = `${this.bullPrefix()}:${this.queueName(name)}:`;
    return { wait: `${base}wait`, prioritized: `${base}prioritized`, delayed: `${base}delayed`, job: (bullId) => base + bullId };
  }

  ofTenant(tenant: string, name: string): TenantTaskKeys {
    return {
      fair: this.keys.key(tenant, TASK_CAPABILITY, name, { suffix: 'fair' }),
      waiting: this.keys.key(tenant, TASK_CAPABILITY, name, { suffix: 'waiting' }),
      index: this.keys.key(tenant, TASK_CAPABILITY, name, { suffix: 'index' }),
      failed: this.keys.key(tenant, TASK_CAPABILITY, name, { suffix: 'failed' }),
    };
  }
}

export interface TenantTaskKeys {
  fair: string;
  waiting: string;
  index: string;
  failed: string;
}

export interface BullTaskKeys {
  wait: string;
  prioritized: string;
  delayed: string;
  /** The key of the job whose BullMQ id is `bullId` (`<tenant>~<jobId>`). */
  job(bullId: string): string;
}
