import type { CrewRun } from '../../apps/demo/src/crews/crew.model.js';
import type { AuditReport, ListedTask } from './soak-audit.js';
import {
  checkCrewExclusive, checkEdits, checkFloors, checkIdempotency, checkInstances, checkRateLimits, checkRss, checkRunsRecorded, checkSessions, checkTasks, rssMeasurable,
} from './soak-checks.js';
import { runChaos, type ChaosEvent } from './soak-chaos.js';
import type { RedisServerHandle } from '../../test/harness/redis-server.js';
import type { DemoInstance } from './soak-fleet.js';
import { Random } from './soak-options.js';
import { until } from '../../test/support/wait.js';
import type { Incarnation } from './soak-fleet.js';
import type { Admission, EditRecord, RunAttempt } from './soak-ledger.js';
import { parseSoakArgs } from './soak-options.js';

// The soak's verdicts are only as good as these checks: each is shown passing on a clean record
// and failing, with evidence, on the record of the fault it is there to catch.

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const iso = (offsetMs: number): string => new Date(T0 + offsetMs).toISOString();

function answered(id: string, token: number, start: number, end: number, extra: Partial<RunAttempt> = {}): RunAttempt {
  return {
    userId: 'u-ada', companyId: 'acme', crewId: 'market-research', key: `key-${id}`, instance: 'soak-1', sentAt: T0 + start, answeredAt: T0 + end, status: 201, replayed: false,
    run: { id, status: 'succeeded', startedAt: iso(start), finishedAt: iso(end), fencingToken: token, steps: [{ taskId: `crew.agent-step:${id}.a-1`, agentId: 'a-1', state: 'completed' }] },
    text: `{"id":"${id}"}`,
    ...extra,
  };
}

const record = (id: string, token: number | undefined, start: number, end: number, status: CrewRun['status'] = 'succeeded'): CrewRun => ({
  id, status, startedAt: iso(start), finishedAt: iso(end), triggeredBy: 'u-ada', ...(token === undefined ? {} : { fencingToken: token }),
});

function task(id: string, runId: string, token: number, state: string, start: number, end?: number): ListedTask {
  return {
    id, state, tenant: 'acme', enqueuedAt: iso(start - 10), startedAt: iso(start), ...(end === undefined ? {} : { finishedAt: iso(end) }),
    payload: { runId, crewId: 'market-research', fencingToken: token, agentId: 'a-1' },
  };
}

const history = (...runs: CrewRun[]): AuditReport['history'] => new Map([['acme/market-research', runs]]);

describe('soak check: no crew ran twice at once', () => {
  it('passes runs that follow each other in fencing-token order', () => {
    const result = checkCrewExclusive([answered('r1', 10, 0, 1_000)], history(record('r1', 10, 0, 1_000), record('r2', 11, 1_000, 2_000)), new Map(), T0);
    expect(result).toMatchObject({ passed: true, failures: [] });
  });

  it('fails runs whose intervals overlap, naming both', () => {
    const result = checkCrewExclusive([], history(record('r1', 10, 0, 1_500), record('r2', 11, 1_000, 2_000)), new Map(), T0);
    expect(result.passed).toBe(false);
    expect(result.failures).toEqual([expect.stringContaining('run r1 (token 10')]);
    expect(result.failures[0]).toContain('overlaps run r2 (token 11');
  });

  it('fails two runs holding one fencing token, and an answer that disagrees with the history', () => {
    const tokens = checkCrewExclusive([], history(record('r1', 10, 0, 500), record('r2', 10, 600, 900)), new Map(), T0);
    expect(tokens.failures).toEqual([expect.stringContaining('both hold fencing token 10')]);
    const differ = checkCrewExclusive([answered('r1', 12, 0, 500)], history(record('r1', 10, 0, 500)), new Map(), T0);
    expect(differ.failures).toEqual([expect.stringContaining('run r1 is token 10')]);
  });

  it('ignores seeded runs (no token) and runs from before the soak', () => {
    const result = checkCrewExclusive([], history(record('seed', undefined, 0, 5_000), record('old', 3, -10_000, 4_000), record('r1', 10, 1_000, 2_000)), new Map(), T0);
    expect(result.passed).toBe(true);
  });

  it('fails an agent step of an older run that completed after a newer run\'s step started', () => {
    const tasks = new Map([['acme', [task('s-old', 'r1', 10, 'completed', 0, 2_000), task('s-new', 'r2', 11, 'completed', 1_500, 2_500)]]]);
    const result = checkCrewExclusive([], new Map(), tasks, T0);
    expect(result.failures).toEqual([expect.stringContaining('step s-old of run r1 (token 10) completed')]);
    const superseded = new Map([['acme', [task('s-old', 'r1', 10, 'failed', 0, 2_000), task('s-new', 'r2', 11, 'completed', 1_500, 2_500)]]]);
    expect(checkCrewExclusive([], new Map(), superseded, T0).passed).toBe(true);
  });
});

describe('soak check: no acknowledged run or task lost', () => {
  it('finds every answered run in the history or the dead letters', () => {
    const runs = [answered('r1', 10, 0, 1_000), answered('r2', 11, 1_000, 2_000), answered('r3', 12, 2_000, 3_000)];
    const result = checkRunsRecorded(runs, { history: history(record('r1', 10, 0, 1_000)), deadLetters: new Map([['acme', new Set(['r2'])]]) });
    expect(result.passed).toBe(false);
    expect(result.failures).toEqual([expect.stringContaining('run r3 (answered 201 to u-ada by soak-1')]);
    expect(result.summary).toBe('3 runs answered 2xx: 1 in the history, 1 dead-lettered');
  });

  it('fails a run recorded with another status than it was answered with', () => {
    const result = checkRunsRecorded([answered('r1', 10, 0, 1_000)], { history: history(record('r1', 10, 0, 1_000, 'aborted')), deadLetters: new Map() });
    expect(result.failures).toEqual([expect.stringContaining('answered succeeded with token 10, the history says aborted')]);
  });

  it('counts a replay as the same run', () => {
    const first = answered('r1', 10, 0, 1_000);
    const replay = { ...first, replayed: true, sentAt: T0 + 5_000 };
    expect(checkRunsRecorded([first, replay], { history: history(record('r1', 10, 0, 1_000)), deadLetters: new Map() }).summary).toBe('1 runs answered 2xx: 1 in the history, 0 dead-lettered');
  });

  it('fails a step missing from the queue, or in another state, and a task stuck past the recovery bound', () => {
    const runs = [answered('r1', 10, 0, 1_000), answered('r2', 11, 2_000, 3_000)];
    const listed = [task('crew.agent-step:r1.a-1', 'r1', 10, 'failed', 0, 900), task('stuck', 'r0', 9, 'active', -80_000)];
    const result = checkTasks(runs, new Map([['acme', listed]]), T0 + 4_000);
    expect(result.failures).toEqual([
      'acme: task crew.agent-step:r1.a-1 was answered completed, the queue says failed',
      'acme: task crew.agent-step:r2.a-1 (step of run r2, answered completed) is not in the queue',
      'acme: task stuck has been active for 84 s',
    ]);
  });

  it('lets a task run on while it is within the recovery bound', () => {
    const result = checkTasks([answered('r1', 10, 0, 1_000)], new Map([['acme', [task('crew.agent-step:r1.a-1', 'r1', 10, 'completed', 0, 900), task('t', 'r9', 12, 'active', 1_000)]]]), T0 + 60_000);
    expect(result.passed).toBe(true);
  });
});

describe('soak check: idempotency', () => {
  it('passes replays identical to the first answer', () => {
    const first = answered('r1', 10, 0, 1_000);
    expect(checkIdempotency([first, { ...first, replayed: true }]).passed).toBe(true);
  });

  it('fails one key answered as two runs, and a replay that differs', () => {
    const first = answered('r1', 10, 0, 1_000);
    const second = answered('r2', 11, 2_000, 3_000, { key: first.key });
    expect(checkIdempotency([first, second]).failures).toEqual([`key ${first.key}: answered as 2 different runs (r1, r2)`]);
    expect(checkIdempotency([first, { ...first, replayed: true, text: '{"id":"r1","extra":1}' }]).failures).toEqual([`key ${first.key}: a replay differs from the first answer`]);
  });
});

describe('soak check: sessions', () => {
  it('fails a live session refused at the end or during the soak', () => {
    const result = checkSessions(
      [{ userId: 'u-ada', handle: 'h1', status: 200, instance: 'soak-1' }, { userId: 'u-ada', handle: 'h2', status: 401, instance: 'soak-2' }],
      [{ userId: 'u-bob', handle: 'h3', instance: 'soak-3', path: '/crews', at: T0, body: '{"code":"E_SESSION_NOT_FOUND"}' }],
      3,
    );
    expect(result.failures).toEqual([
      'session h2 of u-ada: GET /sessions answered 401 on soak-2 at the end',
      expect.stringContaining('session h3 of u-bob, live: /crews on soak-3'),
    ]);
  });
});

describe('soak check: crew edits', () => {
  const seed = new Map([['acme/market-research', 'Market research']]);
  const edit = (name: string, status: EditRecord['status'], sentAt: number): EditRecord => ({ companyId: 'acme', crewId: 'market-research', name, instance: 'soak-1', sentAt, status });
  const read = (name: string, instance = 'soak-2') => ({ companyId: 'acme', crewId: 'market-research', instance, route: 'GET /crews/:crewId', name, status: 200 });

  it('accepts the last acknowledged name, or that of a later edit whose answer was lost', () => {
    const edits = [edit('#1', 200, 1), edit('#2', 200, 2), edit('#3', 'unknown', 3), edit('#4', 409, 4)];
    expect(checkEdits(edits, [], [read('#2'), read('#3', 'soak-3')], seed).passed).toBe(true);
    expect(checkEdits(edits, [], [read('#4')], seed).failures).toEqual([expect.stringContaining('shows "#4" at the end, the last acknowledged edit set "#2"')]);
    expect(checkEdits(edits, [], [read('#1')], seed).passed).toBe(false);
  });

  it('fails a stale read right after an edit', () => {
    const stale = { companyId: 'acme', crewId: 'market-research', instance: 'soak-1', expected: '#2', got: '#1', xCache: 'HIT', at: T0 };
    expect(checkEdits([edit('#2', 200, 1)], [stale], [], seed).failures).toEqual([expect.stringContaining('showed "#1" (X-Cache: HIT)')]);
  });
});

describe('soak check: exact rate-limit windows', () => {
  const admission = (sentAt: number, shared = true): Admission => ({ subject: 'u-ada', policy: 'crew-run-user', sentAt: T0 + sentAt, answeredAt: T0 + sentAt + 50, shared });

  it('fails a sixth shared admission within one minute of the first', () => {
    const six = [0, 1, 2, 3, 4, 5].map((i) => admission(i * 1_000));
    expect(checkRateLimits(six).failures).toEqual([expect.stringContaining('crew-run-user u-ada: 6 admissions')]);
  });

  it('passes admissions a minute apart, and leaves the local fallback out', () => {
    const spread = [0, 1, 2, 3, 4].map((i) => admission(i * 1_000)).concat(admission(60_001));
    expect(checkRateLimits(spread).passed).toBe(true);
    const local = [0, 1, 2, 3, 4].map((i) => admission(i * 1_000)).concat(admission(5_000, false));
    expect(checkRateLimits(local).passed).toBe(true);
  });
});

describe('soak check: RSS', () => {
  const rule = (warmUpMs: number) => ({ warmUpMs, windowMs: 10_000, loadStartedAt: T0 });
  /** Samples every second: a heap that climbs `rampKb` a second and drops back every `gcEveryS` seconds (a major GC), plus `leakKb` a second kept. */
  const incarnation = (livedS: number, opts: { rampKb?: number; gcEveryS?: number; leakKb?: number; endedAt?: number } = {}): Incarnation => {
    const rss: Array<[number, number]> = [];
    for (let s = 0; s <= livedS; s++) rss.push([T0 + s * 1_000, 100_000 + (opts.rampKb ?? 0) * (s % (opts.gcEveryS ?? 1_000)) + (opts.leakKb ?? 0) * s]);
    return { instance: 'soak-1', pid: 1, startedAt: T0 - 1_000, readyAt: T0, rss, ...(opts.endedAt === undefined ? {} : { endedAt: opts.endedAt, endedBy: 'sigkill' as const }) };
  };

  it('passes a heap that grows and drops with its collections, fails memory kept past 20 %', () => {
    // 0.5 MB/s of garbage collected every 60 s: the peaks reach +30 %, the low points stay.
    expect(checkRss([incarnation(120, { rampKb: 500, gcEveryS: 60 })], rule(30_000)).check).toMatchObject({ passed: true });
    const leaking = checkRss([incarnation(120, { leakKb: 300 })], rule(30_000));
    expect(leaking.check.failures).toEqual(['soak-1 (pid 1): RSS 106 MiB after warm-up, 130 MiB at the end (+22.0 %)']);
  });

  it('passes a drop (a collection), and leaves out incarnations sampled for less than warm-up + 20 s', () => {
    expect(checkRss([incarnation(60, { leakKb: -500 })], rule(10_000)).check.passed).toBe(true);
    const short = checkRss([incarnation(25, { leakKb: 3_000, endedAt: T0 + 25_000 })], rule(10_000));
    expect(short.levels).toEqual([]);
    expect(short.check.failures).toEqual(['soak-1: no incarnation was sampled for 30 s under load (not measured)']);
  });

  it('warms up from the start of the load when the instance was ready before it', () => {
    // Idle at 100 MB until the load starts at 20 s, then 150 MB under load: not a leak.
    const inc = incarnation(80);
    inc.rss = inc.rss.map(([t]) => [t, t < T0 + 20_000 ? 100_000 : 150_000]);
    expect(checkRss([inc], { ...rule(10_000), loadStartedAt: T0 + 20_000 }).levels).toEqual([expect.objectContaining({ baselineKb: 150_000, finalKb: 150_000, livedMs: 60_000 })]);
    expect(checkRss([inc], rule(10_000)).check.passed).toBe(false);
  });
});

describe('soak check: RSS measures every instance name', () => {
  const sampled = (instance: string, livedS: number, pid = 1): Incarnation => ({
    instance, pid, startedAt: T0 - 1_000, readyAt: T0, rss: Array.from({ length: livedS + 1 }, (_, s): [number, number] => [T0 + s * 1_000, 100_000]),
  });
  const rule = { warmUpMs: 10_000, windowMs: 5_000, loadStartedAt: T0 };

  it('fails an instance name none of whose incarnations was measured, even when another was', () => {
    const result = checkRss([sampled('soak-1', 30), sampled('soak-2', 12, 2), sampled('soak-2', 8, 3)], rule);
    expect(result.levels.map((l) => l.instance)).toEqual(['soak-1']);
    expect(result.check.failures).toEqual(['soak-2: no incarnation was sampled for 20 s under load (not measured)']);
  });

  it('fails an instance name given that has no incarnation at all, and passes when each name has one measured', () => {
    expect(checkRss([sampled('soak-1', 30)], { ...rule, instances: ['soak-1', 'soak-3'] }).check.failures).toEqual([
      'soak-3: no incarnation was sampled for 20 s under load (not measured)',
    ]);
    expect(checkRss([sampled('soak-1', 30), sampled('soak-2', 12, 2), sampled('soak-2', 20, 3)], rule).check.passed).toBe(true);
    expect(checkRss([], { ...rule, instances: [] }).check.passed).toBe(false);
  });

  it('counts an incarnation measurable from warm-up + 2 windows of samples under load', () => {
    expect(rssMeasurable(sampled('soak-1', 20), rule)).toBe(true);
    expect(rssMeasurable(sampled('soak-1', 19), rule)).toBe(false);
    expect(rssMeasurable({ ...sampled('soak-1', 30), readyAt: undefined }, rule)).toBe(false);
  });
});

describe('soak check: every check had something to check', () => {
  it('fails each count that is 0 when nothing happened (no run, step, task, session, admission, kill or pause)', () => {
    const checks = [
      checkCrewExclusive([], new Map(), new Map(), T0), checkTasks([], new Map(), T0), checkSessions([], [], 0), checkRateLimits([]), checkInstances([], []),
    ];
    // Each check on its own passes vacuously: that is what the floors are for.
    expect(checks.every((c) => c.passed)).toBe(true);
    const floors = checkFloors(checks);
    expect(floors.passed).toBe(false);
    expect(floors.failures).toEqual([
      'no crew ran twice at once: nothing checked (0 successive crew run pairs compared)',
      'no crew ran twice at once: nothing checked (0 agent steps compared)',
      'no acknowledged task lost or stuck: nothing checked (0 steps of acknowledged runs checked)',
      'no acknowledged session lost: nothing checked (0 live sessions checked)',
      'rate limits: exact windows never exceeded: nothing checked (0 shared-limiter admissions)',
      'instances: no crash, every restart booted: nothing checked (0 kills)',
      'instances: no crash, every restart booted: nothing checked (0 Redis pauses)',
    ]);
  });

  it('passes when every check looked at something; the local fallback\'s admissions do not count', () => {
    const runs = [answered('r1', 10, 0, 1_000), answered('r2', 11, 1_000, 2_000)];
    const tasks = new Map([['acme', [task('crew.agent-step:r1.a-1', 'r1', 10, 'completed', 0, 900), task('crew.agent-step:r2.a-1', 'r2', 11, 'completed', 1_000, 1_900)]]]);
    const admission: Admission = { subject: 'u-ada', policy: 'crew-run-user', sentAt: T0, answeredAt: T0 + 50, shared: true };
    const chaos: ChaosEvent[] = [{ kind: 'kill', instance: 'soak-2', at: T0, endedAt: T0 + 3_000 }, { kind: 'redis-pause', at: T0, endedAt: T0 + 1_000 }];
    const checks = [
      checkCrewExclusive(runs, new Map(), tasks, T0), checkTasks(runs, tasks, T0 + 3_000),
      checkSessions([{ userId: 'u-ada', handle: 'h1', status: 200, instance: 'soak-1' }], [], 1), checkRateLimits([admission]), checkInstances([], chaos),
    ];
    expect(checkFloors(checks)).toMatchObject({ passed: true, failures: [] });
    const localOnly = checkRateLimits([{ ...admission, shared: false }]);
    expect(checkFloors([...checks.slice(0, 3), localOnly, checks[4]]).failures).toEqual(['rate limits: exact windows never exceeded: nothing checked (0 shared-limiter admissions)']);
  });
});

describe('soak chaos: kills only what may be killed', () => {
  /** Stand-ins for the fleet: the chaos reads `up`, `current`, `name`, and calls kill() and start(). */
  const fleet = (): DemoInstance[] => ['soak-1', 'soak-2', 'soak-3'].map((name, i) => {
    const instance = {
      name, up: true, kills: 0, incarnations: [] as Incarnation[],
      get current() {
        return { startedAt: T0 + i };
      },
      async kill() {
        instance.up = false;
        instance.kills++;
      },
      async start() {
        instance.up = true;
      },
    };
    return instance as unknown as DemoInstance;
  });
  const redis = { pause: () => undefined, resume: () => undefined } as unknown as RedisServerHandle;
  const plan = { killGapMs: [5, 5] as [number, number], downMs: [1, 1] as [number, number], pauseGapMs: [5, 5] as [number, number], pauseMs: [1, 1] as [number, number] };

  it('never kills an instance canKill refuses (one not measured yet), and keeps looking until one may be killed', async () => {
    const instances = fleet();
    const events: ChaosEvent[] = [];
    const load = new AbortController();
    let allowedFrom = Infinity;
    const done = runChaos(instances, redis, new Random(1), load.signal, events, plan, (i) => i.name === 'soak-3' && Date.now() >= allowedFrom);
    // Pauses happen while no instance may be killed; then soak-3 becomes killable and is killed.
    await until(() => events.filter((e) => e.kind === 'redis-pause').length >= 2, { timeoutMs: 10_000, message: 'two Redis pauses' });
    expect(events.filter((e) => e.kind === 'kill')).toEqual([]);
    allowedFrom = Date.now();
    await until(() => events.some((e) => e.kind === 'kill'), { timeoutMs: 10_000, message: 'a kill once soak-3 may be killed' });
    load.abort();
    await done;
    expect(new Set(events.filter((e) => e.kind === 'kill').map((e) => e.instance))).toEqual(new Set(['soak-3']));
  });
});

describe('soak check: instances', () => {
  it('fails an instance that exited on its own, and a restart that did not boot', () => {
    const crashed: Incarnation = { instance: 'soak-2', pid: 7, startedAt: T0, readyAt: T0, endedAt: T0 + 1_000, endedBy: 'exit', exitCode: 1, rss: [] };
    const result = checkInstances([crashed], [{ kind: 'kill', instance: 'soak-3', at: T0, endedAt: T0 + 60_000, error: 'did not answer' }]);
    expect(result.failures).toEqual([expect.stringContaining('soak-2 (pid 7) exited on its own with code 1'), expect.stringContaining('soak-3: restart after the kill')]);
  });
});

describe('soak options', () => {
  it('reads --minutes and --seconds, bounds warm-up, and refuses what it does not know', () => {
    expect(parseSoakArgs([], 7)).toMatchObject({ durationMs: 120_000, warmUpMs: 30_000, rssWindowMs: 10_000, seed: 7, drainMs: 75_000 });
    expect(parseSoakArgs(['--seconds', '30', '--drain-seconds', '10'])).toMatchObject({ durationMs: 30_000, warmUpMs: 10_000, rssWindowMs: 5_000, drainMs: 10_000 });
    expect(() => parseSoakArgs(['--hours', '1'])).toThrow('unknown argument "--hours"');
    expect(() => parseSoakArgs(['--minutes', '-1'])).toThrow('--minutes must be a positive number');
  });
});
