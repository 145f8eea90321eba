import type { CacheKeys } from './cache-keys.js';
import { UNDECODABLE, type CacheParts, type CacheReader, type FoundEntry } from './cache-reader.js';
import { CacheRefresher } from './cache-refresher.js';
import type { CacheLease } from './cache-store.interface.js';
import type { CheckedWrite } from './cache-validation.js';
import type { CacheWriter, WriteItem } from './cache-writer.js';

/**
 * A waiter for another instance's loader re-reads the entry at least this often, in case the
 * bus message that should have woken it was lost.
 */
export const LEASE_POLL_MS = 250;

/** What a `getOrSet` miss or refresh loads: resolved and checked by CacheService. */
export interface LoadRequest {
  readonly tenant: string;
  readonly fullKey: string;
  readonly leaseKey: string;
  readonly loader: () => unknown;
  readonly ttlMs: number;
  readonly staleMs: number;
  readonly tagKeys: readonly string[];
  readonly l1: boolean;
}

/** The value a load produced, with its serialized form so that each waiting caller decodes a copy. */
interface Outcome {
  readonly value: unknown;
  readonly body?: string;
}

const LEASED = Symbol('leased');
const LOST = Symbol('lost');
const NO_VERSIONS: readonly number[] = Object.freeze([]);

/**
 * `getOrSet` (library-internal): its hit path, stampede protection and early refresh.
 *
 * - **Hits**: L1, then a fresh L2 entry (refreshed early by XFetch), then a stale one within
 *   `staleMs` (served, and refreshed in the background).
 * - **In process**: one load per full key; concurrent misses await it (`stats().coalesced`)
 *   and each gets its own decoded copy.
 * - **Across the fleet**: the load takes a lease in Redis (`cache.leaseTtlMs`); the winner loads,
 *   stores the value and drops the lease atomically, then announces the key on the bus. The
 *   others wait for that message (re-reading at least every LEASE_POLL_MS), re-read and retry the
 *   lease; after `cache.leaseWaitMs` they take the lease over and call the loader themselves
 *   (`leaseWaitTimeouts`). A loader that throws releases the lease and announces the key, so one
 *   waiter takes over, and its error goes to the callers of its process. Once the bus is closed
 *   (shutdown) nothing wakes a waiter any more: it calls the loader at once, storing nothing.
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
 * const crew = await loader.getOrSet('acme', 'crew:7', () => db.crew(7), checkWrite(options, defaults));
 */
export class CacheLoader {
  private readonly flights = new Map<string, Promise<Outcome>>();
  private readonly refresher: CacheRefresher;
  private sequence = 0;

  constructor(
    private readonly parts: CacheParts,
    private readonly reader: CacheReader,
    private readonly writer: CacheWriter,
    private readonly keys: CacheKeys,
    private readonly instanceId: string,
  ) {
    this.refresher = new CacheRefresher(parts, writer, (request, lease) => this.call(request, lease, true), () => this.nextToken());
  }

  /** The cached value of `key`, or the loader's (checked arguments, resolved tenant). */
  async getOrSet(tenant: string, key: string, loader: () => unknown, o: CheckedWrite): Promise<unknown> {
    const { l1, meter, clock } = this.parts;
    const fullKey = this.keys.entry(tenant, key);
    if (o.l1) {
      const hit = l1.get(fullKey);
      if (hit !== undefined) {
        meter.l1Hit();
        return hit.hasValue ? hit.value : this.parts.serializer.decode(hit.text);
      }
    }
    const generation = l1.generation;
    let found: FoundEntry | undefined;
    try {
      found = await this.reader.lookup(fullKey);
    } catch (error) {
      this.parts.failures.read(error, 'cache.getOrSet');
      meter.miss();
      return this.load(this.requestOf(tenant, key, fullKey, loader, o), false);
    }
    const now = clock.now();
    const value = found !== undefined && now < found.header.freshUntil + o.staleMs ? this.reader.decode(fullKey, found) : UNDECODABLE;
    if (value === UNDECODABLE) {
      meter.miss();
      return this.load(this.requestOf(tenant, key, fullKey, loader, o), true);
    }
    const { freshUntil, deltaMs } = found!.header;
    if (now >= freshUntil) {
      meter.staleServe();
      this.refresher.refresh(this.requestOf(tenant, key, fullKey, loader, o), freshUntil);
      return value;
    }
    if (o.l1) this.reader.remember(tenant, fullKey, found!, value, generation);
    meter.l2Hit();
    const beta = this.parts.options.xfetchBeta;
    if (beta > 0 && deltaMs > 0 && now - deltaMs * beta * Math.log(Math.random()) >= freshUntil) {
      this.refresher.refresh(this.requestOf(tenant, key, fullKey, loader, o), freshUntil);
    }
    return value;
  }

  /** Loads `request.fullKey`, or awaits the load of it in progress in this process. `useLease` false: Redis just failed. */
  private async load(request: LoadRequest, useLease: boolean): Promise<unknown> {
    const running = this.flights.get(request.fullKey);
    if (running !== undefined) {
      this.parts.meter.coalesced();
      const outcome = await running;
      return outcome.body === undefined || this.parts.l1.shareValues ? outcome.value : this.parts.serializer.decode(outcome.body);
    }
    const flight = this.fly(request, useLease);
    this.flights.set(request.fullKey, flight);
    return (await flight).value;
  }

  /** Starts no more background refreshes and waits up to `graceMs` for those running. */
  close(graceMs: number): Promise<void> {
    return this.refresher.close(graceMs);
  }

  private async fly(request: LoadRequest, useLease: boolean): Promise<Outcome> {
    try {
      return useLease ? await this.underLease(request) : await this.call(request, undefined, false);
    } finally {
      this.flights.delete(request.fullKey);
    }
  }

  private async underLease(request: LoadRequest): Promise<Outcome> {
    const { bus, meter } = this.parts;
    const lease: CacheLease = { key: request.leaseKey, token: this.nextToken() };
    const deadline = performance.now() + this.parts.options.leaseWaitMs;
    let attempt = await this.attemptOrDegrade(request, lease);
    if (attempt === undefined) return this.call(request, undefined, false);
    let waited = false;
    while (attempt === LOST) {
      // Shutting down: no message wakes a waiter any more (ready and waitFor answer at once).
      if (bus.closed) return this.call(request, undefined, false);
      const remaining = deadline - performance.now();
      if (remaining <= 0) {
        meter.leaseWaitTimedOut();
        return this.takeOver(request, lease);
      }
      const slice = Math.min(remaining, LEASE_POLL_MS);
      await bus.ready(slice);
      // Registered before the re-read, so the holder's message cannot slip in between.
      const wake = bus.waitFor(request.fullKey, slice);
      attempt = await this.attemptOrDegrade(request, lease);
      if (attempt === LOST) await wake.promise;
      else wake.cancel();
      if (attempt === undefined) return this.call(request, undefined, false);
      waited = true;
    }
    if (attempt === LEASED) return this.call(request, lease, false);
    if (waited) meter.coalesced();
    return attempt;
  }

  /**
   * Takes the lease and reads the entry in one round trip (the lease first: once it is ours, the
   * read sees any value its previous holder stored). A fresh valid entry wins over the lease,
   * which is then given back. Undefined when Redis failed (and the policy is to degrade).
   */
  private async attemptOrDegrade(request: LoadRequest, lease: CacheLease): Promise<Outcome | typeof LEASED | typeof LOST | undefined> {
    const { store, clock } = this.parts;
    try {
      const leasing = store.tryLease(lease.key, lease.token, this.parts.options.leaseTtlMs);
      const [leased, text] = await Promise.all([leasing, store.get(request.fullKey)]);
      const found = text === null ? undefined : await this.reader.validate(text);
      if (found !== undefined && found.header.freshUntil > clock.now()) {
        const value = this.reader.decode(request.fullKey, found);
        if (value !== UNDECODABLE) {
          // Not awaited (it never rejects): the value is here, the lease only has to go.
          if (leased) void this.writer.release(request.tenant, request.fullKey, lease, false);
          return { value, body: found.text.slice(found.header.bodyStart) };
        }
      }
      return leased ? LEASED : LOST;
    } catch (error) {
      this.parts.failures.read(error, 'cache.getOrSet');
      return undefined;
    }
  }

  /**
   * The wait for the holder ran out (it is stuck, or slower than `leaseWaitMs`): takes the lease
   * over, so that the holder can no longer store what it loaded, and loads under it. If that
   * fails (Redis), loads without storing.
   */
  private async takeOver(request: LoadRequest, lease: CacheLease): Promise<Outcome> {
    try {
      await this.parts.store.takeLease(lease.key, lease.token, this.parts.options.leaseTtlMs);
    } catch (error) {
      this.parts.failures.read(error, 'cache.getOrSet');
      return this.call(request, undefined, false);
    }
    return this.call(request, lease, false);
  }

  /**
   * Runs the loader (timed on the module clock) and, under `lease`, stores its value (without
   * one, the value is only returned: nothing guards the store against a write made meanwhile).
   * Tag versions are read first; if that fails the value is returned but not stored.
   * `background`: a refresh, whose failures must not throw under `onRedisUnavailable: 'throw'` either.
   */
  private async call(request: LoadRequest, lease: CacheLease | undefined, background: boolean): Promise<Outcome> {
    const { clock, meter, store } = this.parts;
    const generation = this.parts.l1.generation;
    let versions: readonly number[] | undefined = NO_VERSIONS;
    if (lease && request.tagKeys.length > 0) {
      try {
        versions = await store.readCounters(request.tagKeys);
      } catch (error) {
        if (background) this.parts.failures.swallowed(error, 'cache.getOrSet', `Reading the tag versions of ${request.fullKey}`);
        else this.parts.failures.read(error, 'cache.getOrSet');
        versions = undefined;
      }
    }
    const started = clock.now();
    let value: unknown;
    try {
      value = await request.loader();
    } catch (error) {
      meter.loaded(clock.now() - started, true);
      if (lease) await this.writer.release(request.tenant, request.fullKey, lease, true);
      throw error;
    }
    const deltaMs = clock.now() - started;
    meter.loaded(deltaMs, false);
    // undefined is returned, never stored (a miss could not be told from it).
    if (value === undefined) {
      if (lease) await this.writer.release(request.tenant, request.fullKey, lease, true);
      return { value };
    }
    let body: string;
    try {
      body = this.parts.serializer.encode(value);
    } catch (error) {
      if (lease) await this.writer.release(request.tenant, request.fullKey, lease, true);
      throw error;
    }
    if (!lease) return { value, body };
    if (versions === undefined) {
      await this.writer.release(request.tenant, request.fullKey, lease, true);
      return { value, body };
    }
    const { tenant, fullKey, leaseKey, ttlMs, staleMs, tagKeys } = request;
    const item: WriteItem = { tenant, fullKey, leaseKey, body, value, ttlMs, staleMs, tagKeys };
    await this.writer.fill(item, deltaMs, versions, lease, request.l1, generation);
    return { value, body };
  }

  private requestOf(tenant: string, key: string, fullKey: string, loader: () => unknown, o: CheckedWrite): LoadRequest {
    const { ttlMs, staleMs, l1 } = o;
    return { tenant, fullKey, leaseKey: this.keys.lease(tenant, key), loader, ttlMs, staleMs, tagKeys: this.keys.tags(tenant, o.tags), l1 };
  }

  private nextToken(): string {
    return `${this.instanceId}:${++this.sequence}`;
  }
}
