import { Controller, Get, Sse, SseSignal, type MessageEvent } from '@nestjs/common';
import type { Observable } from 'rxjs';
import type { AuthUser } from '../auth/auth-user.model.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { CrewEventStreams } from './crew-event-streams.service.js';
import type { Crew } from './crew.model.js';
import { CrewsService } from './crews.service.js';

/** Crews of the caller's company, and the stream of their events (posting one: CrewEventsController). */
@Controller('crews')
export class CrewsController {
  constructor(private readonly crews: CrewsService, private readonly streams: CrewEventStreams) {}

  @Get()
  list(@CurrentUser() user: AuthUser): Crew[] {
    return this.crews.listFor(user.companyId);
  }

  /**
   * Server-sent events: every crew event of the company (runs included), from any instance, and
   * a heartbeat comment. 429 beyond `streams.maxPerUser` open streams of one user; `event: error`
   * (then the end of the stream) when the subscription is lost.
   */
  @Sse('events/stream')
  stream(@CurrentUser() user: AuthUser, @SseSignal() closed: AbortSignal): Observable<MessageEvent> {
    return this.streams.open(user, closed);
  }
}
