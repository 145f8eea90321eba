/**
 * A worker process of `npm run scale`: boots `instances` CoordinationModule application contexts
 * (each with its own Redis connections, as separate Nest instances would have), then, on `go`,
 * runs in every instance one lock loop and one rate-limit loop against the shared keys until the
 * end time, and sends back what it recorded. Forked by run.ts with its WorkerConfig as JSON in argv[2].
 *
 * Both loops are paced (a pause after each release, decisions spaced evenly) so that the offered
 * load grows with the number of instances, as a fleet's would, instead of every loop spinning as
 * fast as a two-core machine lets it.
 */
import 'reflect-metadata';
import { setMaxListeners } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  CoordinationModule, LockAbortedError, LockLostError, LockService, LockTimeoutError, RateLimitService, RedisUnavailableError,
} from '@nest-coordination/core';
import type { ParentMessage, WorkerConfig, WorkerMessage, WorkerResult } from './protocol.js';

// The IPC channel closes when the parent dies: exit rather than run on holding connections.
process.on('disconnect', () => process.exit(1));

const config = JSON.parse(process.argv[2]) as WorkerConfig;
const origin = BigInt(config.originNs);
const { workload } = config;
/** µs since the run's origin on CLOCK_MONOTONIC, which all processes of the host share. */
const nowUs = (): number => Number(process.hrtime.bigint() - origin) / 1_000;
const send = (message: WorkerMessage): void => void process.send!(message);

const result: WorkerResult = {
  worker: config.worker,
  holds: [],
  lateWrites: [],
  acquireUs: [],
  lockTimeouts: 0,
  locksLost: 0,
  lockCalls: 0,
  decisionUs: [],
  admittedAtMs: Array.from({ length: workload.rateLimitKeys }, () => []),
  localDecisions: 0,
  localAdmitted: 0,
  decisionErrors: 0,
  lastUs: 0,
  cpuUs: 0,
  loopDelayP99Ms: NaN,
  loopDelayMaxMs: NaN,
  bootMs: 0,
  errors: 0,
  unavailable: 0,
  rssBytes: 0,
};

function failed(error: unknown): void {
  // No answer within connection.commandTimeoutMs (or the breaker open after such): the documented
  // fail-closed outcome of an overloaded machine, counted apart from errors that should not happen.
  if (error instanceof RedisUnavailableError) {
    result.unavailable++;
    result.firstUnavailable ??= `${error.name}: ${error.message}`;
    return;
  }
  result.errors++;
  result.firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

const randomIndex = (n: number): number => Math.floor(Math.random() * n);

async function boot(index: number): Promise<INestApplicationContext> {
  return NestFactory.createApplicationContext(
    CoordinationModule.forRoot({
      connection: config.connection,
      prefix: config.prefix,
      instanceId: `scale-w${config.worker}-i${index}`,
      // Every decision goes to Redis: the deny cache would answer most denials of these hot keys
      // locally, and the run is about the shared algorithm under contention.
      rateLimit: { denyCacheMaxEntries: 0, timeoutMs: workload.rateLimitTimeoutMs },
    }),
    { logger: false },
  );
}

/** Acquire one of the locks (waiting), write its resource through the fence, release; repeat. */
async function lockLoop(locks: LockService, measureFromUs: number, stop: AbortSignal, late: Set<Promise<void>>): Promise<void> {
  const counted = (at: number): void => {
    if (at >= measureFromUs) {
      result.lockCalls++;
      result.lastUs = Math.max(result.lastUs, at);
    }
  };
  while (!stop.aborted) {
    const lockIndex = randomIndex(workload.locks);
    const called = nowUs();
    let lock;
    try {
      lock = await locks.acquire(`lock-${lockIndex}`, { ttlMs: workload.lockTtlMs, waitMs: workload.lockWaitMs, signal: stop });
    } catch (error) {
      if (error instanceof LockAbortedError) return;
      counted(nowUs());
      if (error instanceof LockTimeoutError) {
        if (called >= measureFromUs) result.lockTimeouts++;
      } else {
        failed(error);
        await sleep(10);
      }
      continue;
    }
    const start = nowUs();
    counted(start);
    if (called >= measureFromUs) result.acquireUs.push(start - called);
    const token = lock.fencingToken;
    let hold: number[] | undefined;
    try {
      const sent = nowUs();
      const accepted = await locks.checkFence(`resource-${lockIndex}`, token);
      const replied = nowUs();
      counted(replied);
      const end = nowUs();
      hold = [lockIndex, token, called, start, end, sent, replied, accepted ? 1 : 0, 0];
      result.holds.push(hold);
      await lock.release();
      counted(nowUs());
    } catch (error) {
      if (!hold) {
        // The fenced write threw: the hold happened all the same, and the overlap check needs it.
        const failedHold = [lockIndex, token, called, start, nowUs(), 0, 0, -1, 0];
        result.holds.push(failedHold);
        failed(error);
        await lock.release().then(
          () => counted(nowUs()),
          (releaseError: unknown) => {
            if (releaseError instanceof LockLostError) {
              failedHold[8] = 1;
              result.locksLost++;
            }
          },
        );
      } else if (error instanceof LockLostError) {
        // Expired under this holder (it stalled past its TTL): a fact for the checks, not a failure.
        counted(nowUs());
        hold[8] = 1;
        result.locksLost++;
      } else {
        failed(error);
        await lock.release().catch(() => undefined);
      }
    }
    if (Math.random() < workload.lateWriteShare) {
      const write = lateWrite(locks, lockIndex, token, counted);
      late.add(write);
      void write.finally(() => late.delete(write));
    }
    await pause(workload.lockThinkMs * (0.5 + Math.random()), stop);
  }
}

/** Waits `ms`, or less if `stop` aborts first. */
async function pause(ms: number, stop: AbortSignal): Promise<void> {
  if (ms <= 0 || stop.aborted) return;
  await sleep(ms, undefined, { signal: stop }).catch(() => undefined);
}

/** A holder that stalled past its release writes with its old token: refused once a newer token wrote. */
async function lateWrite(locks: LockService, lockIndex: number, token: number, counted: (at: number) => void): Promise<void> {
  await sleep(Math.random() * workload.lateWriteMaxDelayMs);
  try {
    const sent = nowUs();
    const accepted = await locks.checkFence(`resource-${lockIndex}`, token);
    const replied = nowUs();
    counted(replied);
    result.lateWrites.push([lockIndex, token, sent, replied, accepted ? 1 : 0]);
  } catch (error) {
    failed(error);
  }
}

/** Consume one unit of one of the keys (exact sliding window); record admissions by server time. */
async function rateLimitLoop(rateLimits: RateLimitService, measureFromUs: number, stop: AbortSignal): Promise<void> {
  const policy = { limit: workload.limit, windowMs: workload.windowMs, algorithm: 'sliding-window' as const };
  const intervalUs = 1e6 / workload.decisionsPerInstancePerSec;
  // Instances start at random points of their interval, not in lockstep.
  let next = nowUs() + Math.random() * intervalUs;
  while (!stop.aborted) {
    await pause((next - nowUs()) / 1_000, stop);
    if (stop.aborted) return;
    // A late decision does not make the next ones come faster (no catching up after a stall).
    next = Math.max(next, nowUs()) + intervalUs;
    const keyIndex = randomIndex(workload.rateLimitKeys);
    const called = nowUs();
    try {
      const decision = await rateLimits.consume(`key-${keyIndex}`, policy);
      const done = nowUs();
      if (called >= measureFromUs) {
        result.decisionUs.push(done - called);
        result.lastUs = Math.max(result.lastUs, done);
      }
      if (decision.source === 'redis') {
        // An admission's resetAt is the server's decision time (ms, truncated) + windowMs.
        if (decision.allowed) result.admittedAtMs[keyIndex].push(decision.resetAt.getTime() - decision.resetAfterMs);
      } else {
        result.localDecisions++;
        if (decision.allowed) result.localAdmitted++;
      }
    } catch (error) {
      // Redis may have committed it before the call failed: the window check cannot count it.
      result.decisionErrors++;
      failed(error);
      await sleep(10);
    }
  }
}

/** The fence replay after the phase: per lock, the highest token first, then the rest in order. */
async function replay(locks: LockService, tokens: Array<{ lock: number; tokens: number[] }>): Promise<number[][]> {
  const writes: number[][] = [];
  await Promise.all(tokens.map(async ({ lock, tokens: ascending }) => {
    if (ascending.length === 0) return;
    const order = [ascending[ascending.length - 1], ...ascending.slice(0, -1)];
    for (const token of order) {
      const sent = nowUs();
      const accepted = await locks.checkFence(`resource-${lock}`, token);
      writes.push([lock, token, sent, nowUs(), accepted ? 1 : 0]);
    }
  }));
  return writes;
}

async function main(): Promise<void> {
  Logger.overrideLogger(false);
  // All at once: their connection handshakes overlap (booting is mostly CPU, so not by much).
  const apps = await Promise.all(Array.from({ length: config.instances }, (_, i) => boot(i)));
  result.bootMs = Math.round(performance.now());
  send({ type: 'ready', rssBytes: process.memoryUsage().rss });

  const go = await new Promise<Extract<ParentMessage, { type: 'go' }>>((resolve) => {
    const onMessage = (message: ParentMessage): void => {
      if (message.type !== 'go') return;
      process.off('message', onMessage);
      resolve(message);
    };
    process.on('message', onMessage);
  });
  const stop = new AbortController();
  // Every loop of every instance (and every wait of their acquisitions) listens to it.
  setMaxListeners(0, stop.signal);
  const timer = setTimeout(() => stop.abort(), Math.max(0, (go.endUs - nowUs()) / 1_000));
  let cpuFrom: NodeJS.CpuUsage | undefined;
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  const cpuTimer = setTimeout(() => {
    cpuFrom = process.cpuUsage();
    loopDelay.enable();
  }, Math.max(0, (go.measureFromUs - nowUs()) / 1_000));
  const late = new Set<Promise<void>>();
  await Promise.all(apps.flatMap((app) => [
    lockLoop(app.get(LockService), go.measureFromUs, stop.signal, late),
    rateLimitLoop(app.get(RateLimitService), go.measureFromUs, stop.signal),
  ]));
  clearTimeout(timer);
  clearTimeout(cpuTimer);
  await Promise.all(late);
  loopDelay.disable();
  result.loopDelayP99Ms = loopDelay.percentile(99) / 1e6;
  result.loopDelayMaxMs = loopDelay.max / 1e6;
  const cpu = process.cpuUsage(cpuFrom);
  result.cpuUs = cpuFrom ? cpu.user + cpu.system : NaN;
  result.rssBytes = process.memoryUsage().rss;
  send({ type: 'result', result });

  await new Promise<void>((resolve) => process.on('message', (message: ParentMessage) => {
    if (message.type === 'close') resolve();
    else if (message.type === 'replay') {
      replay(apps[0].get(LockService), message.tokens).then(
        (writes) => send({ type: 'replayed', writes }),
        (error: unknown) => send({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
      );
    }
  }));
  await Promise.all(apps.map((app) => app.close()));
  process.exit(0);
}

main().catch((error: unknown) => {
  send({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 100);
});
