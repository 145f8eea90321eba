import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisServerHandle } from '../../test/harness/redis-server.js';
import type { DemoInstance } from './soak-fleet.js';
import type { Random } from './soak-options.js';

/** One fault the chaos injected, with when it started and ended (ms since the epoch). */
export interface ChaosEvent {
  kind: 'kill' | 'redis-pause';
  /** The instance killed, for `kill`. */
  instance?: string;
  at: number;
  /** `kill`: when the restarted instance answered its health check again; `redis-pause`: when Redis was resumed. */
  endedAt?: number;
  /** Why a restart failed, if it did. */
  error?: string;
}

/** How often and how long the chaos strikes (ms). */
export interface ChaosPlan {
  /** Time between the end of one kill (instance back up) and the next kill. */
  killGapMs: [number, number];
  /** Time a killed instance stays down before it is started again. */
  downMs: [number, number];
  /** Time between two pauses of Redis. */
  pauseGapMs: [number, number];
  /** How long Redis stays paused (SIGSTOP) before SIGCONT. */
  pauseMs: [number, number];
}

/** The soak's plan: a kill every 6-15 s (down 0.5-2 s, then its boot), Redis paused for 1-2 s every 8-20 s. */
export const DEFAULT_CHAOS_PLAN: ChaosPlan = {
  killGapMs: [6_000, 15_000],
  downMs: [500, 2_000],
  pauseGapMs: [8_000, 20_000],
  pauseMs: [1_000, 2_000],
};

/**
 * Two loops until `signal` aborts: one SIGKILLs a random instance and starts it again (never the
 * instance whose process has lived longest, so one incarnation always lives long enough for the
 * RSS rule, never one `canKill` refuses (the soak: until one of its incarnations was sampled long
 * enough for the RSS rule, so every instance name is measured), and never while another is down:
 * two instances always serve; with no instance to kill it looks again a second later), the other pauses Redis
 * with SIGSTOP for a second or two, then resumes it. Resolves once both have stopped, with Redis
 * running and every instance up.
 */
export async function runChaos(
  instances: readonly DemoInstance[], redis: RedisServerHandle, rng: Random, signal: AbortSignal, events: ChaosEvent[], plan: ChaosPlan = DEFAULT_CHAOS_PLAN,
  canKill: (instance: DemoInstance) => boolean = () => true,
): Promise<void> {
  const wait = async (range: [number, number]): Promise<boolean> => {
    if (signal.aborted) return false;
    await sleep(rng.between(...range), undefined, { signal }).catch(() => undefined);
    return !signal.aborted;
  };

  const kills = async (): Promise<void> => {
    let gap = plan.killGapMs;
    while (await wait(gap)) {
      const oldest = [...instances].sort((a, b) => (a.current?.startedAt ?? Infinity) - (b.current?.startedAt ?? Infinity))[0];
      const candidates = instances.filter((i) => i.up && i !== oldest && canKill(i));
      gap = [1_000, 1_000];
      if (candidates.length === 0 || instances.some((i) => !i.up)) continue;
      gap = plan.killGapMs;
      const victim = rng.pick(candidates);
      const event: ChaosEvent = { kind: 'kill', instance: victim.name, at: Date.now() };
      events.push(event);
      await victim.kill();
      // Down for a while even if the load phase ends now: the restart below still happens.
      await sleep(rng.between(...plan.downMs));
      try {
        await victim.start();
      } catch (error) {
        event.error = error instanceof Error ? error.message : String(error);
      }
      event.endedAt = Date.now();
    }
  };

  const pauses = async (): Promise<void> => {
    while (await wait(plan.pauseGapMs)) {
      const event: ChaosEvent = { kind: 'redis-pause', at: Date.now() };
      events.push(event);
      redis.pause();
      try {
        await sleep(rng.between(...plan.pauseMs));
      } finally {
        redis.resume();
        event.endedAt = Date.now();
      }
    }
  };

  await Promise.all([kills(), pauses()]);
}
