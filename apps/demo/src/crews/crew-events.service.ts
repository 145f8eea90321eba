import { Injectable } from '@nestjs/common';
import { EventBus, type CoordinationEvent } from '@nest-coordination/core';
import type { Observable } from 'rxjs';
import type { CrewEventPayload } from './crew.model.js';

/** Channel of a crew event type; every crew event lives under `crew.*` (runs under `crew.run.*`). */
export function crewChannel(type: CrewEventPayload['type']): string {
  return `crew.${type}`;
}

/**
 * Publishes and streams crew events through the coordination `EventBus`, scoped to the
 * company (tenant): a subscriber of one company never sees another company's events,
 * whichever instance of the demo published them.
 */
@Injectable()
export class CrewEventsService {
  constructor(private readonly bus: EventBus) {}

  async publish(companyId: string, event: CrewEventPayload): Promise<string> {
    const channel = crewChannel(event.type);
    await this.bus.publish(channel, event, { tenant: companyId });
    return channel;
  }

  stream(companyId: string): Observable<CoordinationEvent<CrewEventPayload>> {
    return this.bus.on<CrewEventPayload>('crew.*', { tenant: companyId });
  }
}
