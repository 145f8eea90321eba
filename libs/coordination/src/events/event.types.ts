/**
 * One event as observers receive it. Every observer of a module instance receives the same
 * object, deeply frozen (see EventBus): copy the payload before changing it.
 *
 * @example
 * bus.on<{ crewId: string }>('crew.*', { tenant: 'acme' }).subscribe((event) => {
 *   logger.log(`${event.channel} ${event.payload.crewId} from ${event.source} at ${new Date(event.timestamp).toISOString()}`);
 * });
 */
export interface CoordinationEvent<T = unknown> {
  /** Unique per published event (a UUID); lets consumers drop duplicates they may see elsewhere. */
  readonly id: string;
  /** The concrete channel it was published on (`crew.started`), also when received through a pattern. */
  readonly channel: string;
  /** The tenant it was published under; always the tenant of the subscription. */
  readonly tenant: string;
  readonly payload: T;
  /** Publish time, ms since the epoch, from the publisher's clock. */
  readonly timestamp: number;
  /** `instanceId` of the publishing module instance. */
  readonly source: string;
}

/**
 * Options of `EventBus.publish`, `emit` and `on`.
 *
 * @example
 * await bus.publish('crew.started', { crewId: 'c1' }, { tenant: 'acme' });
 */
export interface EventOptions {
  /** Tenant to publish under / listen to; default: the tenant of the current context (see TenantContext). */
  tenant?: string;
}
