import type { CounterHandle, HistogramHandle, MetricsRegistry } from '../metrics/metrics-registry.js';
import type { BreakerState, CircuitBreaker } from './circuit-breaker.js';

/** The `redis_breaker_state` gauge's value per state: higher is worse. */
export const BREAKER_LEVEL: Readonly<Record<BreakerState, number>> = { closed: 0, 'half-open': 1, open: 2 };

/**
 * The metrics of one module instance's Redis connection (library-internal), their series bound
 * once:
 *
 * - `redis_command_ms`: round trip of every command and script run through the circuit breaker
 *   (CommandExecutor) that got a reply, reply errors included; a transport failure is counted by
 *   the breaker instead. Measured only while the registry's metrics are exported (an OpenTelemetry
 *   SDK receives them, see `timingCommands`): it costs two clock reads on the hot path of every
 *   capability, which nothing else would read.
 * - `redis_reconnects_total{role: command | subscriber}`: a connection ready again after it was
 *   lost (not each attempt: `health().reconnectCount` counts those).
 * - `redis_breaker_state`: 0 closed, 1 half-open (the probe is in flight), 2 open; and
 *   `redis_breaker_opened_total`: each time the breaker opens (also when a failed probe re-opens it).
 *
 * @example
 * const meter = new ConnectionMetrics(core.metrics);
 * meter.watchBreaker(breaker);
 * if (meter.timingCommands) meter.commandLatency.observe(0.4);
 */
export class ConnectionMetrics {
  /** `redis_command_ms`; observe it only while `timingCommands`. */
  readonly commandLatency: HistogramHandle;
  private readonly reconnects: Readonly<Record<'command' | 'subscriber', CounterHandle>>;
  private readonly openings: CounterHandle;

  constructor(private readonly metrics: MetricsRegistry) {
    this.commandLatency = metrics.histogramOf('redis_command_ms');
    this.reconnects = {
      command: metrics.counterOf('redis_reconnects_total', { role: 'command' }),
      subscriber: metrics.counterOf('redis_reconnects_total', { role: 'subscriber' }),
    };
    this.openings = metrics.counterOf('redis_breaker_opened_total');
  }

  /**
   * Whether commands are timed now: while an exporter (the OpenTelemetry bridge, with an SDK)
   * is attached to the registry. Without one (no SDK, `telemetry.metrics: false`) the executor
   * reads no clock.
   */
  get timingCommands(): boolean {
    return this.metrics.exporting;
  }

  /** Follows `breaker`: its state as the gauge from now on, each opening counted. */
  watchBreaker(breaker: CircuitBreaker): void {
    this.breakerState(breaker.state);
    breaker.onStateChange((state) => {
      if (state === 'open') this.openings.add();
      this.breakerState(state);
    });
  }

  /**
   * The breaker lets its half-open probe through. The breaker itself stays `open` until the
   * probe's outcome (its `state` reads `half-open` once `openMs` passed), so the gauge is set here.
   */
  probing(): void {
    this.breakerState('half-open');
  }

  /** `role`'s connection is ready again after it was lost. */
  reconnected(role: 'command' | 'subscriber'): void {
    this.reconnects[role].add();
  }

  private breakerState(state: BreakerState): void {
    this.metrics.setGauge('redis_breaker_state', BREAKER_LEVEL[state]);
  }
}
