import type { KeyBuilder } from '../keys/key-builder.js';
import type { MutexKeys, ReadWriteKeys, SemaphoreKeys } from './lock-store.interface.js';

/**
 * Builds every key and channel of the locks capability through the shared KeyBuilder, so that
 * all keys of one lock share its `{resource}` hash tag and one Lua script can touch them on a
 * cluster. Channels are per lock; a waiter subscribes once to the per-tenant pattern.
 */
export class LockKeys {
  constructor(private readonly keys: KeyBuilder) {}

  /**
   * The suffixed keys are `<base>:<suffix>`, exactly what `KeyBuilder.key(..., { suffix })`
   * returns (a spec checks it), derived from one built base key because this runs on every
   * acquisition and encoding the resource five times showed in profiles. The wake-up channel
   * of a lock is its base key's name (channels and keys are separate namespaces in Redis).
   */
  mutex(tenant: string, resource: string): MutexKeys {
    return new MutexKeySet(this.keys.key(tenant, 'lock', resource));
  }

  semaphore(tenant: string, resource: string): SemaphoreKeys {
    const holders = this.keys.key(tenant, 'semaphore', resource);
    return { holders, fence: `${holders}:fence`, channel: holders };
  }

  readWrite(tenant: string, resource: string): ReadWriteKeys {
    const base = this.keys.key(tenant, 'rwlock', resource);
    return { writer: `${base}:writer`, readers: `${base}:readers`, fence: `${base}:fence`, writerWaiting: `${base}:writer-waiting`, channel: base };
  }

  /** Guard key of a resource protected by fencing tokens (see LockService.checkFence). */
  fenceGuard(tenant: string, resource: string): string {
    return this.keys.key(tenant, 'fence', resource);
  }

  /** Wait-for edge of an owner (deadlock detection). */
  waitEdge(tenant: string, owner: string): string {
    return this.keys.key(tenant, 'lock-wait', owner);
  }

  /** Per-tenant counter ordering waits (deadlock victim choice). */
  waitSequence(tenant: string): string {
    return this.keys.key(tenant, 'lock-seq', 'wait');
  }

  /** PSUBSCRIBE pattern covering the wake-up channels of one kind of lock of a tenant. */
  channelPattern(tenant: string, capability: 'lock' | 'semaphore' | 'rwlock'): string {
    return this.keys.pattern(tenant, capability, '*');
  }
}

/**
 * The keys of one mutex, the suffixed ones built when read: the uncontended path on a standalone
 * server sends only the lock key (the scripts derive the others, see lua/try-acquire.lua), so
 * it builds no other string. The suffixes here and in the scripts are the same (a spec checks them).
 */
class MutexKeySet implements MutexKeys {
  constructor(readonly lock: string) {}
  get fence(): string {
    return `${this.lock}:fence`;
  }
  get queue(): string {
    return `${this.lock}:queue`;
  }
  get queueExp(): string {
    return `${this.lock}:queue-exp`;
  }
  get queueSeq(): string {
    return `${this.lock}:queue-seq`;
  }
  get channel(): string {
    return this.lock;
  }
}
