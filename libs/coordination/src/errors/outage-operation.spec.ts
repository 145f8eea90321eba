import { jest } from '@jest/globals';
import { CircuitOpenError, InvalidArgumentError, RedisUnavailableError } from './coordination.error.js';
import { outageAs, runAs } from './outage-operation.js';

describe('outageAs', () => {
  it('renames an outage after the public operation, keeping the original as its cause', () => {
    const original = new RedisUnavailableError('coordStreamClaim', new Error('ECONNREFUSED'));
    const renamed = outageAs(original, 'streams.consume') as RedisUnavailableError;
    expect(renamed).toBeInstanceOf(RedisUnavailableError);
    expect(renamed).not.toBeInstanceOf(CircuitOpenError);
    expect(renamed.operation).toBe('streams.consume');
    expect(renamed.cause).toBe(original);
  });

  it('keeps an open circuit an open circuit, with its retry time', () => {
    const renamed = outageAs(new CircuitOpenError(1_700_000_000_000, 'xadd'), 'streams.append') as CircuitOpenError;
    expect(renamed).toBeInstanceOf(CircuitOpenError);
    expect(renamed.operation).toBe('streams.append');
    expect(renamed.retryAtMs).toBe(1_700_000_000_000);
  });

  it('returns an outage already named after the operation, and anything else, unchanged', () => {
    const named = new RedisUnavailableError('sessions.get');
    const other = new InvalidArgumentError('ttlMs', 'must be positive', -1);
    expect(outageAs(named, 'sessions.get')).toBe(named);
    expect(outageAs(other, 'sessions.get')).toBe(other);
  });
});

describe('runAs', () => {
  it('returns what the work returns, and rethrows its failure as `failed` maps it (default outageAs)', async () => {
    await expect(runAs('streams.length', async () => 3)).resolves.toBe(3);
    const renamed = await runAs('streams.length', () => Promise.reject(new RedisUnavailableError('xlen'))).catch((error: unknown) => error);
    expect((renamed as RedisUnavailableError).operation).toBe('streams.length');
    const failed = jest.fn((error: unknown, operation: string) => new Error(`${operation}: ${String(error)}`));
    await expect(runAs('sessions.get', () => Promise.reject('boom'), failed)).rejects.toThrow('sessions.get: boom');
    expect(failed).toHaveBeenCalledWith('boom', 'sessions.get');
  });
});
