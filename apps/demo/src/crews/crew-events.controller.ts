import { Body, Controller, HttpCode, HttpStatus, Param, Post, type Type } from '@nestjs/common';
import { RateLimit, type RateLimitRule } from '@nest-coordination/core';
import type { AuthUser } from '../auth/auth-user.model.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import type { StreamsConfig } from '../demo.config.js';
import { CrewEventsService } from './crew-events.service.js';
import { CrewsService } from './crews.service.js';
import { PublishCrewEventDto } from './dto/publish-crew-event.dto.js';

/**
 * Posting crew events. Its quota is configuration (`streams.publishQuota`), so it is not written
 * on the class: `CrewsModule.register` registers `crewEventsController(quota)`, a subclass that
 * carries the `@RateLimit` rules of its application.
 */
@Controller('crews')
export class CrewEventsController {
  constructor(private readonly crews: CrewsService, private readonly events: CrewEventsService) {}

  /**
   * Publishes a crew event (an agent's progress or message) on `crew.<type>`; 202 once the bus
   * accepted it. Every event is written to every open stream of the company: a token bucket per
   * user (by default bursts of 20, 10/s sustained), and 1200/min per company.
   */
  @Post(':crewId/events')
  @HttpCode(HttpStatus.ACCEPTED)
  async publish(
    @CurrentUser() user: AuthUser,
    @Param('crewId') crewId: string,
    @Body() body: PublishCrewEventDto,
  ): Promise<{ channel: string; crewId: string; type: string }> {
    const crew = await this.crews.definition(user.companyId, crewId);
    const channel = await this.events.publish(user.companyId, { crewId: crew.id, type: body.type, data: body.data ?? {} });
    return { channel, crewId: crew.id, type: body.type };
  }
}

/** The rules of posting crew events: the user's token bucket, and the company's share. */
export function crewEventRules(quota: StreamsConfig['publishQuota']): RateLimitRule[] {
  return [
    { scope: 'user', name: 'crew-event-user', limit: quota.limit, windowMs: quota.windowMs, algorithm: 'token-bucket', burst: quota.burst },
    { scope: 'tenant', name: 'crew-event-company', limit: 1_200, windowMs: 60_000, algorithm: 'sliding-window-approx' },
  ];
}

/**
 * CrewEventsController limited by `quota`. A class of its own per registration, since decorator
 * metadata belongs to a class: two applications of one process (tests, or two modules) each get
 * their own quota. RateLimitGuard reads the rules from the class (`context.getClass()`).
 *
 * @example
 * controllers: [crewEventsController({ limit: 10, windowMs: 1_000, burst: 20 })]
 */
export function crewEventsController(quota: StreamsConfig['publishQuota']): Type<CrewEventsController> {
  @RateLimit(crewEventRules(quota))
  class LimitedCrewEventsController extends CrewEventsController {}
  return LimitedCrewEventsController;
}
