import 'reflect-metadata';
import { Injectable, Logger, Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Cron, ScheduleModule } from '@nestjs/schedule';
import { CoordinationCore, CoordinationModule, LeaderService, SingletonJob, type JobTick, type LeaderCampaign } from '@nest-coordination/core';
import type { BenchContext, BenchProbe } from '../harness/types.js';

const FAILOVER = 'leader: failover after a leader crash (lease 1 000 ms, 3 candidates)';
const TICKS = 'jobs: @Cron every second + @SingletonJob on 4 instances (runs per tick, start delay)';
const LEASE_MS = 1_000;
const ROUNDS = 6;
const TICK_COUNT = 10;

const boot = (module: unknown, ctx: BenchContext, prefix: string): Promise<INestApplicationContext> => {
  Logger.overrideLogger(['error']);
  return NestFactory.createApplicationContext(
    { module: class BenchLeaderApp {}, imports: [CoordinationModule.forRoot({ connection: { url: ctx.redisUrl }, prefix, health: { pingIntervalMs: 0 }, leader: { leaseMs: LEASE_MS } }), ...(module ? [module] : [])] } as never,
    { logger: ['error'] },
  );
};

interface Candidate {
  app: INestApplicationContext;
  campaign: LeaderCampaign;
}

async function candidate(ctx: BenchContext): Promise<Candidate> {
  const app = await boot(undefined, ctx, 'benchleader');
  return { app, campaign: app.get(LeaderService).campaign('bench-role') };
}

/**
 * A leader "crashes" (its Redis connection is cut without resigning: renewals stop, the lease
 * stays until it expires); measured: from the cut to another candidate's election, against the
 * lease. The new term can start only once the lease ran out, so the figure is the lease left at
 * the cut (up to 1 000 ms: the leader renews at a third) plus the followers' reaction.
 */
async function failover(ctx: BenchContext): Promise<{ text: string; missed: number }> {
  const fleet = await Promise.all([candidate(ctx), candidate(ctx), candidate(ctx)]);
  const takeovers: number[] = [];
  const tokens: boolean[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const terms = await Promise.race(fleet.map(async (c) => ({ c, term: await c.campaign.elected() })));
      const leader = terms.c;
      // Let a renewal or two happen, so the cut lands anywhere in the renewal cycle.
      await new Promise((r) => setTimeout(r, 200 + round * 97));
      const cutAt = performance.now();
      leader.app.get(CoordinationCore).connection!.client.disconnect();
      const others = fleet.filter((c) => c !== leader);
      const next = await Promise.race(others.map((c) => c.campaign.elected()));
      takeovers.push(performance.now() - cutAt);
      tokens.push(next.fencingToken > terms.term.fencingToken);
      await leader.app.close().catch(() => undefined);
      fleet.splice(fleet.indexOf(leader), 1, await candidate(ctx));
    }
  } finally {
    await Promise.all(fleet.map((c) => c.app.close().catch(() => undefined)));
  }
  const sorted = [...takeovers].sort((a, b) => a - b);
  const max = sorted[sorted.length - 1];
  const met = max <= LEASE_MS + 250 && tokens.every(Boolean);
  return {
    missed: met ? 0 : 1,
    text: [
      `From cutting the leader's connection to another candidate's election, ${ROUNDS} rounds: ` +
        `p50 ${sorted[Math.floor(sorted.length / 2)].toFixed(0)} ms, max ${max.toFixed(0)} ms (lease ${LEASE_MS} ms); ` +
        `every new term's token higher: ${tokens.every(Boolean) ? 'yes' : 'NO'}.`,
      `- target ${met ? 'MET' : 'MISSED'}: a crashed leader replaced within one lease (+ 250 ms for the followers' poll and a round trip)`,
    ].join('\n'),
  };
}

interface TickRun {
  scheduledAt: number;
  delayMs: number;
}

function ticksModule(runs: TickRun[]) {
  @Injectable()
  class Ticker {
    @Cron('* * * * * *')
    @SingletonJob('bench-tick', { leaseMs: 5_000 })
    tick(tick: JobTick) {
      runs.push({ scheduledAt: tick.scheduledAt.getTime(), delayMs: Date.now() - tick.scheduledAt.getTime() });
    }
  }
  @Module({ imports: [ScheduleModule.forRoot()], providers: [Ticker] })
  class TickerModule {}
  return TickerModule;
}

/** Four instances in one process (four apps, four connections) run an every-second singleton job for TICK_COUNT ticks. */
async function ticks(ctx: BenchContext): Promise<{ text: string; missed: number }> {
  const runs: TickRun[] = [];
  const apps = await Promise.all(Array.from({ length: 4 }, () => boot(ticksModule(runs), ctx, 'benchticks')));
  try {
    const first = Math.ceil(Date.now() / 1_000) * 1_000 + 1_000;
    const last = first + (TICK_COUNT - 1) * 1_000;
    while (!runs.some((r) => r.scheduledAt >= last)) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 300)); // a late duplicate of the last tick would show here
    const window = runs.filter((r) => r.scheduledAt >= first && r.scheduledAt <= last);
    const perTick = new Map<number, number>();
    for (const r of window) perTick.set(r.scheduledAt, (perTick.get(r.scheduledAt) ?? 0) + 1);
    const exactlyOnce = [...Array(TICK_COUNT).keys()].every((i) => perTick.get(first + i * 1_000) === 1);
    const delays = window.map((r) => r.delayMs).sort((a, b) => a - b);
    return {
      missed: exactlyOnce ? 0 : 1,
      text: [
        `${TICK_COUNT} ticks: runs per tick ${[...Array(TICK_COUNT).keys()].map((i) => perTick.get(first + i * 1_000) ?? 0).join(' ')}; ` +
          `start delay after the scheduled second p50 ${delays[Math.floor(delays.length / 2)]} ms, max ${delays[delays.length - 1]} ms (one claim round trip after cron's timer).`,
        `- target ${exactlyOnce ? 'MET' : 'MISSED'}: every tick ran exactly once across the 4 instances`,
      ].join('\n'),
    };
  } finally {
    await Promise.all(apps.map((a) => a.close()));
  }
}

export const cases = [];
export const probes: BenchProbe[] = [
  { name: FAILOVER, run: failover },
  { name: TICKS, run: ticks },
];
