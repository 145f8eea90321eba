import { CoordinationCore } from '../core/coordination-core.js';
import type { CoordinationCapability } from '../core/capability.js';
import { EventBus } from './event-bus.js';
import { EventSubscriberExplorer } from './event-subscriber.explorer.js';
import { EVENT_TRANSPORT } from './event-transport.interface.js';
import { LibraryEventEmitter } from './library-event-emitter.js';
import { MemoryEventTransport } from './memory-event.transport.js';
import { RedisEventTransport } from './redis-event.transport.js';

/** Events: tenant-scoped pub/sub as RxJS Observables, `@OnCoordinationEvent`. */
export const EVENTS_CAPABILITY = {
  name: 'events',
  providers: [
    {
      provide: EVENT_TRANSPORT,
      inject: [CoordinationCore],
      useFactory: (core: CoordinationCore) => (core.connection ? new RedisEventTransport(core.connection) : new MemoryEventTransport()),
    },
    // Internal (not exported): the library's own events, `_shared` included. LockService and
    // RateLimitService are registered in the same module, so they can inject it.
    LibraryEventEmitter,
    EventBus,
    EventSubscriberExplorer,
  ],
  exports: [EventBus],
} as const satisfies CoordinationCapability;
