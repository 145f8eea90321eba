import { BehaviorSubject, type Observable } from 'rxjs';
import type { LeadershipChange } from './leader.types.js';

/**
 * @internal A role's leadership state on one module instance (shared by its successive campaigns).
 * Changes are delivered in order: one made while an emission is in progress (a subscriber that
 * resigns on `leader: true`) is queued until every subscriber has seen the current one, so no
 * subscriber sees them out of order or ends on a stale state.
 *
 * @example
 * const state = new LeadershipState({ role: 'billing', tenant: 'acme', leader: false });
 * state.next({ role: 'billing', tenant: 'acme', leader: true, fencingToken: 7 });
 */
export class LeadershipState {
  private readonly subject: BehaviorSubject<LeadershipChange>;
  /** Changes waiting while an emission is in progress (undefined when none is). */
  private queue: LeadershipChange[] | undefined;

  constructor(initial: LeadershipChange) {
    this.subject = new BehaviorSubject(initial);
  }

  get changes$(): Observable<LeadershipChange> {
    return this.subject.asObservable();
  }

  next(change: LeadershipChange): void {
    if (this.queue) {
      this.queue.push(change);
      return;
    }
    this.queue = [change];
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) this.subject.next(next);
    } finally {
      this.queue = undefined;
    }
  }

  complete(): void {
    this.subject.complete();
  }
}
