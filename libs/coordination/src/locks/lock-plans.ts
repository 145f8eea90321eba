import { CircuitOpenError } from '../errors/coordination.error.js';
import type { Backend, LockCall, LockPlan } from './lock-acquirer.js';
import type { Lock, LockOperations } from './lock.js';
import type { LockKeys } from './lock-keys.js';
import type { LockObserver } from './lock-observer.js';
import type {
  Granted, HoldReply, MutexKeys, MutexReply, MutexRequest, MutexStore, PermitRequest, ReadWriteKeys, ReadWriteRequest, ReadWriteStore,
  ReleaseReply, SemaphoreKeys, SemaphoreStore,
} from './lock-store.interface.js';
import type { CheckedAcquire } from './lock-validation.js';
import { abandonMutexWait, waitForHold, waitForMutex, type Acquired, type WaitContext } from './lock-waiter.js';

export type MutexCall = MutexRequest & LockCall & { readonly keys: MutexKeys };
export type PermitCall = PermitRequest & LockCall & { readonly keys: SemaphoreKeys };
export type ReadWriteCall = ReadWriteRequest & LockCall & { readonly keys: ReadWriteKeys };

/** Exclusive mutexes: fair / priority wait queue with hand-off, reentrancy, deadlock detection, scripted events. */
export class MutexPlan implements LockPlan<MutexCall, MutexReply> {
  readonly kind = 'mutex';
  readonly operation = 'locks.acquire';
  readonly channels = 'lock';

  constructor(private readonly keys: LockKeys, private readonly observer: LockObserver, private readonly leaseMs: number) {}

  call(backend: Backend, key: string, tenant: string, token: string, owner: string, c: CheckedAcquire): MutexCall {
    return {
      keys: this.keys.mutex(tenant, key), token, owner, ttlMs: c.ttlMs, reentrant: c.reentrant, enqueue: c.waitMs > 0, priority: c.priority,
      leaseMs: this.leaseMs, event: this.scripted(backend) ? this.observer.acquiredByScript(key, 'mutex', owner, tenant) : undefined, queued: false,
    };
  }

  attempt(backend: Backend, call: MutexCall): Promise<MutexReply> {
    return backend.store.acquireMutex(call.keys, call);
  }

  attemptFailed(backend: Backend, call: MutexCall, error: unknown): void {
    // The reply may be lost after the script queued us or even took the lock (an open breaker
    // sent nothing: nothing to undo).
    if (!(error instanceof CircuitOpenError)) abandonMutexWait(backend.store, call.keys, call);
  }

  wait(backend: Backend, call: MutexCall, first: Extract<MutexReply, { acquired: false }>, ctx: WaitContext, startedAt: number): Promise<Acquired> {
    // Later attempts are polls of a waiter: lock.acquired is emitted by the observer, with the wait time.
    call.event = undefined;
    call.queued = true;
    return waitForMutex(ctx, backend.store, call.keys, call, first, backend.detector, startedAt);
  }

  operations(backend: Backend, call: MutexCall, granted: Granted): LockOperations {
    return new MutexOperations(backend.store, call.keys, granted.token, this.scripted(backend) ? this.observer : null);
  }

  /** Where the store can, the acquire and release scripts publish the lock events themselves. */
  private scripted(backend: Backend): boolean {
    return backend.store.publishesEvents && this.observer.all;
  }
}

/** One permit of a counting semaphore. */
export class PermitPlan implements LockPlan<PermitCall, HoldReply, number> {
  readonly kind = 'permit';
  readonly operation = 'locks.permit';
  readonly channels = 'semaphore';

  constructor(private readonly keys: LockKeys) {}

  call(_backend: Backend, key: string, tenant: string, token: string, owner: string, c: CheckedAcquire, permits: number): PermitCall {
    return { keys: this.keys.semaphore(tenant, key), token, owner, ttlMs: c.ttlMs, permits };
  }

  attempt(backend: Backend, call: PermitCall): Promise<HoldReply> {
    return backend.store.acquirePermit(call.keys, call);
  }

  wait(backend: Backend, call: PermitCall, first: HoldReply, ctx: WaitContext): Promise<Acquired> {
    return waitForHold(ctx, () => backend.store.acquirePermit(call.keys, call), first);
  }

  operations(backend: Backend, call: PermitCall): LockOperations {
    return new PermitOperations(backend.store, call.keys, call.token);
  }
}

/** A shared (read) or exclusive (write) hold of a read-write lock. */
export class ReadWritePlan implements LockPlan<ReadWriteCall, HoldReply> {
  readonly operation: string;
  readonly channels = 'rwlock';
  private readonly mode: 'r' | 'w';

  constructor(private readonly keys: LockKeys, private readonly leaseMs: number, readonly kind: 'read' | 'write') {
    this.operation = `locks.${kind}`;
    this.mode = kind === 'read' ? 'r' : 'w';
  }

  call(_backend: Backend, key: string, tenant: string, token: string, owner: string, c: CheckedAcquire): ReadWriteCall {
    return { keys: this.keys.readWrite(tenant, key), mode: this.mode, token, owner, ttlMs: c.ttlMs, waiting: c.waitMs > 0, leaseMs: this.leaseMs };
  }

  attempt(backend: Backend, call: ReadWriteCall): Promise<HoldReply> {
    return backend.store.acquireReadWrite(call.keys, call);
  }

  wait(backend: Backend, call: ReadWriteCall, first: HoldReply, ctx: WaitContext): Promise<Acquired> {
    return waitForHold(ctx, () => backend.store.acquireReadWrite(call.keys, call), first);
  }

  /** A writer that gave up drops its writer-waiting flag at once, so readers are not turned away for its lease. */
  async waitFailed(backend: Backend, call: ReadWriteCall): Promise<void> {
    if (call.mode === 'w') await backend.store.abandonWrite(call.keys, call.token).catch(() => undefined);
  }

  operations(backend: Backend, call: ReadWriteCall): LockOperations {
    return new ReadWriteOperations(backend.store, call.keys, call.mode, call.token);
  }
}

class MutexOperations implements LockOperations {
  constructor(
    private readonly store: MutexStore, private readonly keys: MutexKeys, private readonly token: string,
    /** Set when the store's release script publishes lock.released. */
    private readonly observer: LockObserver | null,
  ) {}
  get publishesReleased(): boolean {
    return this.observer !== null;
  }
  extend(ttlMs: number): Promise<boolean> {
    return this.store.extendMutex(this.keys, this.token, ttlMs);
  }
  release(lock: Lock): Promise<ReleaseReply> {
    return this.store.releaseMutex(this.keys, this.token, this.observer?.releasedByScript(lock));
  }
}

class PermitOperations implements LockOperations {
  constructor(private readonly store: SemaphoreStore, private readonly keys: SemaphoreKeys, private readonly token: string) {}
  extend(ttlMs: number): Promise<boolean> {
    return this.store.extendPermit(this.keys, this.token, ttlMs);
  }
  release(): Promise<ReleaseReply> {
    return this.store.releasePermit(this.keys, this.token);
  }
}

class ReadWriteOperations implements LockOperations {
  constructor(
    private readonly store: ReadWriteStore, private readonly keys: ReadWriteKeys, private readonly mode: 'r' | 'w', private readonly token: string,
  ) {}
  extend(ttlMs: number): Promise<boolean> {
    return this.store.extendReadWrite(this.keys, this.mode, this.token, ttlMs);
  }
  release(): Promise<ReleaseReply> {
    return this.store.releaseReadWrite(this.keys, this.mode, this.token);
  }
}
