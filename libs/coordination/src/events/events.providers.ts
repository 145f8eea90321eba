import type { Provider } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { EventBus } from './event-bus.js';
import { EventSubscriberExplorer } from './event-subscriber.explorer.js';
import { EVENT_TRANSPORT } from './event-transport.js';
import { MemoryEventTransport } from './memory-event.transport.js';
import { RedisEventTransport } from './redis-event.transport.js';

/** Providers this capability registers in CoordinationModule. */
export const EVENT_PROVIDERS: Provider[] = [
  {
    provide: EVENT_TRANSPORT,
    inject: [CoordinationCore],
    useFactory: (core: CoordinationCore) =>
      core.connection ? new RedisEventTransport(core.connection) : new MemoryEventTransport(),
  },
  EventBus,
  EventSubscriberExplorer,
];
/** Of those, the ones the module exports to the application. */
export const EVENT_EXPORTS: Array<Provider | string | symbol | Function> = [EventBus];
