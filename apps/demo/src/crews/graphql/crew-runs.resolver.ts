import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { RateLimit } from '@nest-coordination/core';
import type { AuthUser } from '../../auth/auth-user.model.js';
import { CurrentUser } from '../../auth/current-user.decorator.js';
import { CrewRunner, type CrewRunResult } from '../crew-runner.service.js';
import { CREW_RUN_RULES, DEFAULT_RUNS_PAGE } from '../crew-runs.controller.js';
import type { CrewRun } from '../crew.model.js';
import { CrewsService } from '../crews.service.js';
import { CrewRunResultType, CrewRunType, CrewRunsArgs, RunCrewArgs } from './crew-run.types.js';

/**
 * Crew runs over GraphQL (`POST /graphql`; the schema is built from these classes at startup,
 * in memory), under the same global guards as the HTTP routes: `DemoAuthGuard` authenticates the
 * request behind the operation, `RateLimitGuard` applies the `@RateLimit` rules (a denial is a
 * GraphQL error with `extensions.code: 'E_RATE_LIMITED'` and `retryAfterMs`, and `Retry-After` on
 * the response), `TenantInterceptor` runs the resolver in the company's tenant.
 *
 * @example
 * curl -s localhost:3000/graphql -H 'content-type: application/json' -H 'x-user-id: u-ada' -H 'x-company-id: acme' \
 *   -d '{"query":"{ crewRuns(crewId: \"market-research\", limit: 5) { id status triggeredBy fencingToken } }"}'
 */
@Resolver(() => CrewRunType)
export class CrewRunsResolver {
  constructor(private readonly crews: CrewsService, private readonly runner: CrewRunner) {}

  /**
   * The crew's run history, newest first: what `GET /crews/:crewId/runs` pages through, the same
   * on every instance. 60 a minute per user, 600 per company; another company's crew is not found.
   */
  @RateLimit([
    { scope: 'user', name: 'crew-runs-query-user', limit: 60, windowMs: 60_000 },
    { scope: 'tenant', name: 'crew-runs-query-company', limit: 600, windowMs: 60_000, algorithm: 'sliding-window-approx' },
  ])
  @Query(() => [CrewRunType], { description: 'The crew\'s run history, newest first (60/min per user, 600/min per company).' })
  crewRuns(@CurrentUser() user: AuthUser, @Args() { crewId, limit }: CrewRunsArgs): Promise<CrewRun[]> {
    return this.crews.runs(user.companyId, crewId, { limit: limit ?? DEFAULT_RUNS_PAGE });
  }

  /**
   * Runs the crew, as `POST /crews/:crewId/runs` does: the same quotas (`CREW_RUN_RULES`, named,
   * so one counter whichever way a run is started) and the same lock (`CrewRunner.run` holds
   * `crew-run:<crewId>` with `@WithLock`): while the crew runs anywhere, started here or over
   * HTTP, this is a GraphQL error with `extensions.code: 'E_LOCK_TIMEOUT'`.
   */
  @RateLimit(CREW_RUN_RULES)
  @Mutation(() => CrewRunResultType, { description: 'Runs the crew (one run per crew at a time, the quotas of POST /crews/:crewId/runs).' })
  async runCrew(@CurrentUser() user: AuthUser, @Args() { crewId, durationMs }: RunCrewArgs): Promise<CrewRunResult> {
    const crew = await this.crews.definition(user.companyId, crewId);
    return this.runner.run(crew, user, { durationMs: durationMs ?? 2_000, failures: 0 });
  }
}
