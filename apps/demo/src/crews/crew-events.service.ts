import { Injectable } from '@nestjs/common';
import { EventBus, StreamService, type CoordinationEvent } from '@nest-coordination/core';
import type { Observable } from 'rxjs';
import { CREW_RUN_EVENTS, type CrewRunStreamEvent } from './crew-run-events.js';
import type { CrewEventPayload } from './crew.model.js';

/** Channel of a crew event type; every crew event lives under `crew.*` (runs under `crew.run.*`). */
export function crewChannel(type: CrewEventPayload['type']): string {
  return `crew.${type}`;
}

/**
 * Publishes and streams crew events through the coordination `EventBus`, scoped to the
 * company (tenant): a subscriber of one company never sees another company's events,
 * whichever instance of the demo published them. Run events are also appended to the company's
 * durable stream (`appendRun`), which keeps them while no one listens.
 */
@Injectable()
export class CrewEventsService {
  constructor(private readonly bus: EventBus, private readonly streams: StreamService) {}

  /**
   * Appends a run event to the company's CREW_RUN_EVENTS stream; its id once Redis has it.
   * Throws (RedisUnavailableError) when it cannot be appended: it is never dropped silently.
   */
  appendRun(event: CrewRunStreamEvent): Promise<string> {
    return this.streams.append(CREW_RUN_EVENTS, event, { tenant: event.companyId });
  }

  async publish(companyId: string, event: CrewEventPayload): Promise<string> {
    const channel = crewChannel(event.type);
    await this.bus.publish(channel, event, { tenant: companyId });
    return channel;
  }

  stream(companyId: string): Observable<CoordinationEvent<CrewEventPayload>> {
    return this.bus.on<CrewEventPayload>('crew.*', { tenant: companyId });
  }
}
