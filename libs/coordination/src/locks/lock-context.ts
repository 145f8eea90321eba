import { AsyncLocalStorage } from 'node:async_hooks';
import { Lock } from './lock.js';

/** An owner set by `runAsOwner`, keeping the lock that was current where it was set. */
class OwnerScope {
  constructor(readonly owner: string, readonly lock: Lock | undefined) {}
}

/**
 * What the current async call chain holds: the innermost lock entered through `withLock` /
 * `@WithLock`, and the owner its acquisitions default to (that lock's owner, or one set by
 * `runAsOwner`). `withLock` stores the Lock itself (it carries its owner), so entering a
 * section allocates no context object; reading the owner is one AsyncLocalStorage read.
 *
 * @example
 * const context = new LockContext();
 * await context.runHolding(lock, async () => context.lock() === lock); // true
 */
export class LockContext {
  private readonly storage = new AsyncLocalStorage<Lock | OwnerScope>();

  owner(): string | undefined {
    return this.storage.getStore()?.owner;
  }

  lock(): Lock | undefined {
    const store = this.storage.getStore();
    return store instanceof OwnerScope ? store.lock : store;
  }

  /** Runs `fn` with `lock` as the innermost lock (and its owner as the owner). */
  runHolding<T>(lock: Lock, fn: () => T): T {
    return this.storage.run(lock, fn);
  }

  /** Runs `fn` as `owner`; the current lock stays current. */
  runAs<T>(owner: string, fn: () => T): T {
    return this.storage.run(new OwnerScope(owner, this.lock()), fn);
  }
}
