import type { CoordinationCapability } from '../core/capability.js';
import { CoordinationCore } from '../core/coordination-core.js';
import { MemoryStreamStore } from './memory-stream.store.js';
import { RedisStreamStore } from './redis-stream.store.js';
import { StreamConsumerExplorer } from './stream-consumer.explorer.js';
import { StreamKeys } from './stream-keys.js';
import { StreamObserver } from './stream-observer.js';
import { STREAM_STORE } from './stream-store.interface.js';
import { STREAM_OPTIONS, StreamOptionsSchema, resolveStreamOptions, type ResolvedStreamOptions, type StreamModuleOptions } from './stream.options.js';
import { StreamService } from './stream.service.js';

/**
 * Durable event streams: StreamService (append, replay, consumer groups with at-least-once
 * delivery, dead letters) and `@StreamConsumer`.
 *
 * @example
 * export const CAPABILITIES = [EVENTS_CAPABILITY, ..., STREAMS_CAPABILITY] as const; // src/capabilities.ts
 */
export const STREAMS_CAPABILITY = {
  name: 'streams',
  options: { key: 'streams', schema: StreamOptionsSchema, token: STREAM_OPTIONS, resolve: resolveStreamOptions },
  providers: [
    {
      provide: STREAM_STORE,
      inject: [CoordinationCore],
      useFactory: (core: CoordinationCore) => (core.connection ? new RedisStreamStore(core.connection, { commandTimeoutMs: core.options.connection.commandTimeoutMs }) : new MemoryStreamStore(core.clock)),
    },
    // Internal (not exported): the keys of streams, their metrics and logs, and the explorer that
    // starts @StreamConsumer methods at bootstrap (StreamService stops them at shutdown).
    { provide: StreamKeys, inject: [CoordinationCore], useFactory: (core: CoordinationCore) => new StreamKeys(core.keys) },
    StreamObserver,
    StreamService,
    StreamConsumerExplorer,
  ],
  exports: [StreamService],
} as const satisfies CoordinationCapability<'streams', StreamModuleOptions, ResolvedStreamOptions>;
