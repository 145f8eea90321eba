import type { ResolvedTelemetryOptions } from '../options/resolve-options.js';

/** Attributes of a span; undefined ones are left out. */
export type SpanAttributes = Readonly<Record<string, string | number | boolean | undefined>>;

/**
 * Spans of coordination operations through `@opentelemetry/api` (STUB: runs `fn` without a span).
 *
 * @example
 * const lock = await tracer.trace('lock.acquire', { 'coordination.tenant': tenant, 'coordination.key': tracer.key(key) }, () => acquire());
 */
export class CoordinationTracer {
  constructor(private readonly options: ResolvedTelemetryOptions) {}

  /** Runs `fn` inside span `name`, a child of the active span (the incoming HTTP request's, when the app traces them). */
  trace<T>(name: string, attributes: SpanAttributes, fn: () => Promise<T>): Promise<T> {
    void name;
    void attributes;
    return fn();
  }

  /** `key` as span attributes carry it: itself, or its digest with `telemetry.hashKeys`. */
  key(key: string): string {
    void this.options;
    return key;
  }
}
