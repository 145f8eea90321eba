import 'reflect-metadata';
import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { CircuitOpenError, EmbeddingCache, ErrorCode, RedisUnavailableError } from '@nest-coordination/core';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { rejectionOf, until } from '../support/wait.js';
import { privateServerDriver } from '../support/drivers.js';

const MODEL = 'text-embedding-3-small';

function appOn(server: RedisServerHandle, onRedisUnavailable: 'degrade' | 'throw'): Promise<BootedModule> {
  return bootModule({
    ...privateServerDriver(server).options(),
    health: { pingIntervalMs: 0 },
    cache: { onRedisUnavailable },
  });
}

/** Asserts `error` is a RedisUnavailableError naming `operation`, the public name of the call. */
function expectUnavailable(error: unknown, operation: string): void {
  expect(error).toBeInstanceOf(RedisUnavailableError);
  expect((error as RedisUnavailableError).operation).toBe(operation);
  expect((error as Error).message).toContain(operation);
}

describe('EmbeddingCache while Redis is unreachable', () => {
  let server: RedisServerHandle;
  const apps: BootedModule[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await Promise.all(apps.splice(0).map((app) => app.close()));
    await server.restart();
  });
  afterAll(() => server.stop());

  it('reads degrade to misses (counted, logged once), writes and memoryUsage throw RedisUnavailableError naming the operation', async () => {
    const app = await appOn(server, 'degrade');
    apps.push(app);
    const embeddings = app.get(EmbeddingCache);
    await embeddings.store('kept', [1, 2], { model: MODEL });
    expect(await embeddings.retrieve('kept', { model: MODEL })).toEqual(new Float32Array([1, 2]));
    const warn = jest.spyOn(Logger.prototype, 'warn');

    await server.kill();
    expect(await embeddings.retrieve('kept', { model: MODEL })).toBeUndefined();
    expect(await embeddings.retrieveMany(['kept', 'other'], { model: MODEL })).toEqual([undefined, undefined]);
    expect(await embeddings.retrieve('kept', { model: MODEL })).toBeUndefined();
    expectUnavailable(await rejectionOf(embeddings.store('new', [1], { model: MODEL })), 'embeddingCache.store');
    expectUnavailable(await rejectionOf(embeddings.storeMany([{ text: 'new', vector: [1] }], { model: MODEL })), 'embeddingCache.storeMany');
    expectUnavailable(await rejectionOf(embeddings.memoryUsage('kept', { model: MODEL })), 'embeddingCache.memoryUsage');

    expect(embeddings.stats()).toMatchObject({ stored: 1, hits: 1, misses: 4, errors: 6 });
    const metrics = app.core.metrics;
    expect(metrics.counter('cache_errors_total', { operation: 'embeddingCache.retrieve' })).toBe(2);
    expect(metrics.counter('cache_errors_total', { operation: 'embeddingCache.retrieveMany' })).toBe(1);
    expect(metrics.counter('cache_errors_total', { operation: 'embeddingCache.store' })).toBe(1);
    // Three degraded reads within 10 s: one warning, naming the first.
    const warnings = warn.mock.calls.map(([message]) => String(message)).filter((m) => m.includes('embeddingCache.'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('embeddingCache.retrieve');

    await server.restart();
    await until(() => embeddings.store('after', [3], { model: MODEL }).then(() => true, () => false), {
      timeoutMs: 10_000, message: 'a store to succeed once Redis is back',
    });
    expect(await embeddings.retrieve('after', { model: MODEL })).toEqual(new Float32Array([3]));
  });

  it("with cache.onRedisUnavailable 'throw', retrieve and retrieveMany throw RedisUnavailableError too", async () => {
    const app = await appOn(server, 'throw');
    apps.push(app);
    const embeddings = app.get(EmbeddingCache);
    await server.kill();
    expectUnavailable(await rejectionOf(embeddings.retrieve('x', { model: MODEL })), 'embeddingCache.retrieve');
    expectUnavailable(await rejectionOf(embeddings.retrieveMany(['x', 'y'], { model: MODEL })), 'embeddingCache.retrieveMany');
    expect(embeddings.stats()).toMatchObject({ hits: 0, misses: 0, errors: 2 });
  });

  it('an open circuit breaker stays a CircuitOpenError, named after the public operation', async () => {
    const app = await bootModule({
      connection: { url: server.url, commandTimeoutMs: 500, connectTimeoutMs: 2_000 },
      reconnect: { baseDelayMs: 20, maxDelayMs: 100 },
      // Opens on the first failure and stays open for the test.
      breaker: { failureThreshold: 1, openMs: 600_000 },
      health: { pingIntervalMs: 0 },
    });
    apps.push(app);
    const embeddings = app.get(EmbeddingCache);
    await embeddings.store('warm', [1], { model: MODEL });
    await server.kill();
    expectUnavailable(await rejectionOf(embeddings.store('a', [1], { model: MODEL })), 'embeddingCache.store');
    const refused = await rejectionOf(embeddings.storeMany([{ text: 'b', vector: [1] }], { model: MODEL }));
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect((refused as CircuitOpenError).code).toBe(ErrorCode.CircuitOpen);
    expectUnavailable(refused, 'embeddingCache.storeMany');
    expect(await embeddings.retrieve('warm', { model: MODEL })).toBeUndefined();
  });
});
