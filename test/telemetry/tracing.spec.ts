import { createHash } from 'node:crypto';
import { SpanKind, SpanStatusCode, context, createContextKey, propagation, trace, type Span } from '@opentelemetry/api';
import { LockLostError, LockTimeoutError } from '../../libs/coordination/src/locks/lock.errors.js';
import { CoordinationTracer, TRACER_NAME, thrownByCallback, type TracedOperation } from '../../libs/coordination/src/telemetry/tracing.js';
import type { ResolvedTelemetryOptions } from '../../libs/coordination/src/options/resolve-options.js';
import { TestSpans, isChildOf, useAsyncContext } from '../support/otel-traces.js';
import { rejectionOf } from '../support/wait.js';

useAsyncContext();

const DEFAULTS: ResolvedTelemetryOptions = { metrics: true, traces: true, hashKeys: false, tenantAttribute: 'all', maxTenantValues: 100 };

class Refused extends Error {}

const GET: TracedOperation<string | undefined> = {
  name: 'test.get',
  detail: 'test.detail',
  result: (span, value) => span.setAttribute('test.hit', value !== undefined),
  outcome: (span, error) => error instanceof Refused && (span.setAttribute('test.refused', true), true),
};
const RUN: TracedOperation<unknown> = { name: 'test.run', kind: SpanKind.CONSUMER, root: true };

describe('CoordinationTracer', () => {
  let otel: TestSpans;

  beforeEach(() => {
    otel = new TestSpans();
  });

  afterEach(async () => {
    await otel.shutdown();
  });

  const tracerOf = (options: Partial<ResolvedTelemetryOptions> = {}, driver: 'redis' | 'memory' = 'redis') =>
    new CoordinationTracer({ ...DEFAULTS, tracerProvider: otel.provider, ...options }, driver);

  it('ends one span per call, named by the operation, with tenant, key, driver and detail, under the active span', async () => {
    const tracer = tracerOf();
    const value = await otel.inSpan('GET /crews', () => tracer.trace(GET, 'acme', 'crew:7', async () => 'v', 'd'));
    expect(value).toBe('v');
    const span = otel.one('test.get');
    expect(span.attributes).toEqual({
      'coordination.tenant': 'acme', 'coordination.key': 'crew:7', 'coordination.driver': 'redis', 'test.detail': 'd', 'test.hit': true,
    });
    expect(span.kind).toBe(SpanKind.INTERNAL);
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.ended).toBe(true);
    expect(span.instrumentationScope.name).toBe(TRACER_NAME);
    expect(span.instrumentationScope.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(isChildOf(span, otel.one('GET /crews'))).toBe(true);
  });

  it('makes its span the active one inside fn: work started there (and after its awaits) is its child', async () => {
    const tracer = tracerOf();
    await tracer.trace(GET, 'acme', 'k', async () => {
      await Promise.resolve();
      otel.provider.getTracer('user').startSpan('user.work').end();
      return undefined;
    });
    expect(isChildOf(otel.one('user.work'), otel.one('test.get'))).toBe(true);
  });

  it('records a failure: status ERROR, the exception as an event, the error rethrown, the span ended once', async () => {
    const tracer = tracerOf();
    const failure = new Error('redis went away');
    expect(await rejectionOf(tracer.trace(GET, 'acme', 'k', async () => { throw failure; }))).toBe(failure);
    const span = otel.one('test.get');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'redis went away' });
    expect(span.events.map((e) => [e.name, e.attributes?.['exception.message']])).toEqual([['exception', 'redis went away']]);
    expect(span.attributes['test.hit']).toBeUndefined();
  });

  it('records a failure thrown synchronously by fn', async () => {
    const tracer = tracerOf();
    const failure = new Error('bad');
    expect(await rejectionOf(tracer.trace(GET, 'acme', 'k', () => { throw failure; }))).toBe(failure);
    expect(otel.one('test.get').status.code).toBe(SpanStatusCode.ERROR);
  });

  it('leaves the status unset for an error the operation counts as an outcome, and sets its attributes', async () => {
    const tracer = tracerOf();
    const refusal = new Refused('no');
    expect(await rejectionOf(tracer.trace(GET, 'acme', 'k', async () => { throw refusal; }))).toBe(refusal);
    const span = otel.one('test.get');
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.events).toEqual([]);
    expect(span.attributes['test.refused']).toBe(true);
  });

  it('hashes keys with hashKeys: 16 hex digits of SHA-256, never the key itself', async () => {
    const tracer = tracerOf({ hashKeys: true });
    await tracer.trace(GET, 'acme', 'user:ada@example.com', async () => 'v');
    await tracer.trace(GET, 'acme', 'user:ada@example.com', async () => 'v');
    const digest = createHash('sha256').update('user:ada@example.com').digest('hex').slice(0, 16);
    expect(tracer.key('user:ada@example.com')).toBe(digest);
    expect(otel.named('test.get').map((s) => s.attributes['coordination.key'])).toEqual([digest, digest]);
    expect(JSON.stringify(otel.all().map((s) => s.attributes))).not.toContain('ada@example.com');
    expect(tracerOf().key('user:ada@example.com')).toBe('user:ada@example.com');
  });

  it('with traces: false calls fn directly: its own promise back, no span', async () => {
    const tracer = tracerOf({ traces: false });
    const promise = Promise.resolve('v');
    expect(tracer.enabled).toBe(false);
    expect(tracer.trace(GET, 'acme', 'k', () => promise)).toBe(promise);
    await promise;
    expect(otel.all()).toEqual([]);
  });

  it('uses the global provider: a fast path while none is registered, spans once one is (after the tracer was made)', async () => {
    const tracer = new CoordinationTracer(DEFAULTS, 'memory');
    const promise = Promise.resolve('v');
    expect(tracer.enabled).toBe(false);
    expect(tracer.trace(GET, 'acme', 'k', () => promise)).toBe(promise);
    expect(trace.setGlobalTracerProvider(otel.provider)).toBe(true);
    try {
      expect(tracer.enabled).toBe(true);
      await tracer.trace(GET, 'acme', 'k', async () => 'v');
      expect(otel.one('test.get').attributes['coordination.driver']).toBe('memory');
    } finally {
      trace.disable();
    }
    expect(tracer.enabled).toBe(false);
    await tracer.trace(GET, 'acme', 'k', async () => 'v');
    expect(otel.named('test.get')).toHaveLength(1);
  });

  it('carries the active span as a W3C traceparent, and parents a later operation on it', async () => {
    const tracer = tracerOf();
    let carried: string | undefined;
    await otel.inSpan('POST /tasks', () => tracer.trace(GET, 'acme', 'k', async () => {
      carried = tracer.traceparent();
      return 'v';
    }));
    const producer = otel.one('test.get');
    expect(carried).toBe(`00-${producer.spanContext().traceId}-${producer.spanContext().spanId}-01`);
    // Elsewhere (another request's span active), the carried context is the parent, not the active span.
    await otel.inSpan('unrelated', () => tracer.trace(RUN, 'acme', 'task', async () => 'done', undefined, carried));
    const consumer = otel.one('test.run');
    expect(consumer.kind).toBe(SpanKind.CONSUMER);
    expect(isChildOf(consumer, producer)).toBe(true);
  });

  it('starts a root operation outside the active span when nothing was carried (or the carrier is malformed)', async () => {
    const tracer = tracerOf();
    await otel.inSpan('campaign caller', async () => {
      await tracer.trace(RUN, 'acme', 'task', async () => 'done');
      await tracer.trace(RUN, 'acme', 'task', async () => 'done', undefined, 'garbage');
    });
    const caller = otel.one('campaign caller');
    for (const span of otel.named('test.run')) {
      expect(span.parentSpanContext).toBeUndefined();
      expect(span.spanContext().traceId).not.toBe(caller.spanContext().traceId);
    }
    expect(otel.named('test.run')).toHaveLength(2);
  });

  it('carries nothing without a span of its own (traces off, or no SDK)', async () => {
    const tracer = tracerOf({ traces: false });
    await otel.inSpan('POST /tasks', async () => {
      expect(tracer.traceparent()).toBeUndefined();
    });
  });

  it('passes the span to result() for outcome attributes, keys hashed through the tracer', async () => {
    const tracer = tracerOf({ hashKeys: true });
    const op: TracedOperation<string> = { name: 'test.many', result: (span: Span, value, t) => span.setAttribute('test.violated', t.key(value)) };
    await tracer.trace(op, 'acme', undefined, async () => 'user:7');
    const span = otel.one('test.many');
    expect(span.attributes['coordination.key']).toBeUndefined();
    expect(span.attributes['test.violated']).toBe(tracer.key('user:7'));
    expect(span.attributes['test.violated']).not.toBe('user:7');
  });

  it('with hashKeys, records a failure without the key: its code and message with each key as its digest, no stack; the code is the status', async () => {
    const tracer = tracerOf({ hashKeys: true });
    const key = 'user:ada@example.com';
    const lost = new LockLostError(key, 'it expired', 'acme');
    expect(await rejectionOf(tracer.trace(GET, 'acme', key, async () => { throw lost; }))).toBe(lost);
    // An error of another key, thrown by work the operation ran (a nested lock's timeout), names that key.
    const nested = new LockTimeoutError('user:bob@example.com', 20, 'acme');
    await rejectionOf(tracer.trace(GET, 'acme', key, async () => { throw nested; }));
    // Errors of the application's own, also not Errors, with the key in their message.
    await rejectionOf(tracer.trace(GET, 'acme', key, async () => { throw new TypeError(`no row for ${key}`); }));
    await rejectionOf(tracer.trace(GET, 'acme', key, async () => { throw `gave up on ${key}`; }));
    const [first, second, third, fourth] = otel.named('test.get');
    expect(first.status).toEqual({ code: SpanStatusCode.ERROR, message: 'E_LOCK_LOST' });
    expect(first.events.map((e) => [e.name, e.attributes])).toEqual([
      ['exception', { 'exception.type': 'E_LOCK_LOST', 'exception.message': `Lock "${tracer.key(key)}" is no longer held: it expired` }],
    ]);
    expect(second.status).toEqual({ code: SpanStatusCode.ERROR, message: 'E_LOCK_TIMEOUT' });
    expect(second.events[0].attributes?.['exception.message']).toBe(`Lock "${tracer.key('user:bob@example.com')}" was not acquired within 20 ms (option waitMs)`);
    expect(third.status).toEqual({ code: SpanStatusCode.ERROR, message: 'TypeError' });
    expect(third.events[0].attributes).toEqual({ 'exception.type': 'TypeError', 'exception.message': `no row for ${tracer.key(key)}` });
    expect(fourth.status.code).toBe(SpanStatusCode.ERROR);
    expect(fourth.events[0].attributes?.['exception.message']).toBe(`gave up on ${tracer.key(key)}`);
    expect(JSON.stringify(otel.all().map((s) => [s.attributes, s.events, s.status]))).not.toContain('example.com');
  });

  it('without hashKeys, records the error itself (message and stack)', async () => {
    const tracer = tracerOf();
    const lost = new LockLostError('user:7', 'it expired', 'acme');
    await rejectionOf(tracer.trace(GET, 'acme', 'user:7', async () => { throw lost; }));
    const span = otel.one('test.get');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: lost.message });
    expect(span.events[0].attributes).toMatchObject({ 'exception.type': 'E_LOCK_LOST', 'exception.message': lost.message, 'exception.stacktrace': lost.stack });
  });

  it('an error marked as thrown by a callback of the application is a failure, never the operation\'s outcome', async () => {
    const tracer = tracerOf();
    const refusal = new Refused('a nested call was refused');
    expect(await rejectionOf(tracer.trace(GET, 'acme', 'k', async () => { throw thrownByCallback(refusal); }))).toBe(refusal);
    const span = otel.one('test.get');
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['test.refused']).toBeUndefined();
    // Values that cannot be marked (not objects) are simply rethrown.
    expect(thrownByCallback('plain')).toBe('plain');
  });

  it('a result or outcome callback that throws changes neither the value nor the error of the operation', async () => {
    const tracer = tracerOf();
    const broken: TracedOperation<string> = {
      name: 'test.broken',
      result: () => { throw new Error('result callback bug'); },
      outcome: () => { throw new Error('outcome callback bug'); },
    };
    expect(await tracer.trace(broken, 'acme', 'k', async () => 'v')).toBe('v');
    const failure = new Error('the operation failed');
    expect(await rejectionOf(tracer.trace(broken, 'acme', 'k', async () => { throw failure; }))).toBe(failure);
    const [ok, failed] = otel.named('test.broken');
    expect(ok.ended && failed.ended).toBe(true);
    expect(ok.status.code).toBe(SpanStatusCode.UNSET);
    expect(failed.status).toEqual({ code: SpanStatusCode.ERROR, message: 'the operation failed' });
  });

  it('runs a root operation in a context of its own: no baggage or other entry of the context where it was started', async () => {
    const tracer = tracerOf();
    const USER = createContextKey('user entry');
    const caller = propagation.setBaggage(context.active(), propagation.createBaggage({ 'user.id': { value: 'ada' } })).setValue(USER, 'request 1');
    let seen: unknown[] = [];
    await context.with(caller, () => tracer.trace(RUN, 'acme', 'task', async () => {
      seen = [propagation.getBaggage(context.active()), context.active().getValue(USER)];
    }));
    expect(seen).toEqual([undefined, undefined]);
    // A child operation (not root) keeps them.
    await context.with(caller, () => tracer.trace(GET, 'acme', 'k', async () => {
      seen = [propagation.getBaggage(context.active())?.getEntry('user.id')?.value, context.active().getValue(USER)];
      return 'v';
    }));
    expect(seen).toEqual(['ada', 'request 1']);
  });
});
