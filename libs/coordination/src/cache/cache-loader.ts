import type { CacheKeys } from './cache-keys.js';
import { CacheLeaseLoad, NO_VALUE, type LoadRequest, type Outcome } from './cache-lease-load.js';
import { UNDECODABLE, type CacheParts, type CacheReader, type FoundEntry } from './cache-reader.js';
import { CacheRefresher } from './cache-refresher.js';
import type { CheckedWrite, LoadMode } from './cache-validation.js';
import type { CacheWriter } from './cache-writer.js';
import type { CacheLookup } from './cache.types.js';

export { LEASE_POLL_MS, type LoadRequest } from './cache-lease-load.js';

/** A load in progress in this process, with the L1 generation when it started (see `outdated`). */
interface Flight {
  readonly outcome: Promise<Outcome>;
  readonly generation: number;
}

/**
 * What `getOrSet` resolves with, from how the value was obtained: the value alone
 * (`CacheService.getOrSet`) or with its state (`getOrSetState`).
 *
 * @example
 * const withState: Report<CacheLookup> = (state, value) => ({ state, value });
 */
export type Report<R> = (state: CacheLookup['state'], value: unknown) => R;

/**
 * `getOrSet` (library-internal): its hit path, stampede protection and early refresh.
 *
 * - **Hits**: L1, then a fresh L2 entry (refreshed early by XFetch unless `xfetch` is off), then
 *   a stale one within `staleMs` (served, and refreshed in the background).
 * - **In process**: one load per full key; concurrent misses await it (`stats().coalesced`)
 *   and each gets its own decoded copy. A caller arriving after a drop of the key (a write,
 *   deletion or invalidation of it here or on another instance, or a wide one) does not join a
 *   load that started before the drop (its value may predate it): it starts a new one.
 * - **Across the fleet**: the load takes a lease in Redis (`cache.leaseTtlMs`); the winner loads,
 *   stores the value and drops the lease atomically, then announces the key on the bus. The
 *   others wait for that message (re-reading at least every LEASE_POLL_MS), re-read and retry the
 *   lease; after `cache.leaseWaitMs` they take the lease over and call the loader themselves
 *   (`leaseWaitTimeouts`). A holder whose loader throws or returns undefined releases the lease
 *   and announces that it stored nothing: the callers waiting for it on another instance then
 *   load at once, storing nothing: one loader call per process, shared by its coalesced callers
 *   (not one per caller, on a database that is likely failing already), the processes in
 *   parallel (its error or undefined goes to the callers of its own process). Once the bus is closed (shutdown) nothing wakes a waiter
 *   any more: it calls the loader at once, storing nothing.
 * - **Reload** (`refresh`): skips the read, loads under the lease even when a fresh entry is
 *   there, and stores; while another holder loads, it waits for the value written since it
 *   started, never taking the entry it replaces. It joins a load of the key in progress here.
 * - **No lost writes**: a value is stored only while its lease is held (CacheStore.fill); a write
 *   or deletion of the entry meanwhile dropped the lease, and the value, loaded before it, is
 *   returned but not stored. A load without a lease (Redis failed) stores nothing either.
 * - **Tags**: their versions are read before the loader runs, so a value loaded while a tag is
 *   invalidated is stored already invalid: no invalidation is lost.
 * - **Refresh** (stale-while-revalidate, XFetch): in the background, under the same lease, once
 *   per fleet (CacheRefresher).
 * - **Redis unreachable**: the load still coalesces in process, skips the lease and stores nothing.
 *
 * @example
 * const crew = await loader.getOrSet('acme', 'crew:7', () => db.crew(7), checkWrite(options, defaults), DEFAULT_LOAD_MODE, (_, value) => value);
 */
export class CacheLoader {
  private readonly flights = new Map<string, Flight>();
  private readonly leased: CacheLeaseLoad;
  private readonly refresher: CacheRefresher;
  private sequence = 0;

  constructor(
    private readonly parts: CacheParts,
    private readonly reader: CacheReader,
    writer: CacheWriter,
    private readonly keys: CacheKeys,
    private readonly instanceId: string,
  ) {
    const nextToken = (): string => `${this.instanceId}:${++this.sequence}`;
    this.leased = new CacheLeaseLoad(parts, reader, writer, nextToken);
    this.refresher = new CacheRefresher(parts, writer, (request, lease) => this.leased.call(request, lease, true), nextToken);
  }

  /**
   * The cached value of `key`, or the loader's (checked arguments, resolved tenant), reported by
   * `report`. Not async: an L1 hit resolves at once and an L2 hit chains one `then` on the read
   * (the hot paths); only a miss, a stale value or a refresh goes on to the async load.
   */
  getOrSet<R>(tenant: string, key: string, loader: () => unknown, o: CheckedWrite, mode: LoadMode, report: Report<R>): Promise<R> {
    const { l1, meter } = this.parts;
    const fullKey = this.keys.entry(tenant, key);
    if (mode.refresh) {
      meter.miss();
      return this.load(this.requestOf(tenant, key, fullKey, loader, o), true, true).then((value) => report('miss', value));
    }
    if (o.l1) {
      const hit = l1.get(fullKey);
      if (hit !== undefined) {
        meter.l1Hit();
        try {
          return Promise.resolve(report('hit', l1.valueOf(hit, this.reader.decodeText)));
        } catch (error) {
          return Promise.reject(error);
        }
      }
    }
    const generation = l1.generation;
    return this.reader.lookup(fullKey).then(
      (found) => this.served(tenant, key, fullKey, loader, o, mode, report, found, generation),
      (error: unknown) => {
        this.parts.failures.read(error, 'cache.getOrSet');
        meter.miss();
        return this.load(this.requestOf(tenant, key, fullKey, loader, o), false, false).then((value) => report('miss', value));
      },
    );
  }

  /** What getOrSet answers once it has read the entry: the value (a hit, or stale and refreshed) or a load. */
  private served<R>(
    tenant: string, key: string, fullKey: string, loader: () => unknown, o: CheckedWrite, mode: LoadMode, report: Report<R>,
    found: FoundEntry | undefined, generation: number,
  ): R | Promise<R> {
    const { meter, clock } = this.parts;
    const now = clock.now();
    const value = found !== undefined && now < found.header.freshUntil + o.staleMs ? this.reader.decode(fullKey, found) : UNDECODABLE;
    if (value === UNDECODABLE) {
      meter.miss();
      return this.load(this.requestOf(tenant, key, fullKey, loader, o), true, false).then((loaded) => report('miss', loaded));
    }
    const { freshUntil, deltaMs } = found!.header;
    if (now >= freshUntil) {
      meter.staleServe();
      this.refresher.refresh(this.requestOf(tenant, key, fullKey, loader, o), freshUntil);
      return report('stale', value);
    }
    if (o.l1) this.reader.remember(tenant, fullKey, found!, value, generation);
    meter.l2Hit();
    const beta = this.parts.options.xfetchBeta;
    if (mode.xfetch && beta > 0 && deltaMs > 0 && now - deltaMs * beta * Math.log(Math.random()) >= freshUntil) {
      this.refresher.refresh(this.requestOf(tenant, key, fullKey, loader, o), freshUntil);
    }
    return report('hit', value);
  }

  /** Starts no more background refreshes and waits up to `graceMs` for those running. */
  close(graceMs: number): Promise<void> {
    return this.refresher.close(graceMs);
  }

  /**
   * Loads `request.fullKey`, or awaits the load of it in progress in this process (unless that
   * one is outdated). `useLease` false: Redis just failed. `refresh`: a reload (see the class notes).
   */
  private async load(request: LoadRequest, useLease: boolean, refresh: boolean): Promise<unknown> {
    const { l1, meter, serializer } = this.parts;
    const { fullKey } = request;
    const running = this.flights.get(fullKey);
    if (running !== undefined && !this.outdated(fullKey, running)) {
      meter.coalesced();
      const outcome = await running.outcome;
      return outcome.body === undefined || l1.shareValues ? outcome.value : serializer.decode(outcome.body);
    }
    const loading = useLease ? this.leased.underLease(request, refresh).then((outcome) => this.orOwnLoad(request, outcome)) : this.leased.call(request, undefined, false);
    const flight: Flight = { outcome: loading, generation: l1.generation };
    this.flights.set(fullKey, flight);
    // Registered before any caller awaits it: the flight is gone by the time they resume. A newer flight may have replaced it.
    const land = (): void => {
      if (this.flights.get(fullKey) === flight) this.flights.delete(fullKey);
    };
    flight.outcome.then(land, land);
    return (await flight.outcome).value;
  }

  /**
   * `outcome`, or when another instance's holder stored nothing (NO_VALUE), the value of this
   * process's own loader call, without the lease, not stored: part of the flight, so that its
   * coalesced callers share that one call (each decoding its own copy).
   */
  private orOwnLoad(request: LoadRequest, outcome: Outcome | typeof NO_VALUE): Outcome | Promise<Outcome> {
    return outcome === NO_VALUE ? this.leased.call(request, undefined, false) : outcome;
  }

  /**
   * Whether a drop that may concern `fullKey` arrived since `flight` started: its value may
   * predate it, so a caller arriving now starts a new load. The L1 tracks drops per key, enabled
   * or not.
   */
  private outdated(fullKey: string, flight: Flight): boolean {
    return this.parts.l1.droppedSince([fullKey], flight.generation);
  }

  private requestOf(tenant: string, key: string, fullKey: string, loader: () => unknown, o: CheckedWrite): LoadRequest {
    const { ttlMs, staleMs, l1 } = o;
    return { tenant, fullKey, leaseKey: this.keys.lease(tenant, key), loader, ttlMs, staleMs, tagKeys: this.keys.tags(tenant, o.tags), l1 };
  }
}
