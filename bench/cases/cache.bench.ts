import 'reflect-metadata';
import { Logger, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import KeyvRedis from '@keyv/redis';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisDriver } from 'bentocache/drivers/redis';
import { createCache } from 'cache-manager';
import { Redis } from 'ioredis';
import { Keyv } from 'keyv';
import { CacheService, CoordinationModule, EmbeddingCache, type CoordinationModuleOptions } from '@nest-coordination/core';
import type { BenchCase, BenchContext, BenchGroupOptions, CaseInstance } from '../harness/types.js';

const L2_HIT = 'cache: L2 hit (1000 hot keys, ~300 B values)';
const L1_HIT = 'cache: L1 hit (1000 hot keys, ~300 B values)';
const EMBED_STORE = 'cache: embeddings storeMany (1000 x 1536-dim per op)';
const EMBED_RETRIEVE = 'cache: embeddings retrieveMany (1000 x 1536-dim per op)';

const RAW_GET = 'raw ioredis GET (auto-pipelined)';
const RAW_GET_TIMEOUT = 'raw ioredis GET (auto-pipelined, commandTimeout 5 s as ours)';
const OURS_GET = 'nest-coordination CacheService.get (L1 off)';
const OURS_GET_OR_SET = 'nest-coordination CacheService.getOrSet hit (L1 off)';
const CACHE_MANAGER = 'cache-manager 7 + @keyv/redis';
const BENTO_L2 = 'bentocache (L2 only)';
const OURS_L1 = 'nest-coordination CacheService.get (L1, copy per hit)';
const OURS_L1_SHARED = 'nest-coordination CacheService.get (L1, shareValues)';
const OURS_L1_GET_OR_SET = 'nest-coordination CacheService.getOrSet (L1, copy per hit)';
const BENTO_L1 = 'bentocache (L1 + L2)';
const OURS_EMBED = 'nest-coordination EmbeddingCache';
const RAW_EMBED = 'raw ioredis SET/GET of Float32 bytes (auto-pipelined)';

const HOT_KEYS = 1000;
const TTL_MS = 600_000;
const DIM = 1536;
const BATCH = 1000;

/** A ~300-byte JSON-shaped value, like a crew config or a user profile. */
function valueOf(i: number): Record<string, unknown> {
  return {
    id: `crew-${i}`,
    company: 'acme',
    name: `Research crew number ${i}`,
    agents: [
      { role: 'planner', model: 'gpt-x', maxTokens: 4096 },
      { role: 'researcher', model: 'gpt-x', maxTokens: 8192 },
      { role: 'writer', model: 'gpt-x-mini', maxTokens: 2048 },
    ],
    budget: { monthlyUsd: 1500, spentUsd: 312.5 },
    updatedAt: '2026-11-29T12:00:00.000Z',
  };
}

const keyOf = (i: number): string => `crew:${i % HOT_KEYS}`;

/** `commandTimeoutMs`: ioredis then arms a timer per command, as the library's command connection does (default 5 s). */
async function connect(ctx: BenchContext, commandTimeoutMs?: number): Promise<Redis> {
  const redis = new Redis(ctx.redisUrl, { lazyConnect: true, enableAutoPipelining: true, commandTimeout: commandTimeoutMs });
  await redis.connect();
  return redis;
}

async function ourApp(ctx: BenchContext, cache: CoordinationModuleOptions['cache']): Promise<INestApplicationContext> {
  Logger.overrideLogger(['error']);
  return NestFactory.createApplicationContext(
    CoordinationModule.forRoot({ connection: { url: ctx.redisUrl }, prefix: 'benchcache', health: { pingIntervalMs: 0 }, cache }),
    { logger: ['error'] },
  );
}

/** Our cache through the Nest module; `read` is one hit of key `i`. */
function ours(name: string, group: string, cache: CoordinationModuleOptions['cache'], read: (service: CacheService, key: string) => Promise<unknown>): BenchCase {
  return {
    name,
    group,
    async setup(ctx) {
      const app = await ourApp(ctx, cache);
      const service = app.get(CacheService);
      for (let i = 0; i < HOT_KEYS; i++) await service.set(keyOf(i), valueOf(i), { ttlMs: TTL_MS });
      for (let i = 0; i < HOT_KEYS; i++) await read(service, keyOf(i)); // fills L1 where it is on
      const op: CaseInstance['op'] = async (i) => {
        if ((await read(service, keyOf(i))) === undefined) throw new Error(`${name}: miss on ${keyOf(i)}`);
      };
      return { op, teardown: () => app.close() };
    },
  };
}

const noLoader = (): never => {
  throw new Error('loader called on a hot key');
};

function bento(name: string, group: string, withL1: boolean): BenchCase {
  return {
    name,
    group,
    baseline: true,
    async setup(ctx) {
      const redis = await connect(ctx);
      let store = bentostore();
      if (withL1) store = store.useL1Layer(memoryDriver({ maxSize: '64mb', maxItems: 10_000 }));
      store = store.useL2Layer(redisDriver({ connection: redis as never, prefix: `bento${withL1 ? 'l1' : 'l2'}` }));
      const cache = new BentoCache({ default: 'cache', stores: { cache: store } });
      for (let i = 0; i < HOT_KEYS; i++) await cache.set({ key: keyOf(i), value: valueOf(i), ttl: TTL_MS });
      for (let i = 0; i < HOT_KEYS; i++) await cache.get({ key: keyOf(i) });
      return {
        async op(i) {
          if ((await cache.get({ key: keyOf(i) })) === undefined) throw new Error(`${name}: miss`);
        },
        teardown: async () => {
          await cache.disconnectAll();
          await redis.quit().catch(() => undefined);
        },
      };
    },
  };
}

function floatVectors(count: number): Float32Array[] {
  return Array.from({ length: count }, (_, n) => Float32Array.from({ length: DIM }, (_, d) => Math.sin(n * DIM + d)));
}

function embeddingCase(name: string, group: string, mode: 'store' | 'retrieve'): BenchCase {
  return {
    name,
    group,
    async setup(ctx) {
      const app = await ourApp(ctx, {});
      const embeddings = app.get(EmbeddingCache);
      const items = floatVectors(BATCH).map((vector, n) => ({ text: `document chunk ${n}`, vector }));
      const texts = items.map((item) => item.text);
      await embeddings.storeMany(items, { model: 'bench-embed' });
      const bytes = await embeddings.memoryUsage(texts[0], { model: 'bench-embed' });
      console.log(`  EmbeddingCache: ${bytes} bytes in Redis per ${DIM}-dim vector (raw floats: ${4 * DIM}; target <= ${Math.round(1.05 * 4 * DIM)} + key)`);
      const op: CaseInstance['op'] = mode === 'store'
        ? async () => embeddings.storeMany(items, { model: 'bench-embed' })
        : async () => {
          const found = await embeddings.retrieveMany(texts, { model: 'bench-embed' });
          if (found[BATCH - 1] === undefined) throw new Error('embedding miss');
        };
      return { op, teardown: () => app.close() };
    },
  };
}

function rawEmbeddingCase(group: string, mode: 'store' | 'retrieve'): BenchCase {
  return {
    name: RAW_EMBED,
    group,
    baseline: true,
    async setup(ctx) {
      const redis = await connect(ctx);
      const vectors = floatVectors(BATCH).map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength));
      const keys = vectors.map((_, n) => `rawembed:${n}`);
      const store = () => Promise.all(keys.map((key, n) => redis.set(key, vectors[n], 'PX', TTL_MS)));
      await store();
      const op: CaseInstance['op'] = mode === 'store'
        ? async () => void (await store())
        : async () => {
          const found = await Promise.all(keys.map((key) => redis.getBuffer(key)));
          if (!found[BATCH - 1]) throw new Error('raw embedding miss');
        };
      return { op, teardown: async () => void (await redis.quit()) };
    },
  };
}

function rawGet(name: string, commandTimeoutMs?: number): BenchCase {
  return {
    name,
    group: L2_HIT,
    baseline: true,
    async setup(ctx) {
      const redis = await connect(ctx, commandTimeoutMs);
      for (let i = 0; i < HOT_KEYS; i++) await redis.set(`raw:${keyOf(i)}`, JSON.stringify(valueOf(i)), 'PX', TTL_MS);
      return {
        async op(i) {
          if ((await redis.get(`raw:${keyOf(i)}`)) === null) throw new Error('raw miss');
        },
        teardown: async () => void (await redis.quit()),
      };
    },
  };
}

export const cases: BenchCase[] = [
  rawGet(RAW_GET),
  rawGet(RAW_GET_TIMEOUT, 5_000),
  ours(OURS_GET, L2_HIT, { l1: { enabled: false } }, (cache, key) => cache.get(key)),
  ours(OURS_GET_OR_SET, L2_HIT, { l1: { enabled: false } }, (cache, key) => cache.getOrSet(key, noLoader, { ttlMs: TTL_MS })),
  {
    name: CACHE_MANAGER,
    group: L2_HIT,
    baseline: true,
    async setup(ctx) {
      const keyv = new Keyv({ store: new KeyvRedis(ctx.redisUrl), namespace: 'cm' });
      const cache = createCache({ stores: [keyv] });
      for (let i = 0; i < HOT_KEYS; i++) await cache.set(keyOf(i), valueOf(i), TTL_MS);
      return {
        async op(i) {
          if ((await cache.get(keyOf(i))) === undefined) throw new Error('cache-manager miss');
        },
        teardown: async () => void (await cache.disconnect()),
      };
    },
  },
  bento(BENTO_L2, L2_HIT, false),
  ours(OURS_L1, L1_HIT, {}, (cache, key) => cache.get(key)),
  ours(OURS_L1_SHARED, L1_HIT, { l1: { shareValues: true } }, (cache, key) => cache.get(key)),
  ours(OURS_L1_GET_OR_SET, L1_HIT, {}, (cache, key) => cache.getOrSet(key, noLoader, { ttlMs: TTL_MS })),
  bento(BENTO_L1, L1_HIT, true),
  embeddingCase(OURS_EMBED, EMBED_STORE, 'store'),
  rawEmbeddingCase(EMBED_STORE, 'store'),
  embeddingCase(OURS_EMBED, EMBED_RETRIEVE, 'retrieve'),
  rawEmbeddingCase(EMBED_RETRIEVE, 'retrieve'),
];

export const groups: BenchGroupOptions[] = [
  {
    name: L2_HIT,
    targets: [
      { case: OURS_GET, versus: RAW_GET, atLeast: 0.9 },
      { case: OURS_GET, versus: CACHE_MANAGER, atLeast: 1.0 },
      { case: OURS_GET, versus: BENTO_L2, atLeast: 2.0 },
    ],
  },
  {
    name: L1_HIT,
    targets: [
      { case: OURS_L1, versus: BENTO_L1, atLeast: 5.0 },
      { case: OURS_L1_SHARED, versus: BENTO_L1, atLeast: 5.0 },
    ],
  },
  { name: EMBED_STORE, concurrency: 2 },
  { name: EMBED_RETRIEVE, concurrency: 2 },
];
