import type { CacheParts, CacheReader } from './cache-reader.js';
import { UNDECODABLE } from './cache-reader.js';
import type { CacheLease } from './cache-store.interface.js';
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
export interface Outcome {
  readonly value: unknown;
  readonly body?: string;
}

/** How a load ends when another instance's lease holder stored nothing: this process loads on its own, once for its coalesced callers (CacheLoader). */
export const NO_VALUE: unique symbol = Symbol('no value');

const LEASED = Symbol('leased');
const LOST = Symbol('lost');
/** A refresh's first attempt has not read the entry yet. */
const UNREAD = Symbol('unread');
const NO_VERSIONS: readonly number[] = Object.freeze([]);

/** The entry a refresh replaces (read by its first attempt): never taken as its result. */
interface Bypass {
  text: string | null | typeof UNREAD;
}

/**
 * One load of `getOrSet` across the fleet (library-internal; CacheLoader coalesces the loads of a
 * process): under the entry's lease in Redis, or waiting for its holder on another instance, and
 * the loader call that stores its value under the lease. See CacheLoader for the protocol.
 *
 * @example
 * const leased = new CacheLeaseLoad(parts, reader, writer, () => `${instanceId}:${++n}`);
 * const outcome = await leased.underLease(request, false); // NO_VALUE: load it yourself
 */
export class CacheLeaseLoad {
  constructor(
    private readonly parts: CacheParts,
    private readonly reader: CacheReader,
    private readonly writer: CacheWriter,
    private readonly nextToken: () => string,
  ) {}

  /**
   * Loads `request` under its lease, or waits for the holder's value; NO_VALUE when the holder
   * announced it stored nothing. `refresh`: never takes the entry read by the first attempt.
   */
  async underLease(request: LoadRequest, refresh: boolean): Promise<Outcome | typeof NO_VALUE> {
    const { bus, meter } = this.parts;
    const lease: CacheLease = { key: request.leaseKey, token: this.nextToken() };
    const deadline = performance.now() + this.parts.options.leaseWaitMs;
    const bypass: Bypass | undefined = refresh ? { text: UNREAD } : undefined;
    let attempt = await this.attemptOrDegrade(request, lease, bypass);
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
      attempt = await this.attemptOrDegrade(request, lease, bypass);
      if (attempt === LOST) {
        // The holder stored nothing: no value will come, and queueing for its lease would make the fleet's callers load one after another.
        if ((await wake.promise) === 'no-value') return NO_VALUE;
      } else wake.cancel();
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
   * which is then given back, unless it is the entry a refresh replaces (`bypass`: the one its
   * first attempt read). Undefined when Redis failed (and the policy is to degrade); a lease won
   * by the failed attempt is then released, announcing no value (else every miss of the key,
   * fleet-wide, would wait `leaseWaitMs` for it).
   */
  private async attemptOrDegrade(request: LoadRequest, lease: CacheLease, bypass?: Bypass): Promise<Outcome | typeof LEASED | typeof LOST | undefined> {
    const { store, clock } = this.parts;
    const [leasing, reading] = await Promise.allSettled([store.tryLease(lease.key, lease.token, this.parts.options.leaseTtlMs), store.get(request.fullKey)]);
    const leased = leasing.status === 'fulfilled' && leasing.value;
    try {
      if (leasing.status === 'rejected') throw leasing.reason;
      if (reading.status === 'rejected') throw reading.reason;
      const text = reading.value;
      if (bypass !== undefined && (bypass.text === UNREAD || bypass.text === text)) {
        if (bypass.text === UNREAD) bypass.text = text;
        return leased ? LEASED : LOST;
      }
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
      if (leased) await this.writer.release(request.tenant, request.fullKey, lease, true);
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
   * A loader that throws or returns undefined releases the lease and announces that no value came.
   */
  async call(request: LoadRequest, lease: CacheLease | undefined, background: boolean): Promise<Outcome> {
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
}
