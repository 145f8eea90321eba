import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { RedisConnection } from '../connection/redis-connection.js';
import { KeyBuilder } from '../keys/key-builder.js';
import { MetricsRegistry } from '../metrics/metrics-registry.js';
import type { ResolvedCoordinationOptions } from '../options/resolve-options.js';
import { Serializer } from '../serialization/serializer.js';
import { Telemetry } from '../telemetry/telemetry.js';
import { TenantContext } from '../tenancy/tenant-context.js';
import type { Clock } from './clock.js';
import { COORDINATION_RESOLVED_OPTIONS } from './coordination.tokens.js';

/**
 * The shared parts every capability of one module instance builds on: options, the Redis
 * connection (absent on the memory driver), the key builder, the tenant context and the
 * serializer. Capabilities choose their store from `driver` and never build keys by hand.
 * Exported for guard subclasses and custom capabilities; applications rarely need it.
 *
 * @example
 * @Injectable()
 * class InstanceInfo {
 *   constructor(private readonly core: CoordinationCore) {}
 *   describe() { return { instanceId: this.core.instanceId, driver: this.core.driver }; }
 * }
 */
@Injectable()
export class CoordinationCore implements OnModuleInit, OnApplicationShutdown {
  readonly keys: KeyBuilder;
  readonly tenants: TenantContext;
  readonly serializer: Serializer;
  readonly connection: RedisConnection | null;
  readonly metrics = new MetricsRegistry();
  /** Metrics and spans through OpenTelemetry (see TelemetryOptions). */
  readonly telemetry: Telemetry;
  private readonly logger = new Logger('Coordination');

  constructor(@Inject(COORDINATION_RESOLVED_OPTIONS) readonly options: ResolvedCoordinationOptions) {
    this.keys = new KeyBuilder(options.prefix);
    this.tenants = new TenantContext(options.tenancy.required);
    this.serializer = new Serializer({ compressThresholdBytes: options.serializer.compressThresholdBytes, maxDepth: options.serializer.maxDepth });
    this.connection = options.driver === 'redis' ? new RedisConnection(options, this.metrics) : null;
    this.telemetry = new Telemetry(options.telemetry, this.metrics, options.driver);
  }

  get driver(): 'redis' | 'memory' {
    return this.options.driver;
  }

  get instanceId(): string {
    return this.options.instanceId;
  }

  get clock(): Clock {
    return this.options.clock;
  }

  async onModuleInit(): Promise<void> {
    this.telemetry.start();
    if (this.connection) {
      await this.connection.connect();
      this.logger.log(`Using the redis driver (${this.connection.topology}), instance ${this.instanceId}`);
    } else {
      this.logger.log(`Using the in-memory driver (no Redis connection configured): state is local to this process`);
    }
  }

  /**
   * Clients close last: Nest runs every beforeApplicationShutdown hook before any
   * onApplicationShutdown, and capabilities wind down in theirs (LockService refuses new locks,
   * aborts held locks' signals, waits for their holders, then releases), which needs Redis.
   */
  async onApplicationShutdown(): Promise<void> {
    this.telemetry.stop();
    await this.connection?.close();
  }
}
