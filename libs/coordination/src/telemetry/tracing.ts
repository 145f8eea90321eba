import { createHash } from 'node:crypto';
import {
  ProxyTracerProvider, ROOT_CONTEXT, SpanKind, SpanStatusCode, context, diag, trace,
  type Attributes, type Context, type Span, type Tracer, type TracerProvider,
} from '@opentelemetry/api';
import { CoordinationError } from '../errors/coordination.error.js';
import type { ResolvedTelemetryOptions } from '../options/resolve-options.js';
import { INSTRUMENTATION_SCOPE } from './instrumentation-scope.js';

/** Instrumentation scope name of the library's spans (and meters). */
export const TRACER_NAME = INSTRUMENTATION_SCOPE.name;

/** What a call adds to its span: the value of the operation's `detail` attribute, or attributes. */
export type Detail = string | number | boolean | Attributes;

/**
 * One traced operation: its span name and how its outcome reads on the span. Defined once (a
 * module constant, or a field built in a constructor), never per call: a call with no span to
 * make allocates nothing for it.
 *
 * @example
 * const CACHE_GET: TracedOperation<unknown> = {
 *   name: 'cache.get',
 *   result: (span, value) => span.setAttribute('coordination.cache.hit', value !== undefined),
 * };
 */
export interface TracedOperation<T> {
  /** The span name (stable, documented in the README's span table). */
  readonly name: string;
  /** Default INTERNAL; CONSUMER for work taken from a queue or stream, PRODUCER for work put on one. */
  readonly kind?: SpanKind;
  /**
   * A background operation: its span starts a trace of its own (or continues the one carried to
   * it as a traceparent) instead of joining whatever span was active where its loop started.
   */
  readonly root?: boolean;
  /** Attribute name of the call's `detail` argument when it is one value (a lock kind, a policy name, an entry id). */
  readonly detail?: string;
  /** Attributes of every span of the operation (for one built per consumer: its group). */
  readonly attributes?: Attributes;
  /** What `coordination.key` carries for the call's key, instead of the key (or its digest with `hashKeys`). */
  readonly keyOf?: (key: string) => string;
  /**
   * Sets outcome attributes from fn's value (`coordination.cache.hit`, ...). Should not throw: if
   * it does, the error is logged through the OpenTelemetry diag logger and the value still returned.
   */
  readonly result?: (span: Span, value: T, tracer: CoordinationTracer) => void;
  /**
   * Whether `error` is an outcome of the operation rather than a failure (a lock not acquired in
   * time, an in-flight duplicate): it then sets its attributes and returns true, and the span's
   * status stays UNSET. Any other error sets status ERROR and is recorded as an exception event.
   * Not asked about an error marked with `thrownByCallback` (the application's callback threw it:
   * a failure of the operation, whatever its class). A throw is logged and counts as false.
   */
  readonly outcome?: (span: Span, error: unknown) => boolean;
}

/** The delegate of an API ProxyTracerProvider that has none (no SDK registered): the API's no-op provider. */
const NO_SDK = new ProxyTracerProvider().getDelegate();
/** Key digests kept for hot keys; cleared when full (a digest costs ~1 µs, a lookup ~50 ns). */
const MAX_DIGESTS = 1_000;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
/** Fields of a CoordinationError's details that hold a key (or a name the spans carry as `coordination.key`). */
const KEY_DETAILS = ['key', 'taskId', 'role', 'stream'] as const;
/** Errors the application's callbacks threw inside a traced operation (see `thrownByCallback`). */
const CALLBACK_ERRORS = new WeakSet<object>();

/**
 * Marks `error` as thrown by the application's callback that a traced operation ran (a
 * `withLock` section, an idempotent run's work), and returns it to rethrow. Such an error is a
 * failure of that operation whatever its class: a LockTimeoutError of another lock is not
 * "this lock not acquired", an IdempotencyInFlightError of a nested run not "this key in flight".
 * Only on the error path; a value that is not an object is returned unmarked.
 *
 * @example
 * try {
 *   result = await fn(lock);
 * } catch (error) {
 *   throw thrownByCallback(error);
 * }
 */
export function thrownByCallback<E>(error: E): E {
  if (typeof error === 'object' && error !== null) CALLBACK_ERRORS.add(error);
  return error;
}

interface DelegatingProvider extends TracerProvider {
  getDelegate(): TracerProvider;
}

/**
 * Spans of coordination operations through `@opentelemetry/api`, on `telemetry.tracerProvider`
 * or else the global provider. With `telemetry.traces: false`, or while no SDK is registered
 * (checked at each call, so an SDK registered after the module booted is picked up), `trace()`
 * calls `fn` and returns its promise: no span, no attribute object, no context switch.
 *
 * @example
 * const LOCK_ACQUIRE: TracedOperation<Lock> = { name: 'lock.acquire', detail: 'coordination.lock.kind' };
 * const lock = await tracer.trace(LOCK_ACQUIRE, tenant, key, () => acquire(), 'mutex');
 */
export class CoordinationTracer {
  /** The provider `tracer` came from: a new one (an SDK registered, replaced or removed) gets a new tracer. */
  private provider: TracerProvider | undefined;
  private tracer: Tracer | undefined;
  private readonly digests = new Map<string, string>();

  constructor(private readonly options: ResolvedTelemetryOptions, private readonly driver: 'redis' | 'memory') {}

  /** Whether a call would make a span now: traces on and an SDK behind the provider. */
  get enabled(): boolean {
    return this.current() !== undefined;
  }

  /**
   * Runs `fn` inside span `operation.name`: a child of the active span (the incoming HTTP
   * request's, when the app traces them), or, for a `root` operation, of the `parent` traceparent
   * carried to it (else none). Inside `fn` the span is the active one, so library calls and user
   * code it runs are its children. `detail` goes into the operation's `detail` attribute, or is
   * several attributes (an object: pass one only when `enabled`, to allocate nothing otherwise).
   * A failure is recorded as an exception event; with `telemetry.hashKeys`, without its stack and
   * with the keys it names replaced by their digests (see `exceptionOf`).
   */
  trace<T>(
    operation: TracedOperation<T>, tenant: string | undefined, key: string | undefined, fn: () => Promise<T>,
    detail?: Detail, parent?: string,
  ): Promise<T> {
    const tracer = this.current();
    if (tracer === undefined) return fn();
    return this.traced(tracer, operation, tenant, key, fn, detail, parent);
  }

  /** `key` as span attributes carry it: itself, or the first 16 hex digits of its SHA-256 with `telemetry.hashKeys`. */
  key(key: string): string {
    if (!this.options.hashKeys) return key;
    let digest = this.digests.get(key);
    if (digest === undefined) {
      digest = createHash('sha256').update(key).digest('hex').slice(0, 16);
      if (this.digests.size >= MAX_DIGESTS) this.digests.clear();
      this.digests.set(key, digest);
    }
    return digest;
  }

  /**
   * The W3C `traceparent` of the active span, to carry with work done elsewhere (a task's data);
   * undefined unless this tracer makes spans now.
   */
  traceparent(): string | undefined {
    if (this.current() === undefined) return undefined;
    const span = trace.getActiveSpan()?.spanContext();
    if (span === undefined || !trace.isSpanContextValid(span)) return undefined;
    return `00-${span.traceId}-${span.spanId}-${span.traceFlags.toString(16).padStart(2, '0')}`;
  }

  /** The tracer to use now, or undefined for the fast path. */
  private current(): Tracer | undefined {
    if (!this.options.traces) return undefined;
    let provider = this.options.tracerProvider ?? trace.getTracerProvider();
    // The global provider is the API's proxy: the SDK registered behind it, or the no-op provider.
    if (typeof (provider as Partial<DelegatingProvider>).getDelegate === 'function') provider = (provider as DelegatingProvider).getDelegate();
    if (provider === this.provider) return this.tracer;
    this.provider = provider;
    this.tracer = provider === NO_SDK ? undefined : provider.getTracer(TRACER_NAME, INSTRUMENTATION_SCOPE.version);
    return this.tracer;
  }

  private async traced<T>(
    tracer: Tracer, operation: TracedOperation<T>, tenant: string | undefined, key: string | undefined, fn: () => Promise<T>,
    detail: Detail | undefined, parent: string | undefined,
  ): Promise<T> {
    const attributes: Attributes = operation.attributes === undefined ? {} : { ...operation.attributes };
    attributes['coordination.driver'] = this.driver;
    if (tenant !== undefined) attributes['coordination.tenant'] = tenant;
    if (key !== undefined) attributes['coordination.key'] = this.keyAttribute(operation, key);
    if (typeof detail === 'object') Object.assign(attributes, detail);
    else if (detail !== undefined && operation.detail !== undefined) attributes[operation.detail] = detail;
    const parentContext = operation.root ? rootContext(parent) : context.active();
    const span = tracer.startSpan(operation.name, { kind: operation.kind ?? SpanKind.INTERNAL, attributes }, parentContext);
    try {
      const value = await context.with(trace.setSpan(parentContext, span), fn);
      // Telemetry never changes what an operation returns: a callback that throws is only logged.
      if (operation.result !== undefined) {
        try {
          operation.result(span, value, this);
        } catch (bug) {
          callbackFailed(operation, 'result', bug);
        }
      }
      return value;
    } catch (error) {
      if (!isOutcome(operation, span, error)) this.fail(span, error, operation, key);
      throw error;
    } finally {
      span.end();
    }
  }

  /** What `coordination.key` carries for `key`. */
  private keyAttribute(operation: TracedOperation<never>, key: string): string {
    return operation.keyOf ? operation.keyOf(key) : this.key(key);
  }

  /** Status ERROR and the exception event; never throws (a thrown value whose String() throws, ...). */
  private fail(span: Span, error: unknown, operation: TracedOperation<never>, key: string | undefined): void {
    try {
      if (this.options.hashKeys) {
        const exception = this.exceptionOf(error, operation, key);
        span.recordException(exception);
        span.setStatus({ code: SpanStatusCode.ERROR, message: String(exception.code ?? exception.name ?? exception.message) });
        return;
      }
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    } catch (bug) {
      span.setStatus({ code: SpanStatusCode.ERROR });
      diag.warn(`${TRACER_NAME}: could not record the failure of span ${operation.name}`, bug);
    }
  }

  /**
   * `error` as a span may carry it with `hashKeys`: its name and code, and its message with the
   * operation's key and the keys the error names (a CoordinationError's `details`) replaced by what
   * `coordination.key` carries for them; no stack and no cause (either may name a key too).
   */
  private exceptionOf(error: unknown, operation: TracedOperation<never>, key: string | undefined): { name?: string; code?: string | number; message: string } {
    const keys = new Set<string>();
    if (key !== undefined && key !== '') keys.add(key);
    if (error instanceof CoordinationError) {
      for (const field of KEY_DETAILS) {
        const value = error.details[field];
        if (typeof value === 'string' && value !== '') keys.add(value);
      }
    }
    let message = error instanceof Error ? error.message : String(error);
    if (keys.size > 0) {
      // One pass, longest first: a key inside another key, or inside a digest, is not replaced again.
      const pattern = new RegExp([...keys].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|'), 'g');
      message = message.replace(pattern, (found) => (found === key ? this.keyAttribute(operation, found) : this.key(found)));
    }
    if (!(error instanceof Error)) return { message };
    const code = 'code' in error ? error.code : undefined;
    return typeof code === 'string' || typeof code === 'number' ? { name: error.name, code, message } : { name: error.name, message };
  }
}

/** Whether `error` is the operation's outcome (its attributes then set); never throws. */
function isOutcome<T>(operation: TracedOperation<T>, span: Span, error: unknown): boolean {
  if (operation.outcome === undefined || (typeof error === 'object' && error !== null && CALLBACK_ERRORS.has(error))) return false;
  try {
    return operation.outcome(span, error);
  } catch (bug) {
    callbackFailed(operation, 'outcome', bug);
    return false;
  }
}

function callbackFailed(operation: TracedOperation<never>, callback: 'result' | 'outcome', bug: unknown): void {
  diag.warn(`${TRACER_NAME}: the ${callback} callback of span ${operation.name} threw; the span may lack its outcome attributes`, bug);
}

/**
 * The parent of a background operation: the carried traceparent's span, else none (a new trace).
 * Built on the root context, not the active one: nothing of the context where its loop started
 * (a request's baggage, entries of other instrumentations) leaks into it.
 */
function rootContext(traceparent: string | undefined): Context {
  const match = traceparent === undefined ? null : TRACEPARENT.exec(traceparent);
  if (!match) return ROOT_CONTEXT;
  const carried = { traceId: match[1], spanId: match[2], traceFlags: parseInt(match[3], 16) & 0xff, isRemote: true };
  return trace.isSpanContextValid(carried) ? trace.setSpanContext(ROOT_CONTEXT, carried) : ROOT_CONTEXT;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
