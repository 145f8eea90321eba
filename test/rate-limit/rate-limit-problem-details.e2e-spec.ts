import 'reflect-metadata';
import { Controller, Get, Param, UseFilters, UseGuards } from '@nestjs/common';
import request from 'supertest';
import {
  CoordinationExceptionFilter, ManualClock, RateLimit, RateLimitGuard, RateLimitService, type RateLimitDecision,
} from '@nest-coordination/core';
import { bootApp, type BootedApp } from '../support/boot.js';

const MINUTE = 60_000;

@Controller('pd')
@UseGuards(RateLimitGuard)
@UseFilters(CoordinationExceptionFilter)
class ProblemController {
  constructor(private readonly rateLimits: RateLimitService) {}

  @RateLimit({ scope: 'endpoint', name: 'guarded', limit: 1, windowMs: MINUTE })
  @Get('guarded')
  guarded() {
    return 'ok';
  }

  /** Outside the guard: enforceMany throws RateLimitedError, which the filter maps to 429. */
  @Get('enforced/:user')
  enforced(@Param('user') user: string): Promise<RateLimitDecision> {
    return this.rateLimits.enforceMany([
      { key: `user:${user}`, policy: { name: 'user', limit: 5, windowMs: MINUTE } },
      { key: 'company', policy: { name: 'company', limit: 1, windowMs: MINUTE, algorithm: 'gcra' } },
    ]);
  }
}

/**
 * The guard's 429 and the filter's 429 are built by one problem-details builder: the same
 * standard members, the guard adding the policy, the filter the error's domain fields.
 */
describe('rate-limit problem details (guard and exception filter)', () => {
  let booted: BootedApp;
  beforeAll(async () => {
    // A ManualClock that no test moves: every retry time is exact.
    booted = await bootApp({ driver: 'memory', clock: new ManualClock(1_700_000_000_000) }, { controllers: [ProblemController] });
  });
  afterAll(() => booted.close());

  it('the guard answers 429 with an application/problem+json body naming the policy', async () => {
    const server = booted.app.getHttpServer();
    await request(server).get('/pd/guarded').expect(200);
    const denied = await request(server).get('/pd/guarded').expect(429);
    expect(denied.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(denied.headers['retry-after']).toBe('60');
    expect(denied.body).toEqual({
      type: 'urn:coordination:error:E_RATE_LIMITED', title: 'Too Many Requests', status: 429,
      detail: 'Rate limit policy "guarded" exceeded (1 per window)', code: 'E_RATE_LIMITED', policy: 'guarded', limit: 1, retryAfterMs: MINUTE, source: 'memory',
    });
  });

  it('enforceMany throws RateLimitedError when one policy denies; the filter answers 429 with its fields', async () => {
    const server = booted.app.getHttpServer();
    const ok = await request(server).get('/pd/enforced/ada').expect(200);
    expect(ok.body).toMatchObject({ allowed: true, source: 'memory' });
    expect(ok.body.violated).toBeUndefined();
    const denied = await request(server).get('/pd/enforced/bob').expect(429);
    expect(denied.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(denied.body).toMatchObject({
      type: 'urn:coordination:error:E_RATE_LIMITED', title: 'RateLimitedError', status: 429, code: 'E_RATE_LIMITED',
      key: 'company', policy: 'company', limit: 1, source: 'memory',
    });
    // gcra, limit 1 per minute: the next unit one emission interval (a minute) after the first
    expect(denied.body).toMatchObject({ retryAfterMs: MINUTE, detail: `Rate limit "company" exceeded for company; retry in ${MINUTE} ms` });
    // nothing was taken from bob's user policy
    const bobs = await booted.get(RateLimitService).peek('user:bob', { name: 'user', limit: 5, windowMs: MINUTE, partition: 'tenant' });
    expect(bobs.remaining).toBe(5);
  });
});
