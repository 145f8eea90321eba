import fc from 'fast-check';
import { RATE_LIMIT_ALGORITHMS } from '@nest-coordination/core';
import { anyValue, hostilePayload, idArg, optionsArg } from './fuzz-support.js';
import { tenantOption } from './fuzz-support.js';

/** Argument arbitraries shared by several fuzzing suites. */

/** `{ tenant }` alone, as most read methods take it. */
export const tenantOnly = optionsArg({ tenant: tenantOption });

/** An AbortSignal option: live, already aborted (with an Error or a string reason), or something else. */
export const signalArg: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(null).map(() => new AbortController().signal) },
  fc.constant(null).map(() => AbortSignal.abort(new Error('caller gave up'))),
  fc.constant(null).map(() => AbortSignal.abort('a string reason')),
  fc.constant(null).map(() => ({ aborted: true, addEventListener() {}, removeEventListener() {} })),
);

/** A callback for withLock, getOrSet, run...: returns a payload, throws or rejects `marker`, or returns nothing. */
export const CALLBACK_FAILURE = new Error('the callback failed on purpose');
export const callbackArg: fc.Arbitrary<() => unknown> = fc.oneof(
  hostilePayload.map((value) => () => value),
  fc.constant(() => {
    throw CALLBACK_FAILURE;
  }),
  fc.constant(() => Promise.reject(CALLBACK_FAILURE)),
  hostilePayload.map((value) => () => Promise.resolve(value)),
);
/** Whether `error` is the one the callback threw on purpose (passed through, as documented). */
export const isCallbackFailure = (error: unknown): boolean => error === CALLBACK_FAILURE;

/** A rate-limit policy's fields (valid; optionsArg makes some hostile): `burst` only where the algorithm takes one. */
export function policyShape(algorithm: fc.Arbitrary<string> = fc.constantFrom(...RATE_LIMIT_ALGORITHMS)): Record<string, fc.Arbitrary<unknown>> {
  return { name: plainName, limit: fc.integer({ min: 1, max: 100 }), windowMs: fc.integer({ min: 1_000, max: 60_000 }), algorithm };
}
/** A policy name: usually plain, sometimes hostile. */
const plainName = fc.oneof({ weight: 3, arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/) as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: idArg });
/** A policy argument, with a burst for the algorithms that take one. */
export function policyArg(extra: Record<string, fc.Arbitrary<unknown>> = {}): fc.Arbitrary<unknown> {
  return fc.oneof(
    optionsArg({ ...policyShape(fc.constantFrom('sliding-window', 'sliding-window-approx', 'fixed-window')), ...extra }, ['limit', 'windowMs']),
    optionsArg({ ...policyShape(fc.constantFrom('token-bucket', 'gcra')), burst: fc.integer({ min: 1, max: 100 }), ...extra }, ['limit', 'windowMs', 'algorithm']),
  );
}

/** A valid TTL (an options field: optionsArg makes it hostile now and then). */
export const ttlMs = fc.integer({ min: 500, max: 60_000 });
/** A valid short wait. */
export const shortMs = fc.integer({ min: 0, max: 20 });

/** An array of `item`s (up to `max`), or sometimes not an array at all. */
export function arrayArg(item: fc.Arbitrary<unknown>, max = 4): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.array(item, { minLength: 1, maxLength: max }) as fc.Arbitrary<unknown> },
    { weight: 1, arbitrary: fc.constant([]) },
    { weight: 1, arbitrary: anyValue },
  );
}

/** Whether any object in `args` (one level into arrays and objects) has `key: true`. */
export function flagged(args: unknown[], key: string): boolean {
  const visit = (value: unknown, depth: number): boolean => {
    if (typeof value !== 'object' || value === null || depth > 3) return false;
    if (Object.getOwnPropertyDescriptor(value, key)?.value === true) return true;
    return Object.values(value).some((inner) => visit(inner, depth + 1));
  };
  return args.some((arg) => visit(arg, 0));
}

/**
 * Ids that successful calls returned (sessions, tasks), so later calls find real ones: of their
 * own tenant (the argument's `own` flag puts the id's tenant into the call's options) or another's.
 */
export class IdPool {
  private readonly items: Array<{ id: string; tenant: string | undefined }> = [];
  /** An id argument: a pooled one (own tenant or not), or `other`. */
  readonly arg: fc.Arbitrary<unknown>;

  constructor(other: fc.Arbitrary<unknown>, private readonly missing: string) {
    this.arg = fc.oneof({ weight: 3, arbitrary: fc.record({ pooled: fc.nat(), own: fc.boolean() }) }, { weight: 2, arbitrary: other });
  }

  add(id: string, tenant: string | undefined): void {
    this.items.push({ id, tenant });
  }

  /** Whether `value` stands for a pooled id. */
  isPooled(value: unknown): value is { pooled: number; own: boolean } {
    return typeof value === 'object' && value !== null && 'pooled' in value && 'own' in value;
  }

  /** The id `value` stands for. */
  idOf(value: unknown): string {
    if (!this.isPooled(value)) return value as string;
    return this.items.length === 0 ? this.missing : this.items[value.pooled % this.items.length].id;
  }

  /** `options` with the pooled id's own tenant when `value` asks for it (objects only: hostile options stay as they are). */
  optionsFor(value: unknown, options: unknown): unknown {
    if (!this.isPooled(value) || !value.own || this.items.length === 0) return options;
    if (typeof options !== 'object' || options === null || Array.isArray(options)) return options;
    return { ...options, tenant: this.items[value.pooled % this.items.length].tenant };
  }
}
