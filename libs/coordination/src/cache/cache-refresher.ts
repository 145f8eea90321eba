import { parseEntry } from './cache-entry.js';
import type { LoadRequest } from './cache-lease-load.js';
import type { CacheParts } from './cache-reader.js';
import type { CacheLease } from './cache-store.interface.js';
import type { CacheWriter } from './cache-writer.js';

/**
 * The background refreshes of `getOrSet` (stale-while-revalidate, XFetch), library-internal: at
 * most one per key in process, each under the entry's lease (so at most one per fleet at a
 * time), and none when the entry was refreshed since the caller read it (a refresh here that
 * finished meanwhile, or one on another instance). Failures are counted and logged, never thrown.
 *
 * @example
 * const refresher = new CacheRefresher(parts, writer, (request, lease) => loader.call(request, lease, true), nextToken);
 * refresher.refresh(request, found.header.freshUntil); // returns at once
 * await refresher.close(5_000); // at shutdown
 */
export class CacheRefresher {
  private readonly running = new Map<string, Promise<void>>();
  private closing = false;

  constructor(
    private readonly parts: CacheParts,
    private readonly writer: CacheWriter,
    /** Runs the loader of `request` and stores its value under `lease` (failures not thrown as outages). */
    private readonly load: (request: LoadRequest, lease: CacheLease) => Promise<unknown>,
    private readonly nextToken: () => string,
  ) {}

  /** Refreshes `request.fullKey`, read fresh until `readFreshUntil`, unless a refresh of it runs here already. */
  refresh(request: LoadRequest, readFreshUntil: number): void {
    if (this.closing || this.running.has(request.fullKey)) return;
    const task = this.underLease(request, readFreshUntil)
      .catch((error: unknown) => this.parts.failures.swallowed(error, 'cache.getOrSet', `Refreshing ${request.fullKey} in the background`))
      .finally(() => this.running.delete(request.fullKey));
    this.running.set(request.fullKey, task);
  }

  /** Starts no more refreshes and waits up to `graceMs` for those running; the rest finish (or fail, quietly) on their own. */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    if (this.running.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.all(this.running.values()), grace]);
    clearTimeout(timer);
  }

  /**
   * Takes the lease and re-reads the entry in one round trip (the lease first: once it is ours,
   * the read sees what its previous holder stored), then loads unless the entry is fresher than
   * the one read (freshUntil later than `readFreshUntil`): then it gives the lease back. When the
   * read fails, a lease it won is released (announcing no value), then the failure is thrown.
   */
  private async underLease(request: LoadRequest, readFreshUntil: number): Promise<void> {
    const { store, options } = this.parts;
    const lease: CacheLease = { key: request.leaseKey, token: this.nextToken() };
    const [leasing, reading] = await Promise.allSettled([store.tryLease(lease.key, lease.token, options.leaseTtlMs), store.get(request.fullKey)]);
    const leased = leasing.status === 'fulfilled' && leasing.value;
    if (reading.status === 'rejected') {
      if (leased) await this.writer.release(request.tenant, request.fullKey, lease, true);
      throw reading.reason;
    }
    if (leasing.status === 'rejected') throw leasing.reason;
    // Someone else holds the lease: a miss loading it, or another refresh.
    if (!leased) return;
    const text = reading.value;
    const current = text === null ? undefined : parseEntry(text);
    if (current !== undefined && current.freshUntil > readFreshUntil) {
      await this.writer.release(request.tenant, request.fullKey, lease, false);
      return;
    }
    this.parts.meter.refreshStarted();
    await this.load(request, lease);
  }
}
