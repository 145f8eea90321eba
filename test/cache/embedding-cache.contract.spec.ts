import 'reflect-metadata';
import { jest } from '@jest/globals';
import { createHash, randomFillSync, randomUUID } from 'node:crypto';
import { EmbeddingCache, InvalidArgumentError, ManualClock, TenantInvalidError } from '@nest-coordination/core';
import { CACHE_STORE, type CacheStore } from '../../libs/coordination/src/cache/cache-store.interface.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { DRIVERS } from '../support/drivers.js';
import { rejectionOf } from '../support/wait.js';

const MODEL = 'text-embedding-3-small';
const DAY_MS = 86_400_000;

/** Float32 bit patterns a lossy codec would change; the rest of a test vector is random bits. */
const SPECIAL_BITS = [
  0x7fc00000, // quiet NaN
  0x7fc12345, // quiet NaN with a payload
  0xffc00001, // negative NaN with a payload
  0x7f800001, // signalling NaN
  0x80000000, // -0
  0x00000001, // smallest subnormal
  0x807fffff, // largest negative subnormal
  0x7f800000, // Infinity
  0xff800000, // -Infinity
  0x7f7fffff, // largest finite
];

/** `dim` random Float32 bit patterns (NaNs of any payload included), starting with SPECIAL_BITS. */
function randomVector(dim: number): Float32Array {
  const bits = new Uint32Array(dim);
  randomFillSync(bits);
  bits.set(SPECIAL_BITS.slice(0, dim));
  return new Float32Array(bits.buffer);
}

const bytesOf = (vector: Float32Array): Buffer => Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);

/** Whether `actual` holds exactly the bytes of `expected` (toEqual would call NaN equal to any NaN). */
const sameBits = (actual: Float32Array | undefined, expected: Float32Array): boolean => actual !== undefined && bytesOf(actual).equals(bytesOf(expected));

/** The key the design gives a vector: keys.key(tenant, 'embedding', base64url(sha256(model NUL text))). */
function keyOf(booted: BootedModule, tenant: string, model: string, text: string): string {
  return booted.core.keys.key(tenant, 'embedding', createHash('sha256').update(`${model}\0${text}`).digest('base64url'));
}

describe.each(DRIVERS)('EmbeddingCache contract ($name)', (driver) => {
  let booted: BootedModule;
  let embeddings: EmbeddingCache;
  let store: CacheStore;

  beforeAll(async () => {
    booted = await bootModule({ ...driver.options(), health: { pingIntervalMs: 0 } });
    embeddings = booted.get(EmbeddingCache);
    store = booted.get<CacheStore>(CACHE_STORE);
  });
  afterAll(() => booted.close());
  afterEach(() => jest.restoreAllMocks());

  it('round-trips random Float32 bit patterns bit-exact: NaN payloads, -0, subnormals, infinities', async () => {
    for (let round = 0; round < 20; round++) {
      const vector = randomVector(64);
      const text = `bits ${round} ${randomUUID()}`;
      await embeddings.store(text, vector, { model: MODEL });
      expect(bytesOf((await embeddings.retrieve(text, { model: MODEL }))!).equals(bytesOf(vector))).toBe(true);
    }
  });

  it('stores the raw Float32 bytes, no header, under keys.key(tenant, "embedding", base64url(sha256(model NUL text)))', async () => {
    const vector = randomVector(10);
    await embeddings.store('layout', vector, { model: MODEL });
    const [raw] = await store.getBuffers([keyOf(booted, '_shared', MODEL, 'layout')]);
    expect(raw).toEqual(bytesOf(vector));
  });

  it('hands out copies: neither the input array nor a returned vector can change what is cached', async () => {
    const input = randomVector(8);
    const original = input.slice();
    await embeddings.store('copies', input, { model: MODEL });
    input.fill(1);
    const first = (await embeddings.retrieve('copies', { model: MODEL }))!;
    expect(sameBits(first, original)).toBe(true);
    first.fill(2);
    expect(sameBits(await embeddings.retrieve('copies', { model: MODEL }), original)).toBe(true);
  });

  it('stores only the bytes of a Float32Array view, and vectors of many sizes read back aligned', async () => {
    const backing = new Float32Array([9, 9, 1.5, -2.25, 3, 9]);
    await embeddings.store('view', backing.subarray(2, 5), { model: MODEL });
    expect(Array.from((await embeddings.retrieve('view', { model: MODEL }))!)).toEqual([1.5, -2.25, 3]);
    // 1-, 3- and 5-dimension vectors in one reply: their bytes sit at offsets of any alignment in it.
    const vectors = Array.from({ length: 60 }, (_, i) => randomVector([1, 3, 5][i % 3]));
    const texts = vectors.map((_, i) => `odd ${i}`);
    await embeddings.storeMany(texts.map((text, i) => ({ text, vector: vectors[i] })), { model: MODEL });
    const read = await embeddings.retrieveMany(texts, { model: MODEL });
    expect(read.every((v, i) => v instanceof Float32Array && v.byteOffset === 0 && sameBits(v, vectors[i]))).toBe(true);
  });

  it('converts number arrays to Float32, rounding each number', async () => {
    const numbers = [0.1, 1 / 3, -0, 1e-45, 3.4e38, -123.456];
    await embeddings.store('numbers', numbers, { model: MODEL });
    const read = (await embeddings.retrieve('numbers', { model: MODEL }))!;
    expect(sameBits(read, Float32Array.from(numbers))).toBe(true);
    expect(read[0]).not.toBe(0.1);
    expect(read[0]).toBe(Math.fround(0.1));
    expect(Object.is(read[2], -0)).toBe(true);
  });

  it('storeMany / retrieveMany: 1000 × 1536 in one store call each, in the order asked, misses in between', async () => {
    const texts = Array.from({ length: 1000 }, (_, i) => `chunk ${i} ${randomUUID()}`);
    const vectors = texts.map(() => randomVector(1536));
    const isMiss = (i: number): boolean => i % 3 === 1;
    const setBuffers = jest.spyOn(store, 'setBuffers');
    await embeddings.storeMany(texts.flatMap((text, i) => (isMiss(i) ? [] : [{ text, vector: vectors[i] }])), { model: MODEL });
    expect(setBuffers).toHaveBeenCalledTimes(1);

    const getBuffers = jest.spyOn(store, 'getBuffers');
    const order = texts.map((_, i) => texts.length - 1 - i);
    const read = await embeddings.retrieveMany(order.map((i) => texts[i]), { model: MODEL });
    expect(getBuffers).toHaveBeenCalledTimes(1);
    expect(read).toHaveLength(1000);
    const wrong = order.filter((i, j) => (isMiss(i) ? read[j] !== undefined : !sameBits(read[j], vectors[i])));
    expect(wrong).toEqual([]);
    expect(await embeddings.retrieveMany([], { model: MODEL })).toEqual([]);
  });

  it('the model is part of the key: one text, two models, two vectors', async () => {
    const [a, b] = [randomVector(4), randomVector(4)];
    await embeddings.store('same text', a, { model: 'model-a' });
    await embeddings.store('same text', b, { model: 'model-b' });
    expect(sameBits(await embeddings.retrieve('same text', { model: 'model-a' }), a)).toBe(true);
    expect(sameBits(await embeddings.retrieve('same text', { model: 'model-b' }), b)).toBe(true);
    expect(await embeddings.retrieve('same text', { model: 'model-c' })).toBeUndefined();
  });

  it('keeps tenants apart', async () => {
    const [acme, globex] = [randomVector(4), randomVector(4)];
    await embeddings.store('tenant text', acme, { model: MODEL, tenant: 'acme' });
    await embeddings.storeMany([{ text: 'tenant text', vector: globex }], { model: MODEL, tenant: 'globex' });
    expect(sameBits(await embeddings.retrieve('tenant text', { model: MODEL, tenant: 'acme' }), acme)).toBe(true);
    const [fromGlobex] = await embeddings.retrieveMany(['tenant text'], { model: MODEL, tenant: 'globex' });
    expect(sameBits(fromGlobex, globex)).toBe(true);
    expect(await embeddings.retrieve('tenant text', { model: MODEL, tenant: 'initech' })).toBeUndefined();
    expect(await embeddings.retrieve('tenant text', { model: MODEL })).toBeUndefined();
  });

  it('accepts any text: the empty one, a megabyte, glob and hash-tag characters', async () => {
    const texts = ['', 'x'.repeat(1_000_000), '*{tag}[?]\\ \n\u0000', '😀 unicode'];
    const vectors = texts.map(() => randomVector(3));
    await embeddings.storeMany(texts.map((text, i) => ({ text, vector: vectors[i] })), { model: MODEL });
    const read = await embeddings.retrieveMany(texts, { model: MODEL });
    expect(read.map((v, i) => sameBits(v, vectors[i]))).toEqual([true, true, true, true]);
    expect(await embeddings.retrieve(' ', { model: MODEL })).toBeUndefined();
  });

  it(`memoryUsage of a 1536-dimension vector: within 1.05 × 4 × dim + key + 100 bytes, except Redis's allocator rounding (stated)`, async () => {
    const dim = 1536;
    await embeddings.store('memory', randomVector(dim), { model: MODEL });
    const bytes = (await embeddings.memoryUsage('memory', { model: MODEL }))!;
    const key = keyOf(booted, '_shared', MODEL, 'memory');
    expect(embeddings.stats().bytesPerVector).toBe(bytes);
    if (driver.name === 'memory') {
      // The memory store counts the key and the value bytes: no header beyond 4 × dim.
      expect(bytes).toBe(Buffer.byteLength(key) + 4 * dim);
      return;
    }
    // Redis 7 with jemalloc: the 6 144 value bytes plus the string header (6 150) take the next
    // allocation class, 7 168 bytes, so MEMORY USAGE says 7 288 (1.19 × 4 × dim); jemalloc's
    // classes are at most 25 % apart, hence the bound. The value itself is exactly 4 × dim bytes.
    expect(bytes).toBeLessThanOrEqual(1.25 * 4 * dim + key.length + 100);
    const [raw] = await store.getBuffers([key]);
    expect(raw!.length).toBe(4 * dim);
    // Two dimensions fewer fit the 6 144-byte class: then the 1.05 target holds.
    await embeddings.store('memory-1534', randomVector(dim - 2), { model: MODEL });
    const fitting = (await embeddings.memoryUsage('memory-1534', { model: MODEL }))!;
    expect(fitting).toBeLessThanOrEqual(1.05 * 4 * (dim - 2) + key.length + 100);
  });

  it('memoryUsage is undefined for a text never stored', async () => {
    expect(await embeddings.memoryUsage(`never ${randomUUID()}`, { model: MODEL })).toBeUndefined();
  });

  it('counts stored vectors, hits and misses', async () => {
    const before = embeddings.stats();
    await embeddings.storeMany([{ text: 's1', vector: [1] }, { text: 's2', vector: [2] }], { model: 'stats' });
    await embeddings.retrieveMany(['s1', 's2', 's3'], { model: 'stats' });
    await embeddings.retrieve('s4', { model: 'stats' });
    const after = embeddings.stats();
    expect({ stored: after.stored - before.stored, hits: after.hits - before.hits, misses: after.misses - before.misses, errors: after.errors })
      .toEqual({ stored: 2, hits: 2, misses: 2, errors: 0 });
  });

  it('sets the lifetime: ttlMs, else cache.embeddingTtlMs (7 days)', async () => {
    await embeddings.store('ttl', [1], { model: MODEL, ttlMs: 60_000 });
    await embeddings.storeMany([{ text: 'ttl default', vector: [1] }], { model: MODEL });
    if (driver.name === 'memory') return; // the ManualClock test below watches them expire
    const pttl = (text: string) => booted.core.connection!.execute('test.pttl', (c) => c.pttl(keyOf(booted, '_shared', MODEL, text)));
    const [explicit, fallback] = [await pttl('ttl'), await pttl('ttl default')];
    expect(explicit).toBeGreaterThan(50_000);
    expect(explicit).toBeLessThanOrEqual(60_000);
    expect(fallback).toBeGreaterThan(7 * DAY_MS - 60_000);
    expect(fallback).toBeLessThanOrEqual(7 * DAY_MS);
  });

  it('rejects bad input with InvalidArgumentError naming the argument, before any store call', async () => {
    const calls = (['getBuffers', 'setBuffers', 'memoryUsage'] as const).map((method) => jest.spyOn(store, method));
    const cases: Array<[string, () => Promise<unknown>]> = [
      ['vector', () => embeddings.store('t', [], { model: MODEL })],
      ['vector', () => embeddings.store('t', new Float32Array(0), { model: MODEL })],
      ['vector', () => embeddings.store('t', new Float32Array(65_537), { model: MODEL })],
      ['vector', () => embeddings.store('t', [1, Number.NaN], { model: MODEL })],
      ['vector', () => embeddings.store('t', [1, Infinity], { model: MODEL })],
      ['vector', () => embeddings.store('t', [1e39], { model: MODEL })],
      ['vector', () => embeddings.store('t', ['1'] as unknown as number[], { model: MODEL })],
      ['vector', () => embeddings.store('t', new Float64Array(3) as unknown as Float32Array, { model: MODEL })],
      ['vector', () => embeddings.store('t', undefined as unknown as number[], { model: MODEL })],
      ['text', () => embeddings.store(42 as unknown as string, [1], { model: MODEL })],
      ['text', () => embeddings.retrieve(null as unknown as string, { model: MODEL })],
      ['model', () => embeddings.store('t', [1], { model: '' })],
      ['model', () => embeddings.store('t', [1], { model: 'm'.repeat(129) })],
      ['model', () => embeddings.retrieve('t', { model: 'a\u0000b' })],
      ['model', () => embeddings.retrieve('t', {} as { model: string })],
      ['options', () => embeddings.retrieve('t', null as unknown as { model: string })],
      ['ttlMs', () => embeddings.store('t', [1], { model: MODEL, ttlMs: 0 })],
      ['ttlMs', () => embeddings.store('t', [1], { model: MODEL, ttlMs: Number.NaN })],
      ['ttlMs', () => embeddings.storeMany([{ text: 't', vector: [1] }], { model: MODEL, ttlMs: Infinity })],
      ['ttlMs', () => embeddings.store('t', [1], { model: MODEL, ttlMs: 366 * DAY_MS })],
      ['items', () => embeddings.storeMany('t' as unknown as [], { model: MODEL })],
      ['items[2]', () => embeddings.storeMany([{ text: 'a', vector: [1] }, { text: 'b', vector: [1] }, null as never], { model: MODEL })],
      ['items[1].text', () => embeddings.storeMany([{ text: 'a', vector: [1] }, { text: 5 as unknown as string, vector: [1] }], { model: MODEL })],
      ['texts', () => embeddings.retrieveMany('abc' as unknown as string[], { model: MODEL })],
      ['texts[1]', () => embeddings.retrieveMany(['a', 1 as unknown as string], { model: MODEL })],
      ['text', () => embeddings.memoryUsage(undefined as unknown as string, { model: MODEL })],
    ];
    for (const [argument, call] of cases) {
      const error = await rejectionOf(call());
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect({ argument: (error as InvalidArgumentError).argument, call: call.toString() }).toEqual({ argument, call: call.toString() });
    }
    expect(await rejectionOf(embeddings.retrieve('t', { model: MODEL, tenant: 'bad tenant' }))).toBeInstanceOf(TenantInvalidError);
    expect(calls.map((spy) => spy.mock.calls.length)).toEqual([0, 0, 0]);
  });

  it('storeMany with one bad item stores none of them; 65 536 dimensions is the largest accepted', async () => {
    const items = [0, 1, 2, 3].map((i) => ({ text: `batch ${i}`, vector: i === 3 ? [Number.NaN] : [i] }));
    const error = await rejectionOf(embeddings.storeMany(items, { model: MODEL }));
    expect(error).toMatchObject({ argument: 'items[3].vector' });
    expect(await embeddings.retrieveMany(items.map((i) => i.text), { model: MODEL })).toEqual([undefined, undefined, undefined, undefined]);
    const largest = randomVector(65_536);
    await embeddings.store('largest', largest, { model: MODEL });
    expect(sameBits(await embeddings.retrieve('largest', { model: MODEL }), largest)).toBe(true);
  });
});

describe('EmbeddingCache lifetimes on the memory driver (ManualClock)', () => {
  it('a vector expires after its ttlMs, one without after cache.embeddingTtlMs (7 days)', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const booted = await bootModule({ driver: 'memory', clock });
    try {
      const embeddings = booted.get(EmbeddingCache);
      await embeddings.store('short', [1], { model: MODEL, ttlMs: 1_000 });
      await embeddings.storeMany([{ text: 'default', vector: [2] }], { model: MODEL });
      const present = async () => (await embeddings.retrieveMany(['short', 'default'], { model: MODEL })).map((v) => v !== undefined);
      clock.advance(999);
      expect(await present()).toEqual([true, true]);
      clock.advance(1);
      expect(await present()).toEqual([false, true]);
      clock.advance(7 * DAY_MS - 1_001);
      expect(await present()).toEqual([false, true]);
      clock.advance(1);
      expect(await present()).toEqual([false, false]);
    } finally {
      await booted.close();
    }
  });
});
