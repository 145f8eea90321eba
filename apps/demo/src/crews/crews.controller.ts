import { Body, Controller, ForbiddenException, Get, Param, Patch, Sse, SseSignal, UseInterceptors, type MessageEvent } from '@nestjs/common';
import { CacheInterceptor, CacheResponse } from '@nest-coordination/core';
import type { Observable } from 'rxjs';
import type { AuthUser } from '../auth/auth-user.model.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { CrewConfigs, crewTag } from './crew-configs.service.js';
import { CrewEventStreams } from './crew-event-streams.service.js';
import { checkCrewPatch } from './crew-patch.js';
import type { Crew, CrewDefinition } from './crew.model.js';
import { CrewsService } from './crews.service.js';
import { UpdateCrewDto } from './dto/update-crew.dto.js';

/** How long `GET /crews/:crewId` answers from the cache (`X-Cache: HIT`) before the next request reloads it. */
export const CREW_RESPONSE_TTL_MS = 30_000;

/** After `CREW_RESPONSE_TTL_MS`, how long the old response is still served (`X-Cache: STALE`) while one request reloads it. */
export const CREW_RESPONSE_STALE_MS = 60_000;

/** What `GET /crews/:crewId` reads to tag its cached response. */
interface CrewRequest {
  user: AuthUser;
  params: { crewId: string };
}

/**
 * Crews of the caller's company: the list, one crew (its response cached), editing one, and the
 * stream of their events (posting one: CrewEventsController).
 */
@Controller('crews')
export class CrewsController {
  constructor(private readonly crews: CrewsService, private readonly configs: CrewConfigs, private readonly streams: CrewEventStreams) {}

  /** The company's crews, each with its newest runs (`GET /crews/:crewId/runs` pages through them); the definitions come from the cache (`crews:<companyId>`). */
  @Get()
  list(@CurrentUser() user: AuthUser): Promise<Crew[]> {
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
   * One crew's definition (agents and settings), its response cached per company by
   * `CacheInterceptor` (`X-Cache: MISS`, then `HIT`; `STALE` within `CREW_RESPONSE_STALE_MS` after
   * the TTL) and tagged `crew:<companyId>:<crewId>`: an edit on any instance invalidates it. A crew
   * of another company is a 404, never cached. Declared after `events/stream`, which it would match.
   */
  @Get(':crewId')
  @UseInterceptors(CacheInterceptor)
  @CacheResponse({
    ttlMs: CREW_RESPONSE_TTL_MS,
    staleMs: CREW_RESPONSE_STALE_MS,
    tags: (request: CrewRequest) => [crewTag(request.user.companyId, request.params.crewId)],
  })
  crew(@CurrentUser() user: AuthUser, @Param('crewId') crewId: string): Promise<CrewDefinition> {
    return this.crews.definition(user.companyId, crewId);
  }

  /**
   * Edits a crew: its name, its agents' settings (by agent id) and/or its run settings. Owners and
   * operators only (403 for a viewer). 400 naming the field for an invalid body, 404 for a crew of
   * another company. Invalidates the crew's cached definition and response on every instance
   * (`CrewConfigs.update`, `@CacheEvict`): the next read shows the edit, wherever it is served.
   */
  @Patch(':crewId')
  update(@CurrentUser() user: AuthUser, @Param('crewId') crewId: string, @Body() patch: UpdateCrewDto): Promise<CrewDefinition> {
    if (user.role === 'viewer') throw new ForbiddenException(`User "${user.id}" is a viewer: only owners and operators edit crews`);
    checkCrewPatch(patch);
    return this.configs.update(user.companyId, crewId, patch);
  }
}
