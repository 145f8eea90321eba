import 'reflect-metadata';
import { Controller, Get, Injectable, Param, UseGuards } from '@nestjs/common';
import { SpanKind, context, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import request from 'supertest';
import { CacheService, Cacheable, RateLimit, RateLimitGuard, WithLock } from '@nest-coordination/core';
import { bootApp, type BootedApp } from '../support/boot.js';
import { DRIVERS } from '../support/drivers.js';
import { TestSpans, isChildOf, useAsyncContext } from '../support/otel-traces.js';
import { until } from '../support/wait.js';

useAsyncContext();

const CASES = DRIVERS.filter((d) => d.name !== 'cluster');

@Injectable()
class Reports {
  @WithLock('report:{0}', { ttlMs: 5_000 })
  async build(id: string): Promise<string> {
    return `report ${id}`;
  }

  @Cacheable({ key: 'crew:{0}', ttlMs: 60_000 })
  async crew(id: string): Promise<{ id: string }> {
    return { id };
  }
}

@Controller()
class ReportsController {
  constructor(private readonly reports: Reports, private readonly cache: CacheService) {}

  @Get('reports/:id')
  report(@Param('id') id: string) {
    return this.reports.build(id);
  }

  @UseGuards(RateLimitGuard)
  @RateLimit({ scope: 'endpoint', limit: 100, windowMs: 60_000 })
  @Get('limited')
  limited() {
    return { ok: true };
  }

  @Get('crews/:id')
  crew(@Param('id') id: string) {
    return this.reports.crew(id);
  }

  @Get('plan')
  async plan() {
    return { plan: (await this.cache.get<string>('plan')) ?? 'free' };
  }
}

describe.each(CASES)('coordination spans nest under the HTTP request span ($name)', (driver) => {
  let otel: TestSpans;
  let booted: BootedApp;

  beforeAll(async () => {
    otel = new TestSpans();
    const http = otel.provider.getTracer('http');
    booted = await bootApp({ ...driver.options(), health: { pingIntervalMs: 0 }, telemetry: { tracerProvider: otel.provider } }, {
      controllers: [ReportsController],
      providers: [Reports],
      // What @opentelemetry/instrumentation-http does per request: an active SERVER span around the handling.
      configure: (app) => app.use((req: { method: string; url: string }, res: { once(event: 'finish', fn: () => void): void }, next: () => void) => {
        const span = http.startSpan(`${req.method} ${req.url}`, { kind: SpanKind.SERVER });
        res.once('finish', () => span.end());
        context.with(trace.setSpan(context.active(), span), next);
      }),
    });
  });

  afterAll(async () => {
    await booted?.close();
    await otel?.shutdown();
  });

  /** The ended SERVER span of `path`, and the library's spans of its trace. */
  async function requestSpans(path: string): Promise<{ server: ReadableSpan; library: ReadableSpan[] }> {
    const server = await until(() => otel.named(`GET ${path}`)[0], { timeoutMs: 5_000, message: `the span of GET ${path}` });
    const traceId = server.spanContext().traceId;
    const library = otel.all().filter((s) => s.instrumentationScope.name === '@nest-coordination/core' && s.spanContext().traceId === traceId);
    return { server, library };
  }

  it('@WithLock, @RateLimit, @Cacheable and CacheService spans are children of their own request, requests in parallel', async () => {
    const server = booted.app.getHttpServer();
    await Promise.all([
      request(server).get('/reports/q3').expect(200),
      request(server).get('/limited').expect(200),
      request(server).get('/crews/7').expect(200),
      request(server).get('/plan').expect(200),
    ]);

    const report = await requestSpans('/reports/q3');
    const section = report.library.find((s) => s.name === 'lock.withLock')!;
    expect(section.attributes['coordination.key']).toBe('report:q3');
    expect(isChildOf(section, report.server)).toBe(true);
    expect(report.library.filter((s) => s !== section).every((s) => isChildOf(s, section))).toBe(true);
    expect(report.library.map((s) => s.name).sort()).toEqual(['lock.acquire', 'lock.release', 'lock.withLock']);

    const limited = await requestSpans('/limited');
    expect(limited.library.map((s) => s.name)).toEqual(['ratelimit.consume']);
    expect(isChildOf(limited.library[0], limited.server)).toBe(true);
    expect(limited.library[0].attributes['coordination.ratelimit.allowed']).toBe(true);

    const crew = await requestSpans('/crews/7');
    const getOrSet = crew.library.find((s) => s.name === 'cache.getOrSet')!;
    expect(getOrSet.attributes['coordination.key']).toBe('crew:7');
    expect(isChildOf(getOrSet, crew.server)).toBe(true);
    expect(isChildOf(crew.library.find((s) => s.name === 'cache.load')!, getOrSet)).toBe(true);

    const plan = await requestSpans('/plan');
    expect(plan.library.map((s) => s.name)).toEqual(['cache.get']);
    expect(isChildOf(plan.library[0], plan.server)).toBe(true);
  });
});
