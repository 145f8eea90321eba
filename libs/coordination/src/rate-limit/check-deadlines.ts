/** What `CheckDeadlines.within()` resolves with when the deadline passed first. */
export const TIMED_OUT: unique symbol = Symbol('rate-limit check timed out');

/** One call in flight, linked in deadline order (every call gets the same timeout, so arrival order is deadline order). */
class InFlight {
  prev: InFlight | null = null;
  next: InFlight | null = null;
  linked = true;

  constructor(
    readonly deadline: number,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: unknown) => void,
  ) {}
}

/**
 * Bounds how long rate-limit checks wait for Redis (`rateLimit.timeoutMs`) with ONE timer for
 * all calls in flight, rather than a timer (or an AbortController) per call: calls are kept in
 * a list in arrival order, which is also deadline order since they share one timeout (a call
 * given an earlier deadline of its own is linked further up, walking back from the tail); a call
 * that settles unlinks itself in O(1), and the timer, armed for the oldest call only, answers
 * every call past its deadline with TIMED_OUT. While answers come back in time the timer fires
 * about once per timeout and finds nothing to do.
 *
 * A call answered TIMED_OUT is unlinked at once; its work settling later is ignored (an error
 * included, so it is never an unhandled rejection) and nothing of it stays behind.
 *
 * @example
 * const deadlines = new CheckDeadlines(250);
 * const answer = await deadlines.within(store.check(keys, policies, 1, true));
 * if (answer === TIMED_OUT) return fallback.check(keys, policies, 1, true);
 */
export class CheckDeadlines {
  private head: InFlight | null = null;
  private tail: InFlight | null = null;
  private count = 0;
  private timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (`performance.now()` time). */
  private armedFor = 0;

  constructor(private readonly timeoutMs: number) {}

  /** Calls waiting for their answer now. */
  get size(): number {
    return this.count;
  }

  /**
   * `work`'s outcome, or TIMED_OUT once `timeoutMs` have passed without one; or, given
   * `deadline` (a `performance.now()` time), once that has passed: the second script call of a
   * check gets only what is left of the check's time.
   */
  within<T>(work: Promise<T>, deadline?: number): Promise<T | typeof TIMED_OUT> {
    return new Promise<T | typeof TIMED_OUT>((resolve, reject) => {
      const now = performance.now();
      const call = new InFlight(deadline ?? now + this.timeoutMs, resolve as (value: unknown) => void, reject);
      this.link(call, now);
      work.then(
        (value) => {
          if (this.unlink(call)) call.resolve(value);
        },
        (error: unknown) => {
          if (this.unlink(call)) call.reject(error);
        },
      );
    });
  }

  /** Answers every call still waiting with TIMED_OUT and stops the timer (shutdown). */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.head) this.expire(this.head);
  }

  /** Links `call` in deadline order: at the tail unless it was given an earlier deadline (rare: a walk back from the tail). */
  private link(call: InFlight, now: number): void {
    let after = this.tail;
    while (after && after.deadline > call.deadline) after = after.prev;
    call.prev = after;
    call.next = after ? after.next : this.head;
    if (call.next) call.next.prev = call;
    else this.tail = call;
    if (after) after.next = call;
    else this.head = call;
    this.count++;
    // Armed only when idle, or for a new head due before the timer: an armed timer re-arms
    // itself for the oldest call when it fires.
    if (this.timer === undefined) this.arm(call.deadline, now);
    else if (this.head === call && call.deadline < this.armedFor) {
      clearTimeout(this.timer);
      this.arm(call.deadline, now);
    }
  }

  /** False when the call was already answered (timed out). */
  private unlink(call: InFlight): boolean {
    if (!call.linked) return false;
    call.linked = false;
    if (call.prev) call.prev.next = call.next;
    else this.head = call.next;
    if (call.next) call.next.prev = call.prev;
    else this.tail = call.prev;
    call.prev = call.next = null;
    this.count--;
    return true;
  }

  private expire(call: InFlight): void {
    this.unlink(call);
    call.resolve(TIMED_OUT);
  }

  /** Arms the timer for `deadline`, `now` being the current `performance.now()`. */
  private arm(deadline: number, now: number): void {
    this.armedFor = deadline;
    this.timer = setTimeout(this.fire, Math.max(1, Math.ceil(deadline - now)));
    // Pending commands keep their sockets (and the process) alive; this timer need not.
    this.timer.unref();
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    const now = performance.now();
    // Timers may fire a little early or late: a call within 1 ms of its deadline is due.
    while (this.head && this.head.deadline <= now + 1) this.expire(this.head);
    if (this.head) this.arm(this.head.deadline, now);
  };
}
