import { CircuitOpenError, RedisUnavailableError } from './coordination.error.js';

/**
 * What a failed store call of public method `operation` throws: an outage (RedisUnavailableError,
 * or its subclass CircuitOpenError) renamed after the method (`sessions.get`, `streams.append`,
 * not the store's script or command behind it); anything else unchanged.
 *
 * @example
 * const id = await store.append(keys, data, maxLen).catch((error) => { throw outageAs(error, 'streams.append'); });
 */
export function outageAs(error: unknown, operation: string): unknown {
  if (!(error instanceof RedisUnavailableError) || error.operation === operation) return error;
  return error instanceof CircuitOpenError ? new CircuitOpenError(error.retryAtMs, operation) : new RedisUnavailableError(operation, error);
}

/**
 * Runs one store call of public method `operation`, rethrowing its failure as `failed` maps it
 * (default `outageAs`; a capability that also counts outages passes its own).
 *
 * @example
 * const info = await runAs('streams.groups', () => store.groups(keys));
 * const fields = await runAs('sessions.get', () => store.read(key, true), (error, operation) => observer.failed(error, operation));
 */
export async function runAs<T>(operation: string, work: () => Promise<T>, failed: (error: unknown, operation: string) => unknown = outageAs): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw failed(error, operation);
  }
}
