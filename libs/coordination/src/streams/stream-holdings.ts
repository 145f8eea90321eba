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
 * claim that returns an entry the consumer already holds does not start it twice. An entry
 * another consumer took over (a renewal reports it lost) is reported once and renewed no more;
 * its handler, when it runs, finishes.
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
  /** Held ids no longer pending for this consumer (handled or running): reported, and renewed no more. */
  private readonly lost = new Set<string>();

  /** Entries read ahead or in flight: what counts against the consumer's `batch + concurrency`. */
  get occupied(): number {
    return this.buffer.length + this.running.size;
  }

  get inFlight(): number {
    return this.running.size;
  }

  /** Entries read ahead, not started. */
  get buffered(): number {
    return this.buffer.length;
  }

  /** The held ids still pending for this consumer, to renew. */
  renewable(): string[] {
    const ids: string[] = [];
    for (const id of this.ids) if (!this.lost.has(id)) ids.push(id);
    return ids;
  }

  /** Buffers the entries not held yet; returns how many that was. An entry lost and claimed back is renewed again, not started twice. */
  take(entries: readonly HeldEntry[]): number {
    let added = 0;
    for (const entry of entries) {
      if (this.ids.has(entry.id)) {
        this.lost.delete(entry.id);
        continue;
      }
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
    for (const id of ids) {
      this.ids.delete(id);
      this.lost.delete(id);
    }
  }

  /** Forgets the entries read ahead and returns their ids: they stay pending in Redis, for a later claim. */
  dropBuffered(): string[] {
    const ids = this.buffer.splice(0).map((entry) => entry.id);
    this.release(ids);
    return ids;
  }

  /**
   * Of `ids` no longer pending for this consumer (another consumer reclaimed them), drops the
   * buffered ones and returns those not reported before that it held unhandled: buffered, or in
   * flight (left to finish). None of them is renewed again.
   */
  lose(ids: readonly string[]): string[] {
    const lost: string[] = [];
    for (const id of ids) {
      if (!this.ids.has(id) || this.lost.has(id)) continue;
      const index = this.buffer.findIndex((entry) => entry.id === id);
      if (index !== -1) {
        this.buffer.splice(index, 1);
        this.ids.delete(id);
        lost.push(id);
        continue;
      }
      this.lost.add(id);
      if (this.running.has(id)) lost.push(id);
    }
    return lost;
  }
}
