import { StreamGroupMissingError } from './stream-group-missing.js';

/**
 * How StreamAcks sends acknowledgements and reports them.
 *
 * @example
 * const sink: AckSink = { send: (ids) => store.ack(keys, group, ids), settled: (ids) => held.release(ids), retryDelayMs: (n) => 100 * 2 ** n };
 */
export interface AckSink {
  /** One XACK of `ids`. */
  send(ids: string[]): Promise<unknown>;
  /** `ids` need no ack any more: acked (`acked` true), or their group is gone. */
  settled(ids: readonly string[], acked: boolean): void;
  /** Delay before sending again after failed attempt `attempt` (1, 2, ...). */
  retryDelayMs(attempt: number): number;
}

/**
 * The acknowledgements of one consumer, coalesced: the ids handled in one tick go in one XACK
 * (the next one starts when the one in flight returns). While Redis is unreachable they are
 * kept and sent again with backoff; an entry is pending until its XACK lands, so one that never
 * does is delivered again (at least once). A deleted group has nothing left to ack.
 *
 * @example
 * const acks = new StreamAcks({ send: (ids) => store.ack(keys, group, ids), settled: (ids) => forget(ids), retryDelayMs: (n) => backoff(n) });
 * acks.add(entry.id);
 * await acks.flush(); // after an outage: now, not after the retry delay
 * const unsent = await acks.close(); // at stop: one last attempt
 */
export class StreamAcks {
  private queue: string[] = [];
  private sending: Promise<void> | null = null;
  private timer?: NodeJS.Immediate | NodeJS.Timeout;
  private attempt = 0;
  /** Closing: no more retries on a timer; closed: nothing more is sent. */
  private closing = false;
  private closed = false;

  constructor(private readonly sink: AckSink) {}

  /** Queues `id` for the XACK of this tick; false once closed (the entry stays pending). */
  add(id: string): boolean {
    if (this.closed) return false;
    this.queue.push(id);
    this.timer ??= setImmediate(this.sendQueued);
    return true;
  }

  /**
   * Sends what is queued now, without waiting out a retry delay (Redis is back: entries handled
   * during an outage should not look idle to the other consumers any longer than needed); resolves
   * once that XACK returned, whether it landed or not (a failed one is retried as before).
   */
  async flush(): Promise<void> {
    this.cancelTimer();
    await this.sending;
    this.cancelTimer(); // the send that returned may have scheduled the next one
    this.sendQueued();
    await this.sending;
  }

  /** Sends what is queued (one last attempt) and stops; returns how many acks could not be sent. */
  async close(): Promise<number> {
    this.closing = true;
    await this.flush();
    this.closed = true;
    return this.queue.length;
  }

  private cancelTimer(): void {
    clearTimeout(this.timer as NodeJS.Timeout);
    clearImmediate(this.timer as NodeJS.Immediate);
    this.timer = undefined;
  }

  private readonly sendQueued = (): void => {
    this.timer = undefined;
    if (this.closed || this.sending || this.queue.length === 0) return; // the send in flight schedules the next one
    const ids = this.queue;
    this.queue = [];
    this.sending = this.send(ids);
  };

  private async send(ids: string[]): Promise<void> {
    try {
      await this.sink.send(ids);
      this.attempt = 0;
      this.sink.settled(ids, true);
    } catch (error) {
      if (error instanceof StreamGroupMissingError) {
        this.sink.settled(ids, false);
      } else {
        this.queue = ids.concat(this.queue);
        if (!this.closing) this.timer ??= setTimeout(this.sendQueued, this.sink.retryDelayMs(++this.attempt));
      }
    } finally {
      this.sending = null;
    }
    if (this.queue.length > 0 && !this.closing) this.timer ??= setImmediate(this.sendQueued);
  }
}
