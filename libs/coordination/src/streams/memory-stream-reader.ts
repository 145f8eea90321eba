import type { RawEntry, StreamKeyPair, StreamReader } from './stream-store.interface.js';

/**
 * Wake-ups of MemoryStreamStore's blocked readers, per stream key: every append to a key wakes
 * the readers blocked on it, in the order they blocked (as Redis serves blocked clients).
 *
 * @example
 * const wakeups = new AppendWakeups();
 * wakeups.appended(keys.stream); // after an append
 */
export class AppendWakeups {
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Wakes every reader blocked on `key`. */
  appended(key: string): void {
    const waiting = this.waiters.get(key);
    if (waiting) for (const wake of [...waiting]) wake();
  }

  /** Resolves after the next append to `key`, after `ms` of real time, or when a wake-up in `wakeOnClose` is called. */
  next(key: string, ms: number, wakeOnClose: Set<() => void>): Promise<void> {
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
}

/** XREADGROUP ... `>` without blocking: the new entries now pending for `consumer` (or `[]`). */
export type DeliverNew = (keys: StreamKeyPair, group: string, consumer: string, count: number) => RawEntry[];

/**
 * A StreamReader of MemoryStreamStore: `deliverNew` at once, else wait for an append to the
 * stream or a real timer of `blockMs` (not the store's clock, which a test may hold still), and
 * try again; `close()` resolves a read in flight with `[]` (it took nothing: entries are taken
 * only when the read returns them). As XREADGROUP BLOCK 0, a read with
 * blockMs 0 waits until an append (or close).
 *
 * @example
 * openReader(): StreamReader { return memoryStreamReader((k, g, c, n) => this.deliverNew(k, g, c, n), this.wakeups); }
 */
export function memoryStreamReader(deliverNew: DeliverNew, wakeups: AppendWakeups): StreamReader {
  let closed = false;
  const wakeOnClose = new Set<() => void>();
  return {
    readNew: async (keys, group, consumer, count, blockMs) => {
      const deadline = blockMs > 0 ? performance.now() + blockMs : Infinity;
      for (;;) {
        if (closed) return [];
        const entries = deliverNew(keys, group, consumer, count);
        if (entries.length > 0) return entries;
        const left = deadline - performance.now();
        if (left <= 0) return [];
        await wakeups.next(keys.stream, left, wakeOnClose);
      }
    },
    close: async () => {
      closed = true;
      for (const wake of [...wakeOnClose]) wake();
    },
  };
}
