import { Logger } from '@nestjs/common';
import type { CoordinationCore } from '../core/coordination-core.js';
import type { LibraryEventEmitter } from '../events/library-event-emitter.js';
import type { ResolvedRateLimitOptions } from './rate-limit.options.js';
import type { RateLimitAlert, RateLimitViolation } from './rate-limit.types.js';
import type { ViolationStore } from './violation-store.interface.js';

/** Violations buffered per tenant between flushes; beyond this, new ones are counted as dropped. */
const MAX_PENDING_PER_TENANT = 5_000;
const WARN_EVERY_MS = 10_000;

/**
 * Records denials off the request path: publishes `ratelimit.violation` at once, and writes
 * the violation log in batches (one script call per tenant per flush), firing
 * `ratelimit.alert` for keys that cross the alert threshold.
 *
 * Both events name the violation's tenant (`_shared` included) instead of taking it from the
 * async context: a flush writes every tenant's batch from whichever context started it (the
 * timer, or any tenant's `getViolations`), and a `_shared` check may run inside a tenant's request.
 */
export class ViolationRecorder {
  private readonly logger = new Logger('Coordination:RateLimit');
  private pending = new Map<string, RateLimitViolation[]>();
  private inflight: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private lastWarnAt = -Infinity;

  constructor(
    private readonly core: CoordinationCore,
    private readonly store: ViolationStore,
    private readonly options: ResolvedRateLimitOptions['violations'],
    private readonly events: LibraryEventEmitter | undefined,
  ) {}

  /** Starts the flush timer; call outside any request so it carries no tenant context. */
  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.options.flushIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  record(violation: RateLimitViolation): void {
    if (this.options.publish) this.events?.emitAs(violation.tenant, 'ratelimit.violation', violation);
    let batch = this.pending.get(violation.tenant);
    if (!batch) this.pending.set(violation.tenant, (batch = []));
    if (batch.length >= MAX_PENDING_PER_TENANT) {
      this.core.metrics.increment('ratelimit_violations_dropped_total', { tenant: violation.tenant });
      return;
    }
    batch.push(violation);
  }

  /** Writes everything recorded so far; resolves once it is stored (or failed and was counted). */
  flush(): Promise<void> {
    const batches = this.pending;
    if (batches.size > 0) this.pending = new Map();
    const previous = this.inflight;
    this.inflight = previous.then(() => Promise.all([...batches].map(([tenant, batch]) => this.write(tenant, batch))).then(() => undefined));
    return this.inflight;
  }

  list(tenant: string, max: number): Promise<RateLimitViolation[]> {
    return this.store.list(tenant, max);
  }

  private async write(tenant: string, batch: RateLimitViolation[]): Promise<void> {
    const { alertThreshold: threshold, alertWindowMs: windowMs } = this.options;
    try {
      const crossings = await this.store.append(tenant, batch, { threshold, windowMs });
      for (const crossing of crossings) {
        const alert: RateLimitAlert = { tenant, key: crossing.key, violations: crossing.violations, threshold, windowMs, at: this.core.clock.now() };
        this.core.metrics.increment('ratelimit_alerts_total', { tenant });
        this.events?.emitAs(tenant, 'ratelimit.alert', alert);
      }
    } catch (error) {
      this.core.metrics.increment('ratelimit_violations_dropped_total', { tenant }, batch.length);
      const now = this.core.clock.now();
      if (now - this.lastWarnAt >= WARN_EVERY_MS) {
        this.lastWarnAt = now;
        this.logger.warn(`Could not record ${batch.length} rate-limit violation(s) of tenant ${tenant}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
}
