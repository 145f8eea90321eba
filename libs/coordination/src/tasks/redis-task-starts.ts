import { Logger } from '@nestjs/common';
import type { RedisConnection } from '../connection/redis-connection.js';
import { TASK_SCRIPTS as S } from './task.scripts.js';

/** A first-start removal that failed is sent again after this long (or sooner, with the next flush). */
const RESEND_MS = 1_000;

/**
 * The first starts of a RedisTaskBackend's workers: each takes its job id out of its tenant's
 * waiting set (`start.lua`). Fire-and-forget: the starts of one turn of the event loop are
 * coalesced per waiting set and sent as one auto-pipelined script each (setImmediate), so a run
 * adds no round trip, and the removal is on the wire before the handler's first reply can come
 * back. A removal that fails (Redis unreachable, breaker open) is kept and sent again with the
 * next flush, at the latest after 1 s: it is idempotent, so a lost reply costs nothing. `add` and
 * `depth` flush first (same connection, so Redis applies it before their own commands).
 *
 * @example
 * const starts = new RedisTaskStarts(connection);
 * starts.started(keys.waiting, 'job-1');
 * starts.flush();
 */
export class RedisTaskStarts {
  private readonly logger = new Logger('Coordination:Tasks');
  /** Job ids not sent yet, per waiting set. */
  private readonly pending = new Map<string, string[]>();
  private immediate?: NodeJS.Immediate;
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly connection: RedisConnection) {}

  /** Job `jobId` left waiting set `waiting` (its first start). */
  started(waiting: string, jobId: string): void {
    const ids = this.pending.get(waiting);
    if (ids) ids.push(jobId);
    else this.pending.set(waiting, [jobId]);
    this.immediate ??= setImmediate(this.flush);
  }

  /** Sends what is pending; failures are kept for the next flush. */
  readonly flush = (): void => {
    clearImmediate(this.immediate);
    this.immediate = undefined;
    if (this.pending.size === 0) return;
    for (const [waiting, ids] of this.pending) {
      this.connection.runScript(S.start, [waiting], ids).catch((error: unknown) => {
        this.logger.warn(`Waiting set ${waiting} not updated${this.closed ? '' : ' (sent again)'}: ${error instanceof Error ? error.message : String(error)}`);
        if (this.closed) return;
        for (const id of ids) this.started(waiting, id);
        clearImmediate(this.immediate);
        this.immediate = undefined;
        this.timer ??= setTimeout(() => {
          this.timer = undefined;
          this.flush();
        }, RESEND_MS).unref();
      });
    }
    this.pending.clear();
  };

  /** Sends what is pending one last time and stops resending. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
  }

  get size(): number {
    return this.pending.size;
  }
}
