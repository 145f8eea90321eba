import { BadRequestException, Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import { Idempotent, RateLimit, type RateLimitRule } from '@nest-coordination/core';
import type { AuthUser } from '../auth/auth-user.model.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { CrewRunner, type CrewRunResult } from './crew-runner.service.js';
import { NEXT_CURSOR_HEADER, decodeRunCursor, encodeRunCursor } from './crew-runs-cursor.js';
import type { CrewRun } from './crew.model.js';
import { CrewsService } from './crews.service.js';
import { CrewRunsQuery } from './dto/crew-runs.query.js';
import { RunCrewQuery } from './dto/run-crew.query.js';

/**
 * Runs one page of `GET /crews/:crewId/runs` returns unless `limit` says otherwise.
 *
 * @example
 * GET /crews/market-research/runs          # the newest DEFAULT_RUNS_PAGE runs
 */
export const DEFAULT_RUNS_PAGE = 20;

/**
 * The quotas of starting a crew run, over HTTP (`POST /crews/:crewId/runs`) or GraphQL (`runCrew`):
 * named rules, so each is one counter whichever handler checks it.
 */
export const CREW_RUN_RULES: readonly RateLimitRule[] = [
  { scope: 'user', name: 'crew-run-user', limit: 5, windowMs: 60_000 },
  { scope: 'tenant', name: 'crew-run-company', limit: 50, windowMs: 60_000, algorithm: 'sliding-window-approx' },
  // `global`: one counter for every company (`endpoint` would count per company).
  { scope: 'global', name: 'crew-run-endpoint', limit: 500, windowMs: 60_000, algorithm: 'fixed-window' },
];

/**
 * The expensive AI work of a crew, rate-limited by the global `RateLimitGuard`: the rules of a
 * request are checked in one atomic call, and a request denied by one rule consumes from none.
 * A `global` rule (its counter is shared by every company, under its own hash tag) is checked in
 * a second call after the others: a request it denies has been charged to them.
 */
@Controller('crews')
export class CrewRunsController {
  constructor(private readonly crews: CrewsService, private readonly runner: CrewRunner) {}

  /**
   * Runs the crew (one run per crew at a time: 409 `E_LOCK_TIMEOUT` while it runs elsewhere): one
   * AGENT_STEP task per agent, answered once they all ended (201, `status: 'succeeded'`, or
   * `'failed'` when a step exhausted its attempts; `?failures=` makes the first attempts fail).
   * A run that lost its lock is 409 `E_LOCK_LOST`, one stopped by shutdown 503 `E_LOCK_SHUTDOWN`,
   * one that a newer run of the crew started after (its token fenced out) 409 with `outcome: 'refused'`.
   *
   * `@Idempotent()`: a request with an `Idempotency-Key` header runs once per user and key (24 h).
   * A retry gets the first answer replayed byte for byte (`Idempotent-Replayed: true`), not a
   * second run (nor a 409 from the lock); one sent while the first still runs waits for its answer
   * (at most `idempotency.waitMs`, 10 s, then 409 with `Retry-After`); the same key with another
   * crew, query or body is 422 `E_IDEMPOTENCY_MISMATCH`. Guards run first, so a retry still counts
   * against the rate limits; the interceptor answers a replay before the handler, so before
   * `@WithLock`. What is not stored, so a retry with the key runs again: 409 (`E_LOCK_TIMEOUT`,
   * `refused`) and 5xx answers.
   */
  @RateLimit(CREW_RUN_RULES)
  @Post(':crewId/runs')
  @Idempotent()
  async run(@CurrentUser() user: AuthUser, @Param('crewId') crewId: string, @Query() query: RunCrewQuery): Promise<CrewRunResult> {
    const crew = await this.crews.definition(user.companyId, crewId);
    return this.runner.run(crew, user, { durationMs: query.durationMs ?? 2_000, failures: query.failures ?? 0 });
  }

  /**
   * The crew's run history, newest first, the same on every instance: built from the company's
   * crew event stream by `CrewRunHistory`, so a run shows up a moment after its POST returned,
   * wherever it ran. `?limit=` (1-100, default 20) and `?cursor=` (the `X-Next-Cursor` header of
   * the page before, set while a page is full) page through it: the cursor holds the last run's
   * `finishedAt` and id, so runs that finished in the same millisecond are neither skipped nor
   * repeated (they are ordered by id).
   */
  @Get(':crewId/runs')
  async history(
    @CurrentUser() user: AuthUser, @Param('crewId') crewId: string, @Query() query: CrewRunsQuery, @Res({ passthrough: true }) response: HeaderResponse,
  ): Promise<CrewRun[]> {
    const after = query.cursor === undefined ? undefined : decodeRunCursor(query.cursor);
    if (query.cursor !== undefined && after === undefined) throw new BadRequestException([`cursor must be the ${NEXT_CURSOR_HEADER} header of the page before`]);
    const limit = query.limit ?? DEFAULT_RUNS_PAGE;
    const runs = await this.crews.runs(user.companyId, crewId, { limit, after });
    if (runs.length === limit) response.setHeader(NEXT_CURSOR_HEADER, encodeRunCursor(runs[runs.length - 1]));
    return runs;
  }

  /** One call of an agent to its model: bursts of 5 per user, 2/s sustained; GCRA-smoothed per company. */
  @RateLimit([
    { scope: 'user', name: 'agent-call-user', limit: 2, windowMs: 1_000, algorithm: 'token-bucket', burst: 5 },
    { scope: 'tenant', name: 'agent-call-company', limit: 600, windowMs: 60_000, algorithm: 'gcra' },
  ])
  @Post(':crewId/agents/:agentId/calls')
  async call(@CurrentUser() user: AuthUser, @Param('crewId') crewId: string, @Param('agentId') agentId: string) {
    // The crew's definition comes from the cache: an agent's model edited on any instance applies here
    // as soon as the edit's invalidation has arrived (at once on the instance that made it).
    const crew = await this.crews.definition(user.companyId, crewId);
    const agent = this.crews.agent(crew, agentId);
    return { crewId: crew.id, agentId: agent.id, model: agent.model, status: 'answered', output: `(simulated ${agent.role} answer)` };
  }
}

/** The part of Express's response `history` uses (it sets the cursor header; Nest sends the body). */
interface HeaderResponse {
  setHeader(name: string, value: string): unknown;
}
