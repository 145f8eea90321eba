import { Controller, ForbiddenException, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { RateLimit, StreamService, type DeadLetter, type ReplayResult } from '@nest-coordination/core';
import type { AuthUser } from '../auth/auth-user.model.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { CREW_RUN_EVENTS, type CrewRunStreamEvent } from './crew-run-events.js';
import { DeadLettersQuery } from './dto/dead-letters.query.js';

/**
 * Dead letters one page of `GET /crews/runs/dead-letters` returns unless `limit` says otherwise.
 *
 * @example
 * GET /crews/runs/dead-letters          # the oldest DEFAULT_DEAD_LETTERS_PAGE
 */
export const DEFAULT_DEAD_LETTERS_PAGE = 20;

/**
 * The run events of the caller's company that a consumer gave up on (`StreamService.deadLetters`
 * of its crew event stream): most often a run the history could not write `maxDeliveries` times
 * (`RunHistoryConfig`), so the run is missing from its crew's history until an owner replays the
 * event (`replayDeadLetter`: appended anew for its group only, written like any run event). The
 * payloads are the company's runs and the errors the instances' internals: owners only.
 * Replaying is rate-limited per user, listing too (each reads up to a page from Redis).
 */
@Controller('crews/runs/dead-letters')
export class CrewRunDeadLettersController {
  constructor(private readonly streams: StreamService) {}

  /** The company's dead letters, oldest first: `?limit=` (1-100, default 20) and `?after=<id>` page through them. */
  @RateLimit([{ scope: 'user', name: 'dead-letters-user', limit: 60, windowMs: 60_000 }])
  @Get()
  list(@CurrentUser() user: AuthUser, @Query() query: DeadLettersQuery): Promise<Array<DeadLetter<CrewRunStreamEvent>>> {
    ownersOnly(user);
    return this.streams.deadLetters(CREW_RUN_EVENTS, { tenant: user.companyId, count: query.limit ?? DEFAULT_DEAD_LETTERS_PAGE, after: query.after });
  }

  /**
   * Appends the dead letter's event to the stream again, for the group that gave up on it, and
   * removes the dead letter: 202 `{ entryId }` (the history writes it a moment later). 404
   * `E_DEAD_LETTER_NOT_FOUND` when there is no such dead letter in the company's stream
   * (unknown, trimmed or already replayed), 400 `E_INVALID_ARGUMENT` for an id that is not `<ms>-<seq>`.
   */
  @RateLimit([{ scope: 'user', name: 'dead-letter-replay-user', limit: 20, windowMs: 60_000 }])
  @Post(':id/replay')
  @HttpCode(HttpStatus.ACCEPTED)
  replay(@CurrentUser() user: AuthUser, @Param('id') id: string): Promise<ReplayResult> {
    ownersOnly(user);
    return this.streams.replayDeadLetter(CREW_RUN_EVENTS, id, { tenant: user.companyId });
  }
}

function ownersOnly(user: AuthUser): void {
  if (user.role !== 'owner') throw new ForbiddenException(`User "${user.id}" is ${user.role === 'operator' ? 'an operator' : 'a viewer'}: only owners see and replay dead letters`);
}
