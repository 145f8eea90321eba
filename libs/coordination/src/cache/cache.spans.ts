import type { TracedOperation } from '../telemetry/tracing.js';
import type { CacheLookup } from './cache.types.js';

/**
 * Spans of cache operations (README, "Traces"). A miss is an outcome (`coordination.cache.hit:
 * false`), never an error; a loader that throws, or Redis unreachable where the cache throws
 * (writes, invalidations, reads with `onRedisUnavailable: 'throw'`), is.
 *
 * @example
 * return tracer.trace(CACHE_GET, tenant, key, () => reader.get(tenant, fullKey, useL1, 'cache.get'));
 */
export const CACHE_GET: TracedOperation<unknown> = {
  name: 'cache.get',
  result: (span, value) => span.setAttribute('coordination.cache.hit', value !== undefined),
};

/** `mget`: the detail is how many keys were asked for; `coordination.cache.hits` how many were found. */
export const CACHE_MGET: TracedOperation<ReadonlyArray<unknown>> = {
  name: 'cache.mget',
  detail: 'coordination.cache.keys',
  result: (span, values) => span.setAttribute('coordination.cache.hits', values.reduce<number>((n, v) => (v === undefined ? n : n + 1), 0)),
};

/** `lookup`, `getOrSet` and `getOrSetState`: `coordination.cache.state` is hit, stale or miss (loaded). */
export const CACHE_LOOKUP: TracedOperation<CacheLookup> = {
  name: 'cache.lookup',
  result: (span, lookup) => {
    span.setAttribute('coordination.cache.state', lookup.state);
    span.setAttribute('coordination.cache.hit', lookup.state !== 'miss');
  },
};

export const CACHE_GET_OR_SET: TracedOperation<CacheLookup> = { ...CACHE_LOOKUP, name: 'cache.getOrSet' };

/** One call of a getOrSet loader (a child of the getOrSet that started it, also for background refreshes). */
export const CACHE_LOAD: TracedOperation<unknown> = { name: 'cache.load' };

export const CACHE_SET: TracedOperation<void> = { name: 'cache.set' };

/** `mset`: the detail is how many entries were written. */
export const CACHE_MSET: TracedOperation<void> = { name: 'cache.mset', detail: 'coordination.cache.keys' };

/** `delete`, `invalidatePattern` and `clear`: `coordination.cache.deleted` is how many keys went. */
export const CACHE_DELETE: TracedOperation<number> = {
  name: 'cache.delete',
  detail: 'coordination.cache.keys',
  result: (span, deleted) => span.setAttribute('coordination.cache.deleted', deleted),
};

export const CACHE_INVALIDATE_PATTERN: TracedOperation<number> = { ...CACHE_DELETE, name: 'cache.invalidatePattern', detail: undefined };

export const CACHE_CLEAR: TracedOperation<number> = { ...CACHE_DELETE, name: 'cache.clear', detail: undefined };

/** `invalidateTags`: the detail is how many tags; `coordination.key` is the tag when there is one. */
export const CACHE_INVALIDATE_TAGS: TracedOperation<number> = { name: 'cache.invalidateTags', detail: 'coordination.cache.tags' };
