/**
 * An abort whose AbortController is only created when someone reads `signal`: most handlers never
 * look at it, and an AbortController per task is a measurable share of a worker's time. Reading
 * `signal` after `abort()` gives an already-aborted signal.
 *
 * @example
 * const abort = new LazyAbort();
 * const context = { get signal() { return abort.signal; } };
 * abort.abort(new Error('task worker closed'));
 * context.signal.aborted; // true
 */
export class LazyAbort {
  private controller?: AbortController;
  private reason?: unknown;
  aborted = false;

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}
