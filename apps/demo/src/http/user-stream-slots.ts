import { HttpException, HttpStatus } from '@nestjs/common';

/**
 * Slots of one kind of long-lived response (an SSE stream) on this instance: a user holds at
 * most `maxPerUser` at once, and the next is refused with 429 naming the user. Counted per
 * instance, because what a stream costs (a subscription, one more write of every message) is
 * paid by the instance that serves it: one user must not stall it.
 *
 * @example
 * const slots = new UserStreamSlots(5, 'event streams');
 * slots.take(user.id, closed); // the request's @SseSignal(): the slot is free again once it aborts
 */
export class UserStreamSlots {
  private readonly openByUser = new Map<string, number>();

  /** `what` names the streams in the 429's message (`event streams`, `dashboard streams`). */
  constructor(private readonly maxPerUser: number, private readonly what: string) {}

  /**
   * Takes one of `userId`'s slots until `closed` (the request's SSE signal: aborted on
   * disconnect, completion or error) aborts.
   *
   * @throws HttpException 429 when the user already holds `maxPerUser` of them on this instance
   */
  take(userId: string, closed: AbortSignal): void {
    const held = this.held(userId);
    if (held >= this.maxPerUser) {
      throw new HttpException(
        { statusCode: HttpStatus.TOO_MANY_REQUESTS, error: 'Too Many Requests', message: `User "${userId}" already has ${held} open ${this.what} on this instance (the most allowed); close one first` },
        HttpStatus.TOO_MANY_REQUESTS,
      );
    }
    this.openByUser.set(userId, held + 1);
    const release = () => {
      const left = this.held(userId) - 1;
      if (left > 0) this.openByUser.set(userId, left);
      else this.openByUser.delete(userId);
    };
    // The signal aborts exactly once, on every way the stream ends (also when the client left before it started).
    if (closed.aborted) release();
    else closed.addEventListener('abort', release, { once: true });
  }

  /** Slots `userId` holds on this instance now. */
  held(userId: string): number {
    return this.openByUser.get(userId) ?? 0;
  }
}
