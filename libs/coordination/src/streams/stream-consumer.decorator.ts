import { assertTenantId } from '../keys/key-builder.js';
import { DEFAULT_STREAM_OPTIONS } from './stream.options.js';
import type { ConsumeOptions, StreamDefinition, StreamEntry, StreamRef } from './stream.types.js';
import { checkGroupName, checkOptions, consumerSettings, streamName } from './stream-validation.js';

/**
 * Metadata key under which `@StreamConsumer` stores its consumers on the method.
 *
 * @example
 * Reflect.getMetadata(STREAM_CONSUMER_METADATA, RunHistory.prototype.record); // [{ stream, options }]
 */
export const STREAM_CONSUMER_METADATA = 'coordination:stream-consumer';

/**
 * Options of `@StreamConsumer`: the group, and any `consume` option.
 *
 * @example
 * @StreamConsumer(CREW_EVENTS, { group: 'run-history', concurrency: 4 })
 */
export interface StreamConsumerOptions extends ConsumeOptions {
  /** The consumer group this method consumes as. */
  group: string;
}

/**
 * One consumer `@StreamConsumer` recorded on a method.
 *
 * @example
 * const [{ stream, options }] = streamConsumerMetadata(RunHistory.prototype.record);
 */
export interface StreamConsumerMetadata {
  readonly stream: StreamRef;
  readonly options: StreamConsumerOptions;
}

/** The handler type a `@StreamConsumer` of `S` accepts: typed by a StreamDefinition, anything for a plain name. */
type HandlerOf<S> = (entry: StreamEntry<S extends StreamDefinition<infer T> ? T : any>) => unknown; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Consumes `stream` as `options.group` with the decorated method, from the application's
 * bootstrap (which waits until the consumer runs) until its shutdown (which lets in-flight
 * handlers finish, bounded by `streams.shutdownTimeoutMs`). The method receives each
 * StreamEntry; the entry is acknowledged when it returns (or its promise resolves), and a throw
 * delivers it again after `claimIdleMs`, up to `maxDeliveries` times before the dead-letter stream.
 * Works on providers and controllers with a static scope (request-scoped ones are skipped with
 * a warning: an entry has no request); may be stacked. Runs in the consumer's tenant context.
 *
 * The decorator only records metadata (its arguments are checked here, so a bad one fails when
 * the class is defined); StreamConsumerExplorer starts the consumers.
 *
 * @example
 * @Injectable()
 * export class RunHistory {
 *   @StreamConsumer(CREW_EVENTS, { group: 'run-history', tenant: 'acme' })
 *   async record(entry: StreamEntry<CrewStreamEvent>) {
 *     await this.history.add(entry.payload);
 *   }
 * }
 */
export function StreamConsumer<S extends StreamRef>(stream: S, options: StreamConsumerOptions) {
  streamName(stream);
  checkOptions(options);
  checkGroupName((options as StreamConsumerOptions | undefined)?.group, 'group');
  consumerSettings(options, DEFAULT_STREAM_OPTIONS.consumerDefaults);
  if (options.consumer !== undefined) checkGroupName(options.consumer, 'consumer');
  if (options.tenant !== undefined) assertTenantId(options.tenant);
  const entry: StreamConsumerMetadata = { stream, options: { ...options } };
  return <H extends HandlerOf<S>>(target: object, property: string | symbol, descriptor: TypedPropertyDescriptor<H>): TypedPropertyDescriptor<H> => {
    if (typeof target === 'function') {
      throw new Error(`@StreamConsumer on ${target.name}.${String(property)}: only instance methods of providers or controllers can consume`);
    }
    const method = descriptor.value as object;
    Reflect.defineMetadata(STREAM_CONSUMER_METADATA, [...streamConsumerMetadata(method), entry], method);
    return descriptor;
  };
}

/**
 * The consumers `@StreamConsumer` recorded on a method (empty when none).
 *
 * @example
 * for (const { stream, options } of streamConsumerMetadata(prototype[name])) await streams.consume(stream, options.group, handler, options);
 */
export function streamConsumerMetadata(method: unknown): StreamConsumerMetadata[] {
  if (typeof method !== 'function') return [];
  return (Reflect.getMetadata(STREAM_CONSUMER_METADATA, method) as StreamConsumerMetadata[] | undefined) ?? [];
}
