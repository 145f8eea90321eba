import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Sse, UseGuards, type MessageEvent } from '@nestjs/common';
import { map, type Observable } from 'rxjs';
import { CompanyGuard } from '../companies/company.guard.js';
import type { Company } from '../companies/company.model.js';
import { CurrentCompany } from '../companies/current-company.decorator.js';
import { CrewEventsService } from './crew-events.service.js';
import type { Crew } from './crew.model.js';
import { CrewsService } from './crews.service.js';
import { PublishCrewEventDto } from './dto/publish-crew-event.dto.js';

/** Crews of the company named by the `x-company-id` header, and their events. */
@Controller('crews')
@UseGuards(CompanyGuard)
export class CrewsController {
  constructor(private readonly crews: CrewsService, private readonly events: CrewEventsService) {}

  @Get()
  list(@CurrentCompany() company: Company): Crew[] {
    return this.crews.listFor(company.id);
  }

  /** Server-sent events: every crew event of the company, from any instance. */
  @Sse('events/stream')
  stream(@CurrentCompany() company: Company): Observable<MessageEvent> {
    return this.events.stream(company.id).pipe(
      map((event) => ({
        id: event.id,
        data: { channel: event.channel, timestamp: event.timestamp, source: event.source, ...event.payload },
      })),
    );
  }

  /** Publishes a crew event on `crew.<type>`; 202 once the bus accepted it. */
  @Post(':crewId/events')
  @HttpCode(HttpStatus.ACCEPTED)
  async publish(
    @CurrentCompany() company: Company,
    @Param('crewId') crewId: string,
    @Body() body: PublishCrewEventDto,
  ): Promise<{ channel: string; crewId: string; type: string }> {
    const crew = this.crews.get(company.id, crewId);
    const channel = await this.events.publish(company.id, { crewId: crew.id, type: body.type, data: body.data ?? {} });
    return { channel, crewId: crew.id, type: body.type };
  }
}
