import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Sse, type MessageEvent } from '@nestjs/common';
import { map, type Observable } from 'rxjs';
import type { AuthUser } from '../auth/auth-user.model.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { CrewEventsService } from './crew-events.service.js';
import type { Crew } from './crew.model.js';
import { CrewsService } from './crews.service.js';
import { PublishCrewEventDto } from './dto/publish-crew-event.dto.js';

/** Crews of the caller's company, and their events. */
@Controller('crews')
export class CrewsController {
  constructor(private readonly crews: CrewsService, private readonly events: CrewEventsService) {}

  @Get()
  list(@CurrentUser() user: AuthUser): Crew[] {
    return this.crews.listFor(user.companyId);
  }

  /** Server-sent events: every crew event of the company (runs included), from any instance. */
  @Sse('events/stream')
  stream(@CurrentUser() user: AuthUser): Observable<MessageEvent> {
    return this.events.stream(user.companyId).pipe(
      map((event) => ({
        id: event.id,
        data: { channel: event.channel, timestamp: event.timestamp, source: event.source, ...event.payload },
      })),
    );
  }

  /** Publishes a crew event (an agent's progress or message) on `crew.<type>`; 202 once the bus accepted it. */
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
