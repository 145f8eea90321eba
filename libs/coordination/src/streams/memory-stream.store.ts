import type { Clock } from '../core/clock.js';
import type { PendingSummary, StreamGroupInfo } from './stream.types.js';
import { StreamGroupMissingError } from './stream-group-missing.js';
import type {
  ClaimReply, ClaimRequest, DeliveredEntry, FailOutcome, RawDeadLetter, RawEntry, StreamKeyPair, StreamReader, StreamStore,
} from './stream-store.interface.js';

/** A position in a log (an id as numbers, for ordering). */
interface Position { readonly ms: number; readonly seq: number }
/** An id with its position. */
interface Cursor extends Position { readonly id: string }
/** An entry of a log with its fields, as XADD stored them. */
interface Entry extends Cursor { readonly fields: Readonly<Record<string, string>> }

/** An entry of a group's PEL: delivered to `consumer`, not acknowledged yet. */
interface Pending { consumer: string; deliveries: number; deliveredAt: number }
/** Pending entries a claim took, and where its pass continues. */
interface Taken { readonly entries: Array<{ entry: Entry; pending: Pending }>; readonly next: string | null }
/**
 * A consumer group. Ids enter the PEL only through `>` reads, which deliver in increasing id order,
 * so the Map's insertion order is id order (what XPENDING and XAUTOCLAIM scan by).
 */
interface Group { last: Cursor; readonly pel: Map<string, Pending>; readonly consumers: Set<string> }

/** One stream key: its entries in id order, the last id ever generated (kept through trimming), its groups. */
interface Log { readonly entries: Entry[]; last: Cursor; readonly groups: Map<string, Group> }

const ZERO: Cursor = { id: '0-0', ms: 0, seq: 0 };

function parseId(id: string): Position {
  const dash = id.indexOf('-');
  return dash < 0 ? { ms: Number(id), seq: 0 } : { ms: Number(id.slice(0, dash)), seq: Number(id.slice(dash + 1)) };
}

function compare(a: Position, b: Position): number {
  return a.ms === b.ms ? a.seq - b.seq : a.ms - b.ms;
}

/** Index of the first entry after `at` (or at it, when `inclusive`): binary search over the id order. */
function indexFrom(entries: readonly Entry[], at: Position, inclusive: boolean): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const order = compare(entries[mid], at);
    if (order > 0 || (inclusive && order === 0)) high = mid;
    else low = mid + 1;
  }
  return low;
}

/** Index of the entry with this id, -1 when there is none. */
function indexOfId(entries: readonly Entry[], id: string): number {
  const position = parseId(id);
  const at = indexFrom(entries, position, true);
  return at < entries.length && compare(entries[at], position) === 0 ? at : -1;
}

function toRaw(entry: Entry): RawEntry {
  const { d, g } = entry.fields;
  return g === undefined ? { id: entry.id, data: d } : { id: entry.id, data: d, onlyGroup: g };
}

function toDeadLetter({ id, fields: f }: Entry): RawDeadLetter {
  return { id, data: f.d, entryId: f.e, group: f.g, consumer: f.c, error: f.err, deliveries: Number(f.n) };
}

/**
 * The stream store in process memory, with the contract of `RedisStreamStore`
 * (test/contract/stores/stream-store.contract.ts): per key an ordered log of entries with ids
 * `<ms>-<seq>` from the injected clock, strictly increasing even when the clock stands still or
 * goes back (as XADD); consumer groups with their last delivered id, pending entries (consumer,
 * delivery count, delivery time on the clock) and consumers; dead letters in a second log.
 * Trimming is exact where Redis trims approximately. Blocking reads wait for an append to the
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
  private readonly waiters = new Map<string, Set<() => void>>();

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
    log.groups.set(group, { last: startFrom === 'earliest' ? ZERO : log.last, pel: new Map(), consumers: new Set() });
  }

  openReader(): StreamReader {
    let closed = false;
    const wakeOnClose = new Set<() => void>();
    return {
      readNew: async (keys, group, consumer, count, blockMs) => {
        // As XREADGROUP BLOCK 0, a read with blockMs 0 waits until an append (or close).
        const deadline = blockMs > 0 ? performance.now() + blockMs : Infinity;
        for (;;) {
          if (closed) return [];
          const entries = this.deliverNew(keys, group, consumer, count);
          if (entries.length > 0) return entries;
          const left = deadline - performance.now();
          if (left <= 0) return [];
          await this.nextAppend(keys.stream, left, wakeOnClose);
        }
      },
      close: async () => {
        closed = true;
        for (const wake of [...wakeOnClose]) wake();
      },
    };
  }

  async claim(keys: StreamKeyPair, group: string, consumer: string, request: ClaimRequest): Promise<ClaimReply> {
    const { log, g } = this.group(keys, group);
    g.consumers.add(consumer);
    const taken = request.mode === 'own' ? this.takeOwn(log, g, consumer, request) : this.takeIdle(log, g, consumer, request);
    const entries: DeliveredEntry[] = [];
    let deadLettered = 0;
    for (const { entry, pending } of taken.entries) {
      if (pending.deliveries <= request.maxDeliveries) {
        entries.push({ ...toRaw(entry), deliveries: pending.deliveries });
        continue;
      }
      // As claim.lua: the dead letter counts the deliveries the entry had, not this claim.
      const had = pending.deliveries - 1;
      const error = `delivered ${had} times without an acknowledgement (its consumers crashed or stalled)`;
      this.bury(keys, entry, group, consumer, error, had, request.deadMaxLen);
      g.pel.delete(entry.id);
      deadLettered += 1;
    }
    return { entries, deadLettered, next: taken.next };
  }

  async ack(keys: StreamKeyPair, group: string, ids: readonly string[]): Promise<number> {
    const { g } = this.group(keys, group);
    let acked = 0;
    for (const id of ids) if (g.pel.delete(id)) acked += 1;
    return acked;
  }

  async touch(keys: StreamKeyPair, group: string, consumer: string, ids: readonly string[]): Promise<string[]> {
    const { log, g } = this.group(keys, group);
    const now = this.clock.now();
    const lost: string[] = [];
    for (const id of ids) {
      const pending = g.pel.get(id);
      if (pending?.consumer !== consumer) lost.push(id);
      else if (this.find(log, id)) pending.deliveredAt = now;
      else {
        // As XCLAIM: an entry trimmed away while pending leaves the PEL.
        g.pel.delete(id);
        lost.push(id);
      }
    }
    return lost;
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
    return entry ? 'dead' : 'gone';
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
    if (maxLen > 0 && log.entries.length > maxLen) log.entries.splice(0, log.entries.length - maxLen);
    const waiting = this.waiters.get(key);
    if (waiting) for (const wake of [...waiting]) wake();
    return entry.id;
  }

  /** XREADGROUP ... STREAMS key `>`: the entries after the group's last delivered id, now pending for `consumer`. */
  private deliverNew(keys: StreamKeyPair, group: string, consumer: string, count: number): RawEntry[] {
    const { log, g } = this.group(keys, group);
    g.consumers.add(consumer);
    const from = indexFrom(log.entries, g.last, false);
    const batch = log.entries.slice(from, from + count);
    if (batch.length === 0) return [];
    const now = this.clock.now();
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
    return { entries: this.redeliver(log, g, consumer, ids), next: ids.length < r.count ? null : ids[ids.length - 1] };
  }

  /**
   * XAUTOCLAIM from `cursor`: entries of any consumer idle for `minIdleMs`, each delivery counted.
   * As on Redis, it examines at most 10 × count PEL entries and trimmed ones count against `count`.
   */
  private takeIdle(log: Log, g: Group, consumer: string, r: Extract<ClaimRequest, { mode: 'idle' }>): Taken {
    const cursor = parseId(r.cursor);
    const scan = [...g.pel].filter(([id]) => compare(parseId(id), cursor) >= 0);
    const now = this.clock.now();
    const ids: string[] = [];
    let examined = 0;
    let room = r.count;
    for (; examined < scan.length && examined < r.count * 10 && room > 0; examined += 1) {
      const [id, pending] = scan[examined];
      if (this.find(log, id) && r.minIdleMs > 0 && now - pending.deliveredAt < r.minIdleMs) continue;
      ids.push(id);
      room -= 1;
    }
    return { entries: this.redeliver(log, g, consumer, ids), next: examined < scan.length ? scan[examined][0] : null };
  }

  /** Hands pending `ids` to `consumer` with one more delivery; ids whose entry was trimmed away leave the PEL. */
  private redeliver(log: Log, g: Group, consumer: string, ids: readonly string[]): Taken['entries'] {
    const now = this.clock.now();
    const taken: Taken['entries'] = [];
    for (const id of ids) {
      const pending = g.pel.get(id)!;
      const entry = this.find(log, id);
      if (!entry) {
        g.pel.delete(id);
        continue;
      }
      pending.consumer = consumer;
      pending.deliveries += 1;
      pending.deliveredAt = now;
      taken.push({ entry, pending });
    }
    return taken;
  }

  /** Writes a dead letter for `entry` (fields as the Redis scripts write them). */
  private bury(keys: StreamKeyPair, entry: Entry, group: string, consumer: string, error: string, deliveries: number, deadMaxLen: number): void {
    this.add(keys.dead, { d: entry.fields.d, e: entry.id, g: group, c: consumer, err: error, n: String(deliveries) }, deadMaxLen);
  }

  /** Resolves after the next append to `key`, after `ms` of real time, or when the reader closes. */
  private nextAppend(key: string, ms: number, wakeOnClose: Set<() => void>): Promise<void> {
    return new Promise((resolve) => {
      const waiting = this.waiters.get(key) ?? new Set<() => void>();
      this.waiters.set(key, waiting);
      const timer = Number.isFinite(ms) ? setTimeout(() => wake(), ms) : undefined;
      const wake = () => {
        clearTimeout(timer);
        waiting.delete(wake);
        wakeOnClose.delete(wake);
        if (waiting.size === 0 && this.waiters.get(key) === waiting) this.waiters.delete(key);
        resolve();
      };
      waiting.add(wake);
      wakeOnClose.add(wake);
    });
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
