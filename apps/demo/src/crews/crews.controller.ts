import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Sse, SseSignal, type MessageEvent } from '@nestjs/common';
import { RateLimit } from '@nest-coordination/core';
import type { Observable } from 'rxjs';
import type { AuthUser } from '../auth/auth-user.model.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { CrewEventStreams } from './crew-event-streams.service.js';
import { CrewEventsService } from './crew-events.service.js';
import type { Crew } from './crew.model.js';
import { CrewsService } from './crews.service.js';
import { PublishCrewEventDto } from './dto/publish-crew-event.dto.js';

/** Crews of the caller's company, and their events. */
@Controller('crews')
export class CrewsController {
  constructor(private readonly crews: CrewsService, private readonly events: CrewEventsService, private readonly streams: CrewEventStreams) {}

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

  /**
   * Publishes a crew event (an agent's progress or message) on `crew.<type>`; 202 once the bus
   * accepted it. Every event is written to every open stream of the company: bursts of 20 per
   * user, 10/s sustained, and 1200/min per company.
   */
  @RateLimit([
    { scope: 'user', name: 'crew-event-user', limit: 10, windowMs: 1_000, algorithm: 'token-bucket', burst: 20 },
    { scope: 'tenant', name: 'crew-event-company', limit: 1_200, windowMs: 60_000, algorithm: 'sliding-window-approx' },
  ])
  @Post(':crewId/events')
  @HttpCode(HttpStatus.ACCEPTED)
  async publish(
    @CurrentUser() user: AuthUser,
    @Param('crewId') crewId: string,
    @Body() body: PublishCrewEventDto,
  ): Promise<{ channel: string; crewId: string; type: string }> {
    const crew = this.crews.get(user.companyId, crewId);
    const channel = await this.events.publish(user.companyId, { crewId: crew.id, type: body.type, data: body.data ?? {} });
    return { channel, crewId: crew.id, type: body.type };
  }
}
