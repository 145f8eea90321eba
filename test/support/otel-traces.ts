import { context, trace, type Attributes, type AttributeValue, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

/**
 * A real OpenTelemetry SDK TracerProvider exporting to memory, to pass as
 * `telemetry.tracerProvider` (or register globally) and read the spans the library ended.
 *
 * @example
 * useAsyncContext(); // once per test file: spans nest across awaits
 * const otel = new TestSpans();
 * const booted = await bootModule({ driver: 'memory', telemetry: { tracerProvider: otel.provider } });
 * await locks.withLock('k', async () => {});
 * expect(otel.one('lock.acquire').attributes['coordination.key']).toBe('k');
 */
export class TestSpans {
  readonly exporter = new InMemorySpanExporter();
  readonly provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(this.exporter)] });

  /** Every span ended so far, in the order they ended. */
  all(): ReadableSpan[] {
    return this.exporter.getFinishedSpans();
  }

  /** The ended spans named `name` whose attributes include `attributes`. */
  named(name: string, attributes: Attributes = {}): ReadableSpan[] {
    return this.all().filter((s) => s.name === name && Object.entries(attributes).every(([k, v]) => sameValue(s.attributes[k], v)));
  }

  /** The one ended span named `name` (with `attributes`); fails listing what was ended otherwise. */
  one(name: string, attributes: Attributes = {}): ReadableSpan {
    const found = this.named(name, attributes);
    if (found.length !== 1) {
      const ended = this.all().map((s) => `${s.name} ${JSON.stringify(s.attributes)}`).join('\n  ');
      throw new Error(`expected one span ${name} ${JSON.stringify(attributes)}, found ${found.length}; ended:\n  ${ended || '(none)'}`);
    }
    return found[0];
  }

  /** The names of the ended spans, in the order they ended. */
  names(): string[] {
    return this.all().map((s) => s.name);
  }

  /** Forgets the spans ended so far. */
  reset(): void {
    this.exporter.reset();
  }

  /**
   * Runs `fn` inside an active span of this provider (a SERVER span, as an HTTP instrumentation
   * starts per request) and returns the span with fn's value.
   */
  async inSpan<T>(name: string, fn: (span: Span) => Promise<T>): Promise<T> {
    const span = this.provider.getTracer('test').startSpan(name);
    try {
      return await context.with(trace.setSpan(context.active(), span), () => fn(span));
    } finally {
      span.end();
    }
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}

/**
 * Registers an AsyncLocalStorageContextManager as the global context manager for the calling
 * test file (beforeAll) and disables it after (afterAll), as an application's OpenTelemetry SDK
 * does: without one, the API's context never crosses an `await`.
 */
export function useAsyncContext(): void {
  let manager: AsyncLocalStorageContextManager | undefined;
  beforeAll(() => {
    manager = new AsyncLocalStorageContextManager().enable();
    if (!context.setGlobalContextManager(manager)) throw new Error('a global context manager is already registered');
  });
  afterAll(() => {
    manager?.disable();
    context.disable();
  });
}

/** The span `child` ended as a child of `parent` (same trace, parent span id). */
export function isChildOf(child: ReadableSpan, parent: ReadableSpan | Span): boolean {
  const p = parent.spanContext();
  return child.parentSpanContext?.spanId === p.spanId && child.spanContext().traceId === p.traceId;
}

function sameValue(actual: AttributeValue | undefined, expected: AttributeValue | undefined): boolean {
  return Array.isArray(expected) ? JSON.stringify(actual) === JSON.stringify(expected) : actual === expected;
}
