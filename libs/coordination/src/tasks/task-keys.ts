import { SHARED_TENANT, type KeyBuilder } from '../keys/key-builder.js';

/** Capability segment of task keys. */
export const TASK_CAPABILITY = 'tasks';

/**
 * Keys of the task queue. BullMQ's keys of task name `n` are `<prefix>:_shared:tasks:{n}:<type>`
 * (BullMQ prefix `<prefix>:_shared:tasks`, queue name `{n}`: hash-tagged, one cluster slot per
 * name, no ioredis keyPrefix); the library's own per-tenant keys of that name sit in the same slot:
 * `<prefix>:<tenant>:tasks:{n}:fair` (fairness tag and waiting count), `…:index` (the tenant's
 * tasks by enqueue time, for `list`) and `…:failed` (its dead-letter view).
 *
 * @example
 * const keys = new TaskKeys(core.keys);
 * keys.bullPrefix();           // 'coord:_shared:tasks'
 * keys.queueName('agent.step'); // '{agent.step}'
 * keys.ofTenant('acme', 'agent.step').fair; // 'coord:acme:tasks:{agent.step}:fair'
 */
export class TaskKeys {
  constructor(private readonly keys: KeyBuilder) {}

  bullPrefix(): string {
    return this.keys.namespace(SHARED_TENANT, TASK_CAPABILITY).slice(0, -1);
  }

  /** Task names are validated ([A-Za-z0-9][A-Za-z0-9._-]*), so they need no encoding. */
  queueName(name: string): string {
    return `{${name}}`;
  }

  ofTenant(tenant: string, name: string): TenantTaskKeys {
    return {
      fair: this.keys.key(tenant, TASK_CAPABILITY, name, { suffix: 'fair' }),
      index: this.keys.key(tenant, TASK_CAPABILITY, name, { suffix: 'index' }),
      failed: this.keys.key(tenant, TASK_CAPABILITY, name, { suffix: 'failed' }),
    };
  }
}

export interface TenantTaskKeys {
  fair: string;
  index: string;
  failed: string;
}
