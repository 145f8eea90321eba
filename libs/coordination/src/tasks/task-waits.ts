import { TaskShutdownError, TaskTimeoutError } from './task.errors.js';

/**
 * The `waitFor` calls TaskService has pending, so that shutdown ends them with TaskShutdownError
 * whatever the backend does with them (the memory backend drops its queue, the redis one closes
 * its connections): a wait still pending once the backend closed rejects; one the backend ends
 * during the close with "not found" or an error (other than its own timeout) rejects too; a
 * `waitFor` called after shutdown began rejects at once. A task that finishes while running
 * tasks are let finish still resolves its waits.
 *
 * @example
 * const stored = await waits.track(id, backend.waitFor(name, tenant, jobId, timeoutMs));
 * // at shutdown:
 * waits.closing(); await backend.close(timeoutMs); waits.closed();
 */
export class PendingWaits {
  private readonly pending = new Set<() => void>();
  private shuttingDown = false;

  /** Throws TaskShutdownError once shutdown began: no new wait starts then. */
  assertOpen(id: string): void {
    if (this.shuttingDown) throw new TaskShutdownError(id);
  }

  /** `waiting`, ended with TaskShutdownError by shutdown (see the class). */
  track<T>(id: string, waiting: Promise<T | null>): Promise<T | null> {
    return new Promise<T | null>((resolve, reject) => {
      const stop = () => {
        this.pending.delete(stop);
        reject(new TaskShutdownError(id));
      };
      this.pending.add(stop);
      waiting.then(
        (value) => (value === null && this.shuttingDown ? stop() : (this.pending.delete(stop), resolve(value))),
        (error: unknown) => (this.shuttingDown && !(error instanceof TaskTimeoutError) ? stop() : (this.pending.delete(stop), reject(error))),
      );
    });
  }

  /** Shutdown begins: waits the backend ends from now on without their task reject. */
  closing(): void {
    this.shuttingDown = true;
  }

  /** The backend closed: every wait still pending rejects. */
  closed(): void {
    this.shuttingDown = true;
    for (const stop of [...this.pending]) stop();
  }
}
