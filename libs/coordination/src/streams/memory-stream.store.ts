import type { Clock } from '../core/clock.js';
import type { PendingSummary, StreamGroupInfo } from './stream.types.js';
import { compare, indexFrom, indexOfId, parseId, toDeadLetter, toRaw, trim, ZERO, type Cursor, type Entry } from './memory-stream-ids.js';
import { AppendWakeups, memoryStreamReader } from './memory-stream-reader.js';
import { StreamGroupMissingError } from './stream-group-missing.js';
import type {
  ClaimReply, ClaimRequest, DeliveredEntry, FailOutcome, RawDeadLetter, RawEntry, StreamKeyPair, StreamReader, StreamStore,
} from './stream-store.interface.js';

/** An entry of a group's PEL: delivered to `consumer`, not acknowledged yet. */
interface Pending { consumer: string; deliveries: number; deliveredAt: number }
/** Pending entries a claim took, how many it found trimmed away, and where its pass continues. */
interface Taken { readonly entries: Array<{ entry: Entry; pending: Pending }>; readonly trimmed: number; readonly next: string | null }
/**
 * A consumer group. Ids enter the PEL only through `>` reads, which deliver in increasing id order,
 * so the Map's insertion order is id order (what XPENDING and XAUTOCLAIM scan by). Consumers map
 * to the last time they were seen (XINFO CONSUMERS `idle`), as Redis 7.0 counts it: created and
 * seen by a read that delivered entries, a read of their own history (even an empty one), a
 * claim that took entries and a renewal; not by a read or a claim that found nothing.
 */
interface Group { last: Cursor; readonly pel: Map<string, Pending>; readonly consumers: Map<string, number> }

/** One stream key: its entries in id order, the last id ever generated (kept through trimming), its groups. */
interface Log { readonly entries: Entry[]; last: Cursor; readonly groups: Map<string, Group> }

/**
 * The stream store in process memory, with the contract of `RedisStreamStore`
 * (test/contract/stores/stream-store.contract.ts): per key an ordered log of entries with ids
 * `<ms>-<seq>` from the injected clock, strictly increasing even when the clock stands still or
 * goes back (as XADD); consumer groups with their last delivered id, pending entries (consumer,
 * delivery count, delivery time on the clock) and consumers (with the time they were last seen);
 * dead letters in a second log. Trimming is approximate as on Redis, in chunks of 100 entries
 * (memory-stream-ids.ts), and exact within them. Blocking reads wait for an append to the
 * stream or a real timer of `blockMs` (not the clock, which a test may hold still). Every reply is
 * a new object: no caller shares state with the store.
 *
 * A product feature (the memory driver: local development, users' tests, single-process apps),
 * not a test double; state is local to this module instance.
 *
 * @example
 * const store = new MemoryStreamStore(new ManualClock(1_700_000_000_000));
 * await store.ensureGroup(keys, 'billing', 'earliest');
 * await store.append(keys, '{"orderId":"o-1"}', 10_000);
 * const entries = await store.openReader().readNew(keys, 'billing', 'worker-1', 10, 5_000);
 */
export class MemoryStreamStore implements StreamStore {
  private readonly logs = new Map<string, Log>();
  /** Wake-ups of blocked readers, per stream key; called by every append to it. */
  private readonly wakeups = new AppendWakeups();

  constructor(private readonly clock: Clock) {}

  async append(keys: StreamKeyPair, data: string, maxLen: number): Promise<string> {
    return this.add(keys.stream, { d: data }, maxLen);
  }

  async range(keys: StreamKeyPair, start: string, count: number): Promise<RawEntry[]> {
    const entries = this.logs.get(keys.stream)?.entries ?? [];
    const from = start === '-' ? 0 : start.startsWith('(') ? indexFrom(entries, parseId(start.slice(1)), false) : indexFrom(entries, parseId(start), true);
    return entries.slice(from, from + count).map(toRaw);
  }

  async length(keys: StreamKeyPair): Promise<number> {
    return this.logs.get(keys.stream)?.entries.length ?? 0;
  }

  async ensureGroup(keys: StreamKeyPair, group: string, startFrom: 'earliest' | 'latest'): Promise<void> {
    const log = this.log(keys.stream);
    if (log.groups.has(group)) return;
    log.groups.set(group, { last: startFrom === 'earliest' ? ZERO : log.last, pel: new Map(), consumers: new Map() });
  }

  openReader(): StreamReader {
    return memoryStreamReader((keys, group, consumer, count) => this.deliverNew(keys, group, consumer, count), this.wakeups);
  }

  async claim(keys: StreamKeyPair, group: string, consumer: string, request: ClaimRequest): Promise<ClaimReply> {
    const { log, g } = this.group(keys, group);
    const taken = request.mode === 'own' ? this.takeOwn(log, g, consumer, request) : this.takeIdle(log, g, consumer, request);
    if (request.mode === 'own' || taken.entries.length > 0) g.consumers.set(consumer, this.clock.now());
    const entries: DeliveredEntry[] = [];
    let deadLettered = 0;
    for (const { entry, pending } of taken.entries) {
      if (pending.deliveries <= request.maxDeliveries) {
        entries.push({ ...toRaw(entry), deliveries: pending.deliveries });
        continue;
      }
      // As claim.lua: the dead letter counts the deliveries the entry had, not this claim.
      const had = pending.deliveries - 1;
      const error = `delivered ${had} ${had === 1 ? 'time' : 'times'} without an acknowledgement (its consumers crashed or stalled)`;
      this.bury(keys, entry, group, consumer, error, had, request.deadMaxLen);
      g.pel.delete(entry.id);
      deadLettered += 1;
    }
    return { entries, deadLettered, trimmed: taken.trimmed, next: taken.next };
  }

  async ack(keys: StreamKeyPair, group: string, ids: readonly string[]): Promise<number> {
    // As the Redis store: no ids, no look at the group.
    if (ids.length === 0) return 0;
    const { g } = this.group(keys, group);
    let acked = 0;
    for (const id of ids) if (g.pel.delete(id)) acked += 1;
    return acked;
  }

  async touch(keys: StreamKeyPair, group: string, consumer: string, ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const lost: string[] = [];
    this.reclaimOwn(keys, group, consumer, ids, (pending, now) => (pending.deliveredAt = now), (id) => lost.push(id));
    return lost;
  }

  async release(keys: StreamKeyPair, group: string, consumer: string, ids: readonly string[], idleMs: number): Promise<number> {
    if (ids.length === 0) return 0;
    let released = 0;
    // As XCLAIM IDLE idleMs RETRYCOUNT deliveries - 1: idle already, and this delivery uncounted.
    this.reclaimOwn(keys, group, consumer, ids, (pending, now) => {
      released += 1;
      pending.deliveries = Math.max(pending.deliveries - 1, 0);
      pending.deliveredAt = now - idleMs;
    });
    return released;
  }

  async fail(keys: StreamKeyPair, group: string, consumer: string, id: string, error: string, maxDeliveries: number, deadMaxLen: number): Promise<FailOutcome> {
    const { log, g } = this.group(keys, group);
    const pending = g.pel.get(id);
    if (pending?.consumer !== consumer) return 'gone';
    const entry = this.find(log, id);
    if (entry && pending.deliveries < maxDeliveries) return 'retry';
    // An entry trimmed away while pending is acked: no retry can deliver it.
    if (entry) this.bury(keys, entry, group, consumer, error, pending.deliveries, deadMaxLen);
    g.pel.delete(id);
    return entry ? 'dead' : 'trimmed';
  }

  async pruneConsumers(keys: StreamKeyPair, group: string, idleMs: number): Promise<number> {
    const { g } = this.group(keys, group);
    const holding = new Set<string>();
    for (const { consumer } of g.pel.values()) holding.add(consumer);
    const now = this.clock.now();
    let deleted = 0;
    for (const [consumer, seenAt] of g.consumers) {
      if (holding.has(consumer) || now - seenAt <= idleMs) continue;
      g.consumers.delete(consumer);
      deleted += 1;
    }
    return deleted;
  }

  async pending(keys: StreamKeyPair, group: string): Promise<PendingSummary> {
    const pel = this.logs.get(keys.stream)?.groups.get(group)?.pel;
    if (!pel || pel.size === 0) return { count: 0, oldestId: null, newestId: null, consumers: {} };
    const perConsumer = new Map<string, number>();
    for (const { consumer } of pel.values()) perConsumer.set(consumer, (perConsumer.get(consumer) ?? 0) + 1);
    const ids = [...pel.keys()];
    return { count: pel.size, oldestId: ids[0], newestId: ids[ids.length - 1], consumers: Object.fromEntries(perConsumer) };
  }

  async groups(keys: StreamKeyPair): Promise<StreamGroupInfo[]> {
    const log = this.logs.get(keys.stream);
    if (!log) return [];
    // XINFO GROUPS lists groups in name order. Lag is exact here: the entries after the last delivered id.
    return [...log.groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, g]) => ({
      group: name,
      consumers: g.consumers.size,
      pending: g.pel.size,
      lag: log.entries.length - indexFrom(log.entries, g.last, false),
      lastDeliveredId: g.last.id,
    }));
  }

  async deadLetters(keys: StreamKeyPair, after: string | null, count: number): Promise<RawDeadLetter[]> {
    const entries = this.logs.get(keys.dead)?.entries ?? [];
    const from = after === null ? 0 : indexFrom(entries, parseId(after), false);
    return entries.slice(from, from + count).map(toDeadLetter);
  }

  async replay(keys: StreamKeyPair, deadId: string, maxLen: number): Promise<string | null> {
    const dead = this.logs.get(keys.dead);
    const at = dead ? indexOfId(dead.entries, deadId) : -1;
    if (!dead || at < 0) return null;
    const [letter] = dead.entries.splice(at, 1);
    return this.add(keys.stream, { d: letter.fields.d, g: letter.fields.g }, maxLen);
  }

  /** XADD `key` [MAXLEN n] * fields: the next id after the last one ever generated, then wakes the key's readers. */
  private add(key: string, fields: Record<string, string>, maxLen: number): string {
    const log = this.log(key);
    const now = Math.floor(this.clock.now());
    const [ms, seq] = now > log.last.ms ? [now, 0] : [log.last.ms, log.last.seq + 1];
    const entry: Entry = { id: `${ms}-${seq}`, ms, seq, fields };
    log.entries.push(entry);
    log.last = entry;
    trim(log.entries, maxLen);
    this.wakeups.appended(key);
    return entry.id;
  }

  /** XREADGROUP ... STREAMS key `>`: the entries after the group's last delivered id, now pending for `consumer`. */
  private deliverNew(keys: StreamKeyPair, group: string, consumer: string, count: number): RawEntry[] {
    const { log, g } = this.group(keys, group);
    const from = indexFrom(log.entries, g.last, false);
    const batch = log.entries.slice(from, from + count);
    if (batch.length === 0) return [];
    const now = this.clock.now();
    g.consumers.set(consumer, now);
    for (const entry of batch) g.pel.set(entry.id, { consumer, deliveries: 1, deliveredAt: now });
    g.last = batch[batch.length - 1];
    return batch.map(toRaw);
  }

  /** XREADGROUP with an id: this consumer's pending entries after `after`, each delivery counted. */
  private takeOwn(log: Log, g: Group, consumer: string, r: Extract<ClaimRequest, { mode: 'own' }>): Taken {
    const after = parseId(r.after);
    const ids: string[] = [];
    for (const [id, pending] of g.pel) {
      if (ids.length === r.count) break;
      if (pending.consumer === consumer && compare(parseId(id), after) > 0) ids.push(id);
    }
    return { ...this.redeliver(log, g, consumer, ids), next: ids.length < r.count ? null : ids[ids.length - 1] };
  }

  /**
   * XAUTOCLAIM from `cursor`: entries of any consumer idle for `minIdleMs`, each delivery counted.
   * As on Redis, it examines at most 10 × count PEL entries and trimmed ones count against
   * `count`. It walks the PEL from the cursor and stops there: no copy of the whole list.
   */
  private takeIdle(log: Log, g: Group, consumer: string, r: Extract<ClaimRequest, { mode: 'idle' }>): Taken {
    const cursor = parseId(r.cursor);
    const now = this.clock.now();
    const ids: string[] = [];
    const walk = g.pel.entries();
    let step = walk.next();
    while (!step.done && compare(parseId(step.value[0]), cursor) < 0) step = walk.next();
    for (let looks = r.count * 10; !step.done && looks > 0 && ids.length < r.count; step = walk.next(), looks -= 1) {
      const [id, pending] = step.value;
      if (this.find(log, id) && r.minIdleMs > 0 && now - pending.deliveredAt < r.minIdleMs) continue;
      ids.push(id);
    }
    const next = step.done ? null : step.value[0];
    return { ...this.redeliver(log, g, consumer, ids), next };
  }

  /** Hands pending `ids` to `consumer` with one more delivery; ids whose entry was trimmed away leave the PEL, counted. */
  private redeliver(log: Log, g: Group, consumer: string, ids: readonly string[]): Omit<Taken, 'next'> {
    const now = this.clock.now();
    const taken: Taken['entries'] = [];
    let trimmed = 0;
    for (const id of ids) {
      const pending = g.pel.get(id)!;
      const entry = this.find(log, id);
      if (!entry) {
        g.pel.delete(id);
        trimmed += 1;
        continue;
      }
      pending.consumer = consumer;
      pending.deliveries += 1;
      pending.deliveredAt = now;
      taken.push({ entry, pending });
    }
    return { entries: taken, trimmed };
  }

  /**
   * As XCLAIM <consumer> 0 <id> JUSTID after an owner check: `renew` updates each of `ids` still
   * pending for `consumer` (seen now). The others (another consumer's, acked, unknown, or trimmed
   * away while pending, which leaves the PEL as XCLAIM drops it) go to `lost`.
   */
  private reclaimOwn(
    keys: StreamKeyPair, group: string, consumer: string, ids: readonly string[],
    renew: (pending: Pending, now: number) => void, lost?: (id: string) => void,
  ): void {
    const { log, g } = this.group(keys, group);
    const now = this.clock.now();
    for (const id of ids) {
      const pending = g.pel.get(id);
      if (pending?.consumer === consumer && this.find(log, id)) {
        renew(pending, now);
        g.consumers.set(consumer, now);
        continue;
      }
      if (pending?.consumer === consumer) g.pel.delete(id);
      lost?.(id);
    }
  }

  /** Writes a dead letter for `entry` (fields as the Redis scripts write them). */
  private bury(keys: StreamKeyPair, entry: Entry, group: string, consumer: string, error: string, deliveries: number, deadMaxLen: number): void {
    this.add(keys.dead, { d: entry.fields.d, e: entry.id, g: group, c: consumer, err: error, n: String(deliveries) }, deadMaxLen);
  }

  private log(key: string): Log {
    let log = this.logs.get(key);
    if (!log) this.logs.set(key, (log = { entries: [], last: ZERO, groups: new Map() }));
    return log;
  }

  private group(keys: StreamKeyPair, group: string): { log: Log; g: Group } {
    const log = this.logs.get(keys.stream);
    const g = log?.groups.get(group);
    if (!log || !g) throw new StreamGroupMissingError(keys.stream, group);
    return { log, g };
  }

  private find(log: Log, id: string): Entry | undefined {
    return log.entries[indexOfId(log.entries, id)];
  }
}
