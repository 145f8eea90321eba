import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type MessageEvent } from '@nestjs/common';
import { EventBus, SessionService, type Session, type SessionEndedEvent } from '@nest-coordination/core';
import { Observable, ReplaySubject, filter, finalize, map, share, takeUntil, type Subscription } from 'rxjs';
import type { AuthUser } from '../auth/auth-user.model.js';
import { UserStreamSlots } from '../http/user-stream-slots.js';
import { DASHBOARD_CONFIG, DASHBOARD_LIMITS, type DashboardConfig, type DashboardLimits } from './dashboard.config.js';
import type { DashboardSnapshot } from './dashboard.types.js';
import { DashboardService } from './dashboard.service.js';
import { lastingEvents } from './lasting-events.js';

/** The lock events after which a company's snapshot is taken at once (renewals change nothing shown). */
const LOCK_CHANGES = new Set(['lock.acquired', 'lock.released', 'lock.lost']);

/** The session events that say a session is over (logout, eviction, regeneration; logout everywhere; expiry). */
const SESSION_ENDS = new Set(['session.destroyed', 'session.revoked', 'session.expired']);

/**
 * The last message of a stream opened with a session once that session has ended (logged out,
 * logged out everywhere, evicted, expired): the page goes back to its login form at once rather
 * than reconnect to be refused.
 *
 * @example
 * source.addEventListener('session-ended', () => showLogin()); // the page's EventSource
 */
export const SESSION_ENDED: MessageEvent = {
  type: 'session-ended',
  data: { code: 'E_SESSION_ENDED', detail: 'The session this stream was opened with has ended; log in again' },
};

/**
 * The live snapshots of `GET /dashboard/stream` on this instance. The clients of one company
 * share one feed: a snapshot every `intervalMs`, and one at once whenever a lock of the company
 * is acquired, released or lost anywhere in the fleet (the library's `lock.*` events on the
 * EventBus), so that a run started by HTTP shows as a held lock without waiting for the next
 * tick (and once more each time the event subscription is confirmed, for the changes made
 * before it; a failed subscription is made again, `resubscribe`). One snapshot is read at a
 * time; what asks for one meanwhile gets the one read right after. A client that connects gets
 * the feed's latest snapshot at once.
 *
 * A stream opened with a session (the cookie, or a bearer token) lasts as long as the session:
 * it sends `event: session-ended` (`SESSION_ENDED`) and ends on the session's
 * `session.destroyed` / `session.revoked` / `session.expired` event (logout, logout everywhere,
 * eviction, expiry), or when a check every `sessionCheckMs` (and one when that event
 * subscription is confirmed) finds it gone; the check does not slide the session's idle expiry.
 * A stream of the `x-user-id` header (scripts) has no session to end: it lasts until the client
 * leaves, as any request of that header is let in again. A user holds at most
 * `maxStreamsPerUser` streams on this instance (429 beyond, `UserStreamSlots`).
 *
 * The feed's timer and event subscription live while the company has a client: they stop
 * when its last client leaves (and the company's cached parts are dropped), and every stream
 * ends at shutdown (before Redis closes), which ends the responses.
 *
 * @example
 * @Sse('stream')
 * stream(@CurrentUser() user: AuthUser, @Req() request: DemoRequest, @SseSignal() closed: AbortSignal) {
 *   return this.feed.open(user, request.coordinationSession, closed);
 * }
 */
@Injectable()
export class DashboardFeed implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Dashboard');
  private readonly feeds = new Map<string, Observable<DashboardSnapshot>>();
  private readonly clients = new Map<string, number>();
  /** Replays its end to a feed started after it (takeUntil of a plain Subject would wait forever). */
  private readonly shutdown = new ReplaySubject<void>(1);
  private readonly slots: UserStreamSlots;
  private closed = false;

  constructor(
    private readonly dashboard: DashboardService,
    private readonly events: EventBus,
    private readonly sessions: SessionService,
    @Inject(DASHBOARD_CONFIG) private readonly config: DashboardConfig,
    @Inject(DASHBOARD_LIMITS) limits: DashboardLimits,
  ) {
    this.slots = new UserStreamSlots(limits.maxStreamsPerUser, 'dashboard streams');
  }

  /**
   * The snapshots of `user`'s company as SSE messages (`event: snapshot`), until the client
   * leaves (`closed`: the request's SSE signal, which also frees the user's slot), the
   * application shuts down, or `session` (the one the request was let in with, if any) ends.
   *
   * @throws HttpException 429 when the user already holds `maxStreamsPerUser` streams on this instance
   */
  open(user: AuthUser, session: Session | undefined, closed: AbortSignal): Observable<MessageEvent> {
    this.slots.take(user.id, closed);
    const { companyId } = user;
    return new Observable<MessageEvent>((subscriber) => {
      // Nest subscribes once the handler has returned: shutdown may have begun in between.
      if (this.closed) {
        subscriber.complete();
        return undefined;
      }
      this.clients.set(companyId, this.watching(companyId) + 1);
      const snapshots = this.feed(companyId).pipe(map((data): MessageEvent => ({ type: 'snapshot', data }))).subscribe(subscriber);
      const watch = session && this.untilEnded(session, () => {
        subscriber.next(SESSION_ENDED);
        subscriber.complete();
      });
      return () => {
        snapshots.unsubscribe();
        watch?.unsubscribe();
        const left = this.watching(companyId) - 1;
        if (left > 0) this.clients.set(companyId, left);
        else this.clients.delete(companyId);
      };
    });
  }

  /** Clients of the company connected to this instance now. */
  watching(companyId: string): number {
    return this.clients.get(companyId) ?? 0;
  }

  /** Companies with a feed running on this instance now (its timer and lock subscription). */
  runningFeeds(): number {
    return this.feeds.size;
  }

  /** Streams `userId` holds open on this instance. */
  openStreams(userId: string): number {
    return this.slots.held(userId);
  }

  beforeApplicationShutdown(): void {
    this.closed = true;
    this.shutdown.next();
    this.shutdown.complete();
  }

  private feed(companyId: string): Observable<DashboardSnapshot> {
    const running = this.feeds.get(companyId);
    if (running) return running;
    const feed: Observable<DashboardSnapshot> = this.snapshots(companyId).pipe(
      takeUntil(this.shutdown),
      finalize(() => {
        if (this.feeds.get(companyId) !== feed) return;
        this.feeds.delete(companyId);
        this.dashboard.forget(companyId);
      }),
      share({ connector: () => new ReplaySubject<DashboardSnapshot>(1), resetOnRefCountZero: true, resetOnComplete: true, resetOnError: true }),
    );
    this.feeds.set(companyId, feed);
    return feed;
  }

  /** Snapshots of the company: now, every `intervalMs`, and after each lock change. */
  private snapshots(companyId: string): Observable<DashboardSnapshot> {
    return new Observable<DashboardSnapshot>((subscriber) => {
      let reading = false;
      let again = false;
      const refresh = (): void => {
        // A confirmed subscription or a finished read may come back after the last client left.
        if (subscriber.closed) return;
        if (reading) {
          again = true;
          return;
        }
        reading = true;
        this.dashboard.snapshot(companyId).then(
          (snapshot) => subscriber.next(snapshot),
          (error: unknown) => this.logger.warn(`Dashboard snapshot of company "${companyId}" failed: ${messageOf(error)}`),
        ).finally(() => {
          reading = false;
          if (again) {
            again = false;
            refresh();
          }
        });
      };
      const changes = lastingEvents(() => this.events.on('lock.*', { tenant: companyId }), this.config.resubscribe, {
        // Every later change is pushed from now on: read again for those made before (pub/sub keeps no history).
        confirmed: refresh,
        // The ticks go on meanwhile: the page is still refreshed every interval, only not at once on a lock change.
        failed: (error, retryInMs) => this.logger.warn(
          `Lock events of company "${companyId}" lost, refreshing every ${this.config.intervalMs} ms only; subscribing again in ${retryInMs} ms: ${messageOf(error)}`,
        ),
      }).pipe(filter((event) => LOCK_CHANGES.has(event.channel))).subscribe(refresh);
      const timer = setInterval(refresh, this.config.intervalMs);
      timer.unref();
      refresh();
      return () => {
        clearInterval(timer);
        changes.unsubscribe();
      };
    });
  }

  /** Calls `end` once `session` has ended: on its end event, or when a check finds it gone. */
  private untilEnded(session: Session, end: () => void): Subscription {
    const { id, tenant, handle } = session;
    let checking = false;
    const check = (): void => {
      if (checking || watch.closed) return;
      checking = true;
      // Not `touch`: an open page must not keep its session alive. A failed check (Redis
      // unreachable) leaves the stream open: its snapshots say what is unavailable meanwhile.
      this.sessions.get(id, { tenant, touch: false }).then(
        (live) => {
          if (live === null && !watch.closed) end();
        },
        () => undefined,
      ).finally(() => {
        checking = false;
      });
    };
    const watch = lastingEvents<SessionEndedEvent>(() => this.events.on('session.*', { tenant }), this.config.resubscribe, {
      // Ends announced from now on are seen; one since the guard loaded the session is found by this check.
      confirmed: check,
      failed: (error, retryInMs) => this.logger.warn(
        `Session events of company "${tenant}" lost, checking the dashboard's sessions every ${this.config.sessionCheckMs} ms only; subscribing again in ${retryInMs} ms: ${messageOf(error)}`,
      ),
    }).pipe(filter((event) => SESSION_ENDS.has(event.channel) && event.payload.handle === handle)).subscribe(() => end());
    const timer = setInterval(check, this.config.sessionCheckMs);
    timer.unref();
    watch.add(() => clearInterval(timer));
    return watch;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
