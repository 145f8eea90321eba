import type { CacheStore } from '../../libs/coordination/src/cache/cache-store.interface.js';

/** The name of a method of the CacheStore interface. */
export type StoreMethod = { [K in keyof CacheStore]: CacheStore[K] extends (...args: never[]) => unknown ? K : never }[keyof CacheStore];

/** A call of the real store that answered, its answer held until the test opens it. */
export interface HeldCall {
  /** Resolves once the real store answered the held call (what it read is fixed from then on). */
  readonly reached: Promise<void>;
  /** Hands the answer to the caller. */
  open(): void;
}

/**
 * The real CacheStore of a module (Redis or memory) seen through a counting, holding, failing
 * proxy: observation and fault injection around the store, never a stand-in for Redis.
 *
 * @example
 * const held = app.probe.holdNext('get');
 * const reading = app.cache.get('k');
 * await held.reached; // the store answered; now change things while the caller still waits
 * held.open();
 */
export interface StoreProbe {
  /** The proxy to hand the module (as its CACHE_STORE). */
  readonly store: CacheStore;
  /** How many calls of `method` were made so far (by the module or the test). */
  calls(method: StoreMethod): number;
  /** The next call of `method` runs on the real store, and its answer waits for `open()`. */
  holdNext(method: StoreMethod): HeldCall;
  /** The next call of `method` rejects with `error()` without reaching the store. */
  failNext(method: StoreMethod, error: () => Error): void;
  /**
   * The next call of `method` is answered by `answer` (given the call's arguments and the real
   * store, which it may call): emulates what the store does in a race the test cannot otherwise
   * make certain, e.g. a SCAN that passed a key before it was written.
   */
  emulateNext<M extends StoreMethod>(method: M, answer: (args: Parameters<CacheStore[M]>, real: CacheStore) => ReturnType<CacheStore[M]>): void;
}

/**
 * Wraps `real` in a {@link StoreProbe}.
 *
 * @example
 * const probe = probeStore(new MemoryCacheStore(clock));
 * probe.failNext('readCounters', () => new RedisUnavailableError('cache.readCounters'));
 */
export function probeStore(real: CacheStore): StoreProbe {
  const counts = new Map<string, number>();
  const holds = new Map<string, Array<{ reach(): void; gate: Promise<void> }>>();
  const failures = new Map<string, Array<() => Error>>();
  const emulations = new Map<string, Array<(args: never, real: CacheStore) => unknown>>();
  const store = new Proxy(real, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]): unknown => {
        counts.set(property, (counts.get(property) ?? 0) + 1);
        const failure = failures.get(property)?.shift();
        if (failure) return Promise.reject(failure());
        const emulation = emulations.get(property)?.shift();
        if (emulation) return emulation(args as never, target);
        const answer = (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        const hold = holds.get(property)?.shift();
        if (!hold) return answer;
        return answer.then(async (result) => {
          hold.reach();
          await hold.gate;
          return result;
        });
      };
    },
  });
  const queue = <T>(map: Map<string, T[]>, method: string, item: T): void => {
    let items = map.get(method);
    if (!items) map.set(method, (items = []));
    items.push(item);
  };
  return {
    store,
    calls: (method) => counts.get(method) ?? 0,
    holdNext(method) {
      let reach!: () => void;
      let open!: () => void;
      const reached = new Promise<void>((resolve) => (reach = resolve));
      const gate = new Promise<void>((resolve) => (open = resolve));
      queue(holds, method, { reach, gate });
      return { reached, open };
    },
    failNext: (method, error) => queue(failures, method, error),
    emulateNext: (method, answer) => queue(emulations, method, answer as (args: never, real: CacheStore) => unknown),
  };
}
