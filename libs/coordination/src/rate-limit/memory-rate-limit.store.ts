import type { Clock } from '../core/clock.js';
import type { NormalizedPolicy } from './rate-limit-policy.js';
import type { CounterCheck, RateLimitStore, StoreCheckResult } from './rate-limit-store.interface.js';

/** State of one counter; `expiresAtUs` mirrors the PEXPIRE the Lua scripts set. */
interface Entry {
  expiresAtUs: number;
  /** sliding-window: admission times, ascending. */
  log?: number[];
  /** window index (sliding-window-approx, fixed-window). */
  w?: number;
  c?: number;
  p?: number;
  /** token bucket: tokens and last update. */
  t?: number;
  ts?: number;
  /** gcra: theoretical arrival time. */
  tat?: number;
}

type Check = [allowed: 0 | 1, remaining: number, resetUs: number, retryUs: number, s1?: number, s2?: number, s3?: number];

/**
 * In-process rate-limit store with the semantics of the Lua scripts (same arithmetic, same
 * boundaries), on the injected clock. Used by the memory driver and as the per-instance
 * fallback limiter while Redis is unreachable. Expired counters are swept as keys are used.
 *
 * @example
 * const store = new MemoryRateLimitStore(new ManualClock(1_700_000_000_000));
 * await store.check(['user:1'], [normalizePolicy({ limit: 1, windowMs: 1_000 })], 1, true); // allowed
 */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly entries = new Map<string, Entry>();
  private opsSinceSweep = 0;

  constructor(private readonly clock: Clock) {}

  /** Number of live counters (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  async check(keys: readonly string[], policies: readonly NormalizedPolicy[], cost: number, consume: boolean): Promise<StoreCheckResult> {
    const now = Math.round(this.clock.now() * 1000);
    this.maybeSweep(now);
    let allowed = true;
    const results: CounterCheck[] = [];
    const states: Check[] = [];
    for (let i = 0; i < keys.length; i++) {
      const p = policies[i];
      const window = p.windowMs * 1000;
      const state = this.live(keys[i], now);
      const r = CHECKS[p.code](state, now, p.limit, window, p.burst, cost, consume);
      if (r[0] === 0) allowed = false;
      // Whole ms, rounded up, as the scripts report them.
      results.push({ allowed: r[0] === 1, remaining: r[1], resetMs: Math.ceil(r[2] / 1000), retryMs: Math.ceil(r[3] / 1000) });
      states.push(r);
    }
    if (consume && allowed) {
      for (let i = 0; i < keys.length; i++) {
        const p = policies[i];
        const entry = this.live(keys[i], now) ?? { expiresAtUs: 0 };
        this.entries.set(keys[i], entry);
        COMMITS[p.code](entry, now, p.windowMs * 1000, cost, states[i], p.limit, p.burst);
      }
    }
    return { nowUs: now, allowed, results };
  }

  async reset(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.entries.delete(key);
  }

  private live(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && now > entry.expiresAtUs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private maybeSweep(now: number): void {
    if (++this.opsSinceSweep < 1_000 || this.entries.size < 1_000) return;
    this.opsSinceSweep = 0;
    for (const [key, entry] of this.entries) if (now > entry.expiresAtUs) this.entries.delete(key);
  }
}

// The functions below transcribe lua/*.lua; keep them in step.

function slidingWindow(e: Entry | undefined, now: number, limit: number, window: number, _burst: number, cost: number, consume: boolean): Check {
  const log = e?.log ?? [];
  let drop = 0;
  while (drop < log.length && log[drop] <= now - window) drop++;
  if (drop > 0) log.splice(0, drop);
  const count = log.length;
  if (count + cost <= limit) {
    if (consume) return [1, limit - count - cost, window, 0];
    // Peek: nothing is added, so the quota is whole again when the newest entry leaves.
    return [1, limit - count - cost, count === 0 ? 0 : log[count - 1] + window - now, 0];
  }
  const need = count + cost - limit;
  return [0, Math.max(0, limit - count), log[count - 1] + window - now, log[need - 1] + window - now];
}

function slidingWindowApprox(e: Entry | undefined, now: number, limit: number, window: number, _burst: number, cost: number): Check {
  const idx = Math.floor(now / window);
  let c = e?.c ?? 0;
  let p = e?.p ?? 0;
  if (e?.w === undefined || e.w < idx - 1) {
    c = 0;
    p = 0;
  } else if (e.w === idx - 1) {
    p = c;
    c = 0;
  }
  const start = idx * window;
  const estimate = (p * (window - (now - start))) / window + c;
  if (estimate + cost <= limit) return [1, Math.floor(limit - estimate - cost), start + 2 * window - now, 0, idx, c, p];
  const reset = c > 0 ? start + 2 * window - now : p > 0 ? start + window - now : 0;
  const retry = c + cost > limit
    ? start + window + window * (1 - (limit - cost) / c) - now
    : start + window - (window * (limit - c - cost)) / p - now;
  return [0, Math.max(0, Math.floor(limit - estimate)), reset, retry, idx, c, p];
}

function fixedWindow(e: Entry | undefined, now: number, limit: number, window: number, _burst: number, cost: number): Check {
  const idx = Math.floor(now / window);
  const c = e?.w === idx ? e.c ?? 0 : 0;
  const reset = (idx + 1) * window - now;
  if (c + cost <= limit) return [1, limit - c - cost, reset, 0, idx, c];
  return [0, limit - c, reset, reset, idx, c];
}

function tokenBucket(e: Entry | undefined, now: number, limit: number, window: number, burst: number, cost: number): Check {
  const rate = limit / window;
  let tokens = burst;
  if (e?.t !== undefined) {
    tokens = e.t;
    const elapsed = now - e.ts!;
    if (elapsed > 0) tokens += elapsed * rate;
    if (tokens > burst) tokens = burst;
  }
  if (tokens >= cost) {
    const left = tokens - cost;
    return [1, Math.floor(left), (burst - left) / rate, 0, left];
  }
  return [0, Math.floor(tokens), (burst - tokens) / rate, (cost - tokens) / rate, tokens];
}

function gcra(e: Entry | undefined, now: number, limit: number, window: number, burst: number, cost: number): Check {
  const interval = window / limit;
  const tolerance = interval * burst;
  let tat = e?.tat ?? now;
  if (tat < now) tat = now;
  const newTat = tat + cost * interval;
  const allowAt = newTat - tolerance;
  if (now >= allowAt) return [1, Math.floor((now - allowAt) / interval + 1e-9), newTat - now, 0, newTat];
  return [0, Math.max(0, Math.floor((now - (tat - tolerance)) / interval + 1e-9)), tat - now, allowAt - now, tat];
}

type CheckFn = (e: Entry | undefined, now: number, limit: number, window: number, burst: number, cost: number, consume: boolean) => Check;
type CommitFn = (e: Entry, now: number, window: number, cost: number, s: Check, limit: number, burst: number) => void;

const CHECKS: Record<number, CheckFn> = { 1: slidingWindow, 2: slidingWindowApprox, 3: fixedWindow, 4: tokenBucket, 5: gcra };

const expireUs = (ms: number): number => Math.ceil(ms) * 1000;

const COMMITS: Record<number, CommitFn> = {
  1: (e, now, window, cost) => {
    const log = (e.log ??= []);
    // The clock may be moved back in tests: keep the log sorted.
    let at = log.length;
    while (at > 0 && log[at - 1] > now) at--;
    const added = new Array<number>(cost).fill(now);
    e.log = at === log.length ? log.concat(added) : log.slice(0, at).concat(added, log.slice(at));
    e.expiresAtUs = now + expireUs(window / 1000);
  },
  2: (e, now, window, cost, s) => {
    e.w = s[4];
    e.c = s[5]! + cost;
    e.p = s[6];
    e.expiresAtUs = now + expireUs((2 * window) / 1000);
  },
  3: (e, now, window, cost, s) => {
    if (s[5] === 0) {
      e.w = s[4];
      e.c = cost;
      e.expiresAtUs = now + expireUs(((s[4]! + 1) * window - now) / 1000) + 1000;
    } else {
      e.c = (e.c ?? 0) + cost;
    }
  },
  4: (e, now, window, _cost, s, limit, burst) => {
    e.t = s[4];
    e.ts = now;
    e.expiresAtUs = now + expireUs((burst - s[4]!) / (limit / window) / 1000) + 1000;
  },
  5: (e, now, _window, _cost, s) => {
    e.tat = s[4];
    e.expiresAtUs = now + expireUs((s[4]! - now) / 1000) + 1000;
  },
};
