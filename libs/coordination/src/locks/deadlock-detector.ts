import type { LockKeys } from './lock-keys.js';
import type { MutexStore, WaitGraphStore } from './lock-store.interface.js';

/**
 * Finds wait-for cycles between lock owners across instances.
 *
 * While an owner waits for a mutex it keeps an edge `owner -> lock key #seq` in Redis (with the
 * waiter lease as expiry, so a crashed waiter's edge disappears); `seq` comes from a per-tenant
 * counter taken after the edge is written, so it orders the waits (the counter expires
 * `sequenceRetentionMs` after its last increment: the service passes maxTtlMs + waiterLeaseMs,
 * longer than any wait and the lease its edge outlives it by, so no waiter still holding a number
 * sees the counter restart below it). The holder of a lock is read
 * from the lock itself, so a chain is followed as owner -> lock it waits for -> that lock's
 * holder -> ... The walk runs client-side, two round trips per hop with bounded depth, because
 * the edges of different owners live in different cluster slots and a Lua script may only touch
 * one slot (keeping the whole graph under one tenant-wide hash tag would allow one script, but
 * would put every wait of a tenant on one shard). It runs only when an owner has to wait.
 *
 * Victim: the owner of the cycle whose wait started last (highest seq), i.e. the one whose wait
 * closed it. Every member that sees the cycle applies the same rule, so exactly one fails even
 * when several see it at once; a member whose seq is not yet written counts as the latest.
 */
export class DeadlockDetector {
  private readonly seqOf = new Map<string, number>();

  constructor(
    private readonly store: WaitGraphStore & Pick<MutexStore, 'holderOwner'>,
    private readonly keys: LockKeys,
    private readonly maxDepth: number,
    private readonly sequenceRetentionMs: number,
  ) {}

  async recordWait(tenant: string, owner: string, lockKey: string, leaseMs: number): Promise<void> {
    const edge = this.keys.waitEdge(tenant, owner);
    const mark = `${tenant}\n${owner}`;
    let seq = this.seqOf.get(mark);
    if (seq === undefined) {
      await this.store.setWaitEdge(edge, lockKey, leaseMs);
      seq = await this.store.increment(this.keys.waitSequence(tenant), this.sequenceRetentionMs);
      this.seqOf.set(mark, seq);
    }
    await this.store.setWaitEdge(edge, `${lockKey}\n${seq}`, leaseMs);
  }

  async clearWait(tenant: string, owner: string): Promise<void> {
    this.seqOf.delete(`${tenant}\n${owner}`);
    await this.store.clearWaitEdge(this.keys.waitEdge(tenant, owner));
  }

  /**
   * The cycle `owner -> ... -> owner` that waiting behind `holder` closes, when `owner` is its
   * victim; null otherwise. A holder equal to `owner` (a non-reentrant lock taken twice by one
   * owner) is a cycle of one. A chain that comes back to `owner` through `waitedLock`, the lock
   * `owner` waits for, is no cycle: `owner` was handed that lock during the walk (an edge is
   * only cleared once its waiter hears of the hand-off, so it can outlive the wait briefly).
   */
  async findCycle(tenant: string, owner: string, holder: string | null, waitedLock?: string): Promise<string[] | null> {
    const path = [owner];
    const seqs = [this.seqOf.get(`${tenant}\n${owner}`) ?? Infinity];
    let next = holder;
    let via: string | undefined;
    for (let depth = 0; depth < this.maxDepth && next; depth++) {
      if (next === owner) {
        if (via !== undefined && via === waitedLock) return null;
        const latest = Math.max(...seqs);
        return seqs[0] === latest && seqs.indexOf(latest) === 0 ? path : null;
      }
      // A cycle that does not pass through `owner` is not ours to break: its own members see it.
      if (path.includes(next)) return null;
      const edge = await this.store.getWaitEdge(this.keys.waitEdge(tenant, next));
      if (!edge) return null;
      const [lockKey, seq] = edge.split('\n');
      path.push(next);
      seqs.push(seq === undefined ? Infinity : Number(seq));
      via = lockKey;
      next = await this.store.holderOwner(lockKey);
    }
    return null;
  }
}
