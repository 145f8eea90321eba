import fc from 'fast-check';
import { CoordinationError } from '@nest-coordination/core';

/**
 * Shared pieces of the property fuzzing suites (test/fuzz): hostile arbitraries, the typed-error
 * property, an unhandled-rejection watch, a prototype snapshot and the run parameters.
 *
 * Runs use a fixed seed by default, so `npm test` (and CI) is deterministic: a new finding comes from
 * an exploration run, is fixed, and is kept as a regression test, instead of turning a random CI run
 * red. Explore with `FUZZ_SEED=random` (fast-check prints the seed and path of a failure), reproduce
 * with `FUZZ_SEED=<seed>`, run longer with `FUZZ_RUNS=<factor>` (e.g. 10 for ten times the runs).
 */
const DEFAULT_SEED = 20261130;
const SEED_SETTING = process.env.FUZZ_SEED === undefined || process.env.FUZZ_SEED === '' ? String(DEFAULT_SEED) : process.env.FUZZ_SEED;
const SEED = SEED_SETTING === 'random' ? undefined : Number(SEED_SETTING);
const RUNS_FACTOR = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : 1;
if (SEED !== undefined && !Number.isInteger(SEED)) throw new Error(`FUZZ_SEED must be an integer, got ${process.env.FUZZ_SEED}`);
if (!(RUNS_FACTOR > 0)) throw new Error(`FUZZ_RUNS must be a positive number, got ${process.env.FUZZ_RUNS}`);

/** fast-check parameters: `numRuns` scaled by FUZZ_RUNS, the FUZZ_SEED when set. */
export function fuzzParameters<T>(numRuns: number): fc.Parameters<T> {
  return { numRuns: Math.max(1, Math.round(numRuns * RUNS_FACTOR)), ...(SEED === undefined ? {} : { seed: SEED }) };
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

/** Characters that are dangerous somewhere: glob, hash tag, key separator, escapes, controls, lone surrogates. */
const SPECIAL_CHARS = [
  '{', '}', '*', '?', '[', ']', ':', '\\', '%', '\u0000', '\u0001', '\t', '\n', '\r', ' ', '\u007f', '\u2028', '\ud800', '\udfff',
  '😀', 'é', 'ß', '.', '-', '_', '@', '/', '"', "'", '$', '#',
];
const NAMED_STRINGS = [
  '', ' ', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '_shared', '*', '?', '[a-z]', '{tag}', '{}', '}{',
  ':', 'a:b', 'a:b:c', '%3a', '%', '%u', '%ud800', '\\', 'null', 'undefined', 'NaN', '0', '-1', '1e309', '0-0', '$', '>', '+',
];

/** One character worth trying in an id. */
export const specialChar = fc.constantFrom(...SPECIAL_CHARS);

/** Strings longer than any limit the library sets (64-character tenants, 512-character ids, names). */
const longString = fc
  .tuple(fc.constantFrom(33, 64, 65, 128, 200, 256, 512, 513, 1_025, 10_000, 70_000), fc.option(specialChar, { nil: '' }))
  .map(([length, tail]) => `${'k'.repeat(length)}${tail}`);

/** Any string a caller could pass: specials, unicode, empty, very long. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...NAMED_STRINGS) },
  { weight: 4, arbitrary: fc.string({ unit: fc.oneof(specialChar, fc.constantFrom('a', 'b', 'c', '1', 'Z')), maxLength: 12 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }) },
  { weight: 1, arbitrary: longString },
);

/** Numbers where a count, TTL or token belongs: NaN, infinities, -0, negatives, fractions, huge. */
export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(NaN, Infinity, -Infinity, -0, 0, -1, 0.5, 1, 2, 1.5, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1e21, Number.MAX_VALUE, Number.MIN_VALUE, -Number.MAX_SAFE_INTEGER),
  fc.integer({ min: -1_000_000, max: 10_000_000 }),
  fc.double(),
);

/** An object whose own keys are `__proto__`, `constructor` and `prototype`, as JSON.parse makes them. */
export function pollutingObject(): Record<string, unknown> {
  return JSON.parse('{"__proto__":{"polluted":1,"toString":1},"constructor":{"prototype":{"polluted":1}},"prototype":{"polluted":1}}') as Record<string, unknown>;
}

/** A fresh cyclic object (each run its own, so nothing shares it). */
export function cyclicObject(): Record<string, unknown> {
  const cyclic: Record<string, unknown> = { name: 'cyclic' };
  cyclic.self = cyclic;
  return cyclic;
}

/** An object nested `depth` levels deep. */
export function deepObject(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i++) value = { next: value };
  return value;
}

/** What a caller without types (plain JS, a decoded body) can pass where a string belongs. */
export const notAString: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(null, undefined, true, false, NaN, Infinity, 0, -1, 1.5, 10n, [], ['a'], {}),
  fc.constant(null).map(() => Symbol('s')),
  fc.constant(null).map(() => () => 'a function'),
  fc.constant(null).map(() => new Date(0)),
  fc.constant(null).map(() => new Map([['a', 1]])),
  fc.constant(null).map(() => Object.create(null) as unknown),
  fc.constant(null).map(() => Object('boxed') as unknown),
  fc.constant(null).map(pollutingObject),
  fc.constant(null).map(cyclicObject),
  fc.constant(null).map(() => ({ toString: () => 'acme', valueOf: () => 1 })),
  fc.constant(null).map(() => ({ toString: () => { throw new Error('toString is hostile'); } })),
  fc.integer(),
);

/** Anything at all: a hostile string, number or non-string. */
export const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 2, arbitrary: hostileString },
  { weight: 1, arbitrary: hostileNumber },
  { weight: 2, arbitrary: notAString },
);

/** Mostly `valid`, sometimes anything: to get past validation often while still trying the edges. */
export function mostly<T>(valid: fc.Arbitrary<T>, weight = 3): fc.Arbitrary<unknown> {
  return fc.oneof({ weight, arbitrary: valid as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: anyValue });
}

/** Tenants the suites accept: fixed ones (checked across in the isolation suite) and random well-formed ones. */
export const VALID_TENANTS = ['acme', 'globex', 'a.b', 'a-b', 'A_1', '9', 't'.repeat(64)];
export const validTenant: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...VALID_TENANTS) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,12}$/) },
);
/** A tenant option: usually a well-formed tenant, sometimes missing or hostile. */
export const tenantOption: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: validTenant as fc.Arbitrary<unknown> },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: anyValue },
);

/** A plain id: letters, digits and the separators a real key uses (`:`, `-`, `.`), never hostile. */
export const plainId = fc.stringMatching(/^[a-z0-9][a-z0-9:.-]{0,15}$/);
/** An id (key, name, role): usually plain, often hostile. */
export const idArg: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: plainId as fc.Arbitrary<unknown> },
  { weight: 3, arbitrary: hostileString },
  { weight: 1, arbitrary: notAString },
);

/** Unknown option names, including the prototype's. */
const UNKNOWN_KEYS = ['__proto__', 'constructor', 'prototype', 'ttl', 'timeout', 'unknownOption', 'toString', 'tenantId'];

/** `value` with an own enumerable `key`, even `__proto__` (an assignment would set the prototype). */
function withOwn(value: Record<string, unknown>, key: string, own: unknown): Record<string, unknown> {
  Object.defineProperty(value, key, { value: own, enumerable: true, writable: true, configurable: true });
  return value;
}

/**
 * An options argument: usually an object of the known options (each usually valid, sometimes any
 * value; the `required` ones and `tenant` always there), sometimes with unknown keys or
 * `__proto__`/`constructor` own keys, sometimes not an object.
 */
export function optionsArg(shape: Record<string, fc.Arbitrary<unknown>>, required: readonly string[] = []): fc.Arbitrary<unknown> {
  // `tenant` is always there (tenantOption leaves it undefined now and then): a call without one fails TenantRequiredError.
  const requiredKeys = [...required, ...('tenant' in shape ? ['tenant'] : [])];
  const valid = fc.record(shape, { requiredKeys });
  const known = fc.record(
    Object.fromEntries(Object.entries(shape).map(([key, arbitrary]) => [key, fc.oneof({ weight: 6, arbitrary }, { weight: 1, arbitrary: anyValue })])),
    { requiredKeys },
  );
  const extras = fc.array(fc.tuple(fc.constantFrom(...UNKNOWN_KEYS), anyValue), { maxLength: 2 });
  return fc.oneof(
    { weight: 8, arbitrary: valid as fc.Arbitrary<unknown> },
    { weight: 8, arbitrary: known as fc.Arbitrary<unknown> },
    {
      weight: 2,
      arbitrary: fc.tuple(known, extras).map(([options, added]) => {
        const copy = { ...(options as Record<string, unknown>) };
        for (const [key, value] of added) withOwn(copy, key, value);
        return copy;
      }),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(known).map(([options]) => Object.assign(pollutingObject(), options as Record<string, unknown>)),
    },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(undefined, null, 'options', 42, true, [], ['tenant']) },
  );
}

/** A payload a caller may store, publish or enqueue: JSON, richer values, `__proto__` keys, deep or cyclic. */
export const hostilePayload: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<unknown> },
  {
    weight: 2,
    arbitrary: fc.anything({
      maxDepth: 2, maxKeys: 4, withBigInt: true, withBoxedValues: true, withDate: true, withMap: true, withNullPrototype: true,
      withObjectString: true, withSet: true, withSparseArray: true, withTypedArray: true, withUnicodeString: true,
    }),
  },
  { weight: 1, arbitrary: fc.constant(null).map(pollutingObject) },
  { weight: 1, arbitrary: fc.constantFrom(5, 1_001, 5_000).map(deepObject) },
  { weight: 1, arbitrary: fc.constant(null).map(cyclicObject) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(undefined, null, NaN, -0, 10n, '', 'x'.repeat(100_000)) },
  { weight: 1, arbitrary: fc.constant(null).map(() => () => 'a function') },
  { weight: 1, arbitrary: fc.constant(null).map(() => Symbol('payload')) },
);

/**
 * A JSON payload that round-trips: plain JSON with `__proto__`, `constructor` and `prototype`
 * own keys at any level, and keys full of special characters.
 */
export const roundTripPayload: fc.Arbitrary<unknown> = fc
  .tuple(fc.jsonValue({ maxDepth: 3 }), fc.dictionary(hostileString.filter((s) => s.length < 100), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }))
  .map(([json, extra]) => {
    const data = JSON.stringify(json);
    // JSON.parse makes `__proto__` an own data property at every level, as a decoded request body has it.
    return JSON.parse(
      `{"__proto__":{"polluted":1,"data":${data}},"constructor":{"prototype":{"polluted":1}},"prototype":${JSON.stringify(extra)},"data":${data}}`,
    ) as unknown;
  });

// ---------------------------------------------------------------------------------------------
// The typed-error property

/** How a call ended. */
export type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Runs `call` (sync throw or async rejection alike) and says how it ended. */
export async function settle(call: () => unknown): Promise<Outcome> {
  try {
    return { ok: true, value: await call() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** A short, safe description of any value, for failure messages (never throws). */
export function describeValue(value: unknown): string {
  try {
    if (typeof value === 'string') return value.length > 80 ? `${JSON.stringify(value.slice(0, 80))}… (${value.length} chars)` : JSON.stringify(value);
    if (typeof value === 'symbol' || typeof value === 'bigint' || typeof value === 'function') return `${typeof value} ${String(value).slice(0, 40)}`;
    return fc.stringify(value).slice(0, 200);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * Fails (throws, for fast-check to shrink) unless `outcome` resolved or failed with a
 * CoordinationError subclass. `method` names the call in the message.
 */
export function assertTyped(method: string, outcome: Outcome): void {
  if (outcome.ok || outcome.error instanceof CoordinationError) return;
  const error = outcome.error as Error;
  const name = error?.constructor?.name ?? typeof error;
  throw new Error(`${method} failed with ${name} (not a CoordinationError): ${error?.message ?? describeValue(error)}\n${error?.stack?.split('\n').slice(1, 6).join('\n') ?? ''}`);
}

// ---------------------------------------------------------------------------------------------
// Unhandled rejections

/**
 * The Node process, outside Jest's sandbox: the `process` a test file sees is a copy whose
 * events Node never emits. jest-circus keeps the real one in its state (a global symbol); Jest
 * fails a test on an unhandled rejection anyway, this watch names the call that caused it.
 */
function realProcess(): NodeJS.Process {
  const symbol = Object.getOwnPropertySymbols(globalThis).find((s) => s.description === 'JEST_STATE_SYMBOL');
  const state = symbol === undefined ? undefined : ((globalThis as Record<symbol, unknown>)[symbol] as { parentProcess?: NodeJS.Process } | undefined);
  return state?.parentProcess ?? process;
}

/** Collects unhandled rejections from `start()` to `stop()`. */
export class RejectionWatch {
  readonly rejections: unknown[] = [];
  private readonly listener = (reason: unknown) => {
    this.rejections.push(reason);
  };
  private readonly target = realProcess();

  start(): this {
    this.target.on('unhandledRejection', this.listener);
    return this;
  }

  stop(): void {
    this.target.off('unhandledRejection', this.listener);
  }

  /**
   * Waits for a macrotask, so a promise rejected without a handler during the call is reported,
   * then fails naming `method` if one was.
   */
  async assertNone(method: string): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    if (this.rejections.length === 0) return;
    const reasons = this.rejections.splice(0).map((reason) => `${(reason as Error)?.constructor?.name}: ${(reason as Error)?.message ?? describeValue(reason)}`);
    throw new Error(`unhandled rejection during ${method}: ${reasons.join('; ')}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Prototype pollution

/** The own property names and symbols of the built-in prototypes a polluting write would reach. */
export function prototypeSnapshot(): Record<string, string[]> {
  const names = (target: object) => Reflect.ownKeys(target).map(String).sort();
  return {
    Object: names(Object.prototype),
    Array: names(Array.prototype),
    Function: names(Function.prototype),
    String: names(String.prototype),
  };
}

/** Fails if a plain object reads `polluted` (through any prototype), or a prototype gained a property. */
export function assertNoPollution(before: Record<string, string[]>): void {
  expect(prototypeSnapshot()).toEqual(before);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(([] as unknown as Record<string, unknown>).polluted).toBeUndefined();
}

/** Whether `value` (as read back) carries `__proto__` as an own key where `written` did, at every level, with ordinary prototypes. */
export function ownProtoKeysKept(written: unknown, read: unknown): boolean {
  if (typeof written !== 'object' || written === null) return true;
  if (typeof read !== 'object' || read === null) return false;
  if (Array.isArray(written)) return Array.isArray(read) && written.every((item, i) => ownProtoKeysKept(item, (read as unknown[])[i]));
  const proto = Object.getPrototypeOf(read);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key of Object.keys(written)) {
    if (!Object.prototype.hasOwnProperty.call(read, key)) return false;
    if (!ownProtoKeysKept((written as Record<string, unknown>)[key], (read as Record<string, unknown>)[key])) return false;
  }
  return true;
}
