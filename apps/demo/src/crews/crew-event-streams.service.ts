import { Inject, Injectable, Logger, type MessageEvent } from '@nestjs/common';
import { catchError, connect, endWith, ignoreElements, interval, map, merge, of, takeUntil, type Observable } from 'rxjs';
import type { AuthUser } from '../auth/auth-user.model.js';
import type { StreamsConfig } from '../demo.config.js';
import { UserStreamSlots } from '../http/user-stream-slots.js';
import { CrewEventsService } from './crew-events.service.js';

/** Injection token of the demo's `streams` configuration. */
export const STREAMS_CONFIG = Symbol('STREAMS_CONFIG');

/** Written every `heartbeatMs`: a comment line (`: heartbeat`), which EventSource clients ignore. */
const HEARTBEAT: MessageEvent = { comment: 'heartbeat' };

/** The last message of a stream whose subscription failed: the client should reconnect. */
const STREAM_LOST: MessageEvent = {
  type: 'error',
  data: { code: 'E_STREAM_LOST', detail: 'The event subscription was lost; reconnect to resume (events published meanwhile are not replayed)' },
};

/**
 * The SSE streams of `GET /crews/events/stream` on this instance: each is the company's crew
 * events, plus a heartbeat comment every `streams.heartbeatMs`. A user holds at most
 * `streams.maxPerUser` of them at once (per instance: what a stream costs, a subscription and
 * one more write of every event, is paid by the instance). When the EventBus stream fails
 * (its subscription could not be made or restored), the stream sends `event: error` with
 * `{ code: 'E_STREAM_LOST' }` and ends, so the client reconnects instead of waiting in silence.
 *
 * @example
 * @Sse('events/stream')
 * stream(@CurrentUser() user: AuthUser, @SseSignal() closed: AbortSignal) { return this.streams.open(user, closed); }
 */
@Injectable()
export class CrewEventStreams {
  private readonly logger = new Logger('CrewEventStreams');
  private readonly slots: UserStreamSlots;

  constructor(private readonly events: CrewEventsService, @Inject(STREAMS_CONFIG) private readonly config: StreamsConfig) {
    this.slots = new UserStreamSlots(config.maxPerUser, 'event streams');
  }

  /**
   * Opens a stream for `user`, holding one of their slots until `closed` (the request's SSE
   * signal: aborted on disconnect, completion or error) aborts.
   *
   * @throws HttpException 429 when the user already holds `maxPerUser` streams on this instance
   */
  open(user: AuthUser, closed: AbortSignal): Observable<MessageEvent> {
    this.slots.take(user.id, closed);
    const events = this.events.stream(user.companyId).pipe(
      map((event): MessageEvent => ({
        id: event.id,
        data: { channel: event.channel, timestamp: event.timestamp, source: event.source, ...event.payload },
      })),
    );
    const heartbeat = interval(this.config.heartbeatMs).pipe(map(() => HEARTBEAT));
    return events.pipe(
      // Heartbeats only while the events flow: when the bus completes its streams (shutdown), the response ends.
      connect((shared) => merge(shared, heartbeat.pipe(takeUntil(shared.pipe(ignoreElements(), endWith(null)))))),
      catchError((error: unknown) => {
        this.logger.warn(`Crew event stream of user "${user.id}" (company ${user.companyId}) lost: ${error instanceof Error ? error.message : String(error)}`);
        return of(STREAM_LOST);
      }),
    );
  }

  /** Streams `userId` holds open on this instance. */
  openStreams(userId: string): number {
    return this.slots.held(userId);
  }
}
