import { assertTenantId } from '../keys/key-builder.js';
import { parseChannelPattern } from './channel-name.js';
import type { EventOptions } from './event.types.js';

/** Metadata key under which `@OnCoordinationEvent` stores its subscriptions on the method. */
export const COORDINATION_EVENT_HANDLER = 'coordination:event-handler';

export interface EventHandlerMetadata {
  channelOrPattern: string;
  tenant?: string;
}

/**
 * Subscribes the decorated method to a channel or pattern (`*` wildcard) when the
 * application boots; the method receives each `CoordinationEvent`. Works on any provider
 * or controller with a static scope; may be stacked. A throwing or rejecting handler is
 * logged and counted (`events_handler_failed_total`) and keeps receiving later events.
 * The handler runs in the event's tenant context. Without `tenant`, the tenant is the
 * shared one (or boot fails with TenantRequiredError when `tenancy.required` is on).
 *
 * The decorator only records metadata; `EventSubscriberExplorer` does the subscribing.
 * The name is checked here, so a malformed one fails when the class is defined.
 *
 * @example
 * @Injectable()
 * export class CrewAudit {
 *   @OnCoordinationEvent('crew.*', { tenant: 'acme' })
 *   async record(event: CoordinationEvent<{ crewId: string }>) {
 *     await this.audit.write(event.channel, event.payload.crewId);
 *   }
 * }
 */
export function OnCoordinationEvent(channelOrPattern: string, options: EventOptions = {}): MethodDecorator {
  parseChannelPattern(channelOrPattern, 'channelOrPattern');
  if (options.tenant !== undefined) assertTenantId(options.tenant);
  const entry: EventHandlerMetadata = { channelOrPattern, tenant: options.tenant };
  return (_target, _property, descriptor) => {
    const handler = descriptor.value as object;
    const previous = eventHandlerMetadata(handler);
    Reflect.defineMetadata(COORDINATION_EVENT_HANDLER, [...previous, entry], handler);
    return descriptor;
  };
}

/** The subscriptions `@OnCoordinationEvent` recorded on a method (empty when none). */
export function eventHandlerMetadata(method: unknown): EventHandlerMetadata[] {
  if (typeof method !== 'function') return [];
  return (Reflect.getMetadata(COORDINATION_EVENT_HANDLER, method) as EventHandlerMetadata[] | undefined) ?? [];
}
