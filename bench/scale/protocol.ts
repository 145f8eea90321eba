/** The messages between `npm run scale` (bench/scale/run.ts) and its forked workers (worker.ts). */
import type { RedisNodeAddress } from '../../test/harness/redis-server.js';

/** What a worker is told at fork (JSON in argv[2]). */
export interface WorkerConfig {
  worker: number;
  /** Module instances (application contexts) this process boots. */
  instances: number;
  connection: { url: string } | { cluster: RedisNodeAddress[] };
  /** Key prefix shared by every instance of one run, so they contend on the same keys. */
  prefix: string;
  /** The run's origin on the shared monotonic clock (ns, from process.hrtime.bigint(), as a string). */
  originNs: string;
  workload: Workload;
}

export interface Workload {
  locks: number;
  lockTtlMs: number;
  lockWaitMs: number;
  /** Mean pause of an instance after each release (uniform in 0.5-1.5 × this), its other work. */
  lockThinkMs: number;
  /** Share of holds followed by a late write with the released token (a stalled holder). */
  lateWriteShare: number;
  /** Longest delay of such a late write after the release, ms. */
  lateWriteMaxDelayMs: number;
  rateLimitKeys: number;
  /** Decisions each instance asks for per second at most (one at a time, spaced evenly). */
  decisionsPerInstancePerSec: number;
  limit: number;
  windowMs: number;
  /** Answer for rateLimit.timeoutMs (the local fallback answers past it). */
  rateLimitTimeoutMs: number;
}

/**
 * Parent -> worker. `go`: work until `endUs`, counting rates, latencies and calls from `measureFromUs`
 * on (µs since the origin; what runs before is warm-up); `close`: shut down and exit.
 */
export type ParentMessage =
  | { type: 'go'; measureFromUs: number; endUs: number }
  /**
   * After the phase: per lock, every token recorded, lowest first. The worker re-sends checkFence
   * for the highest of each lock, then for the rest in order (each must be refused), and answers
   * `replayed` with (lock, token, sent µs, answered µs, accepted 1/0) per write.
   */
  | { type: 'replay'; tokens: Array<{ lock: number; tokens: number[] }> }
  | { type: 'close' };

/** Worker -> parent. */
export type WorkerMessage =
  | { type: 'ready'; rssBytes: number }
  | { type: 'result'; result: WorkerResult }
  | { type: 'replayed'; writes: number[][] }
  | { type: 'failed'; error: string };

/**
 * Everything a worker measured. Holds, writes and admissions cover the whole phase (the
 * invariants hold at every moment); counts and latencies only what completed after
 * `measureFromUs`.
 */
export interface WorkerResult {
  worker: number;
  /**
   * Per hold: lock index, fencing token, acquire called µs, start µs, end µs, write sent µs,
   * write answered µs, write accepted (1/0, or -1 when the write threw), lock lost by the release (1/0).
   */
  holds: number[][];
  /** Per late write: lock index, token, sent µs, answered µs, accepted (1/0). */
  lateWrites: number[][];
  /** Acquire latency, µs from the call to its return (waiting included), per measured acquisition. */
  acquireUs: number[];
  lockTimeouts: number;
  /** Releases that found the lock expired (LockLostError). */
  locksLost: number;
  /** Measured lock calls: acquire (returned or timed out), fenced write, release, late write. */
  lockCalls: number;
  /** Decision latency µs, per measured decision. */
  decisionUs: number[];
  /** Per rate-limit key: server time (ms) of each admission answered by Redis. */
  admittedAtMs: number[][];
  /** Decisions answered by the local fallback (Redis silent past rateLimit.timeoutMs), and how many admitted. */
  localDecisions: number;
  localAdmitted: number;
  /** Decisions that threw (over the whole phase): Redis may have admitted them too. */
  decisionErrors: number;
  /** µs since the origin when the last measured call completed. */
  lastUs: number;
  /** CPU time of the worker process (user + system) from `measureFromUs` to the end of its loops, µs. */
  cpuUs: number;
  /** Event-loop delay over the same time (perf_hooks), ms: how late the process ran what was due. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** Milliseconds from fork to every instance booted. */
  bootMs: number;
  /** Calls that failed unexpectedly (an invariant failure), and the first one's error. */
  errors: number;
  firstError?: string;
  /** Calls refused with RedisUnavailableError / CircuitOpenError (no answer in time), and the first. */
  unavailable: number;
  firstUnavailable?: string;
  rssBytes: number;
}
