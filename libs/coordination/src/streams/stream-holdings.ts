import type { RawEntry } from './stream-store.interface.js';

/**
 * An entry held by a consumer: new entries (`readNew`) come without a count, on their first delivery.
 *
 * @example
 * const deliveries = (entry as HeldEntry).deliveries ?? 1;
 */
export type HeldEntry = RawEntry & { readonly deliveries?: number };

/**
 * What one consumer holds (pending for it in Redis): entries read ahead and not started, entries
 * whose handler runs, and entries handled and waiting for their XACK. An id is held once: a
 * claim that returns an entry the consumer already holds does not start it twice.
 *
 * @example
 * const taken = holdings.take(reply.entries); // how many were new
 * for (let entry = holdings.next(); entry; entry = holdings.next()) start(entry);
 */
export class StreamHoldings {
  /** Read ahead, in delivery order. */
  private readonly buffer: HeldEntry[] = [];
  private readonly running = new Set<string>();
  private readonly ids = new Set<string>();

  /** Entries read ahead or in flight: what counts against the consumer's `batch + concurrency`. */
  get occupied(): number {
    return this.buffer.length + this.running.size;
  }

  get inFlight(): number {
    return this.running.size;
  }

  /** Every held id (to renew them). */
  all(): string[] {
    return [...this.ids];
  }

  /** Buffers the entries not held yet; returns how many that was. */
  take(entries: readonly HeldEntry[]): number {
    let added = 0;
    for (const entry of entries) {
      if (this.ids.has(entry.id)) continue;
      this.ids.add(entry.id);
      this.buffer.push(entry);
      added += 1;
    }
    return added;
  }

  /** The next buffered entry, now in flight; undefined when none is buffered. */
  next(): HeldEntry | undefined {
    const entry = this.buffer.shift();
    if (entry) this.running.add(entry.id);
    return entry;
  }

  /** The handler of `id` returned; the id stays held until `release` (its XACK). */
  finished(id: string): void {
    this.running.delete(id);
  }

  /** `ids` are not held any more (acked, failed over to `store.fail`, or given up). */
  release(ids: Iterable<string>): void {
    for (const id of ids) this.ids.delete(id);
  }

  /** Forgets the entries read ahead: they stay pending in Redis, for a later claim. */
  dropBuffered(): void {
    this.release(this.buffer.splice(0).map((entry) => entry.id));
  }

  /**
   * Of `ids` no longer pending for this consumer (another consumer reclaimed them), drops the
   * buffered ones and returns those it held unacked: buffered, or in flight (left to finish).
   */
  lose(ids: readonly string[]): string[] {
    const lost: string[] = [];
    for (const id of ids) {
      const index = this.buffer.findIndex((entry) => entry.id === id);
      if (index !== -1) {
        this.buffer.splice(index, 1);
        this.ids.delete(id);
        lost.push(id);
      } else if (this.running.has(id)) {
        lost.push(id);
      }
    }
    return lost;
  }
}
