import type { CrewRun } from '../../apps/demo/src/crews/crew.model.js';
import { TASK_RECOVERY_BOUND_MS, taskAge, type AuditReport, type ListedTask } from './soak-audit.js';
import type { ChaosEvent } from './soak-chaos.js';
import type { Incarnation } from './soak-fleet.js';
import type { Admission, EditRecord, RunAttempt, SessionRefusal, StaleRead } from './soak-ledger.js';
import { RSS_TOLERANCE } from './soak-options.js';

/** The verdict of one check: what it looked at, and each failure with its evidence. */
export interface CheckResult {
  name: string;
  passed: boolean;
  /** What was checked, in numbers. */
  summary: string;
  failures: string[];
  /** How many things it looked at, by what they are: each must be above 0 (checkFloors). */
  counts?: Record<string, number>;
}

function result(name: string, summary: string, failures: string[], counts?: Record<string, number>): CheckResult {
  return { name, passed: failures.length === 0, summary, failures, ...(counts === undefined ? {} : { counts }) };
}

/**
 * The checks had something to check: a check that looked at nothing passes vacuously (a soak that
 * ran no crew, killed nothing or paused nothing would print PASSED), so every count a check
 * reports (runs compared, steps and tasks checked, sessions checked, shared-limiter admissions,
 * kills, Redis pauses) must be above 0.
 */
export function checkFloors(checks: readonly CheckResult[]): CheckResult {
  const counts = checks.flatMap((c) => Object.entries(c.counts ?? {}).map(([what, n]) => ({ check: c.name, what, n })));
  const failures = counts.filter((c) => !(c.n > 0)).map((c) => `${c.check}: nothing checked (${c.n} ${c.what})`);
  return result('every check had something to check', counts.map((c) => `${c.n} ${c.what}`).join(', '), failures);
}

const ms = (iso: string | undefined): number => (iso === undefined ? NaN : Date.parse(iso));
const at = (time: number): string => new Date(time).toISOString();

/** The runs users were answered 2xx for, once each (a replay repeats its first answer). */
export function acknowledgedRuns(runs: readonly RunAttempt[]): RunAttempt[] {
  const seen = new Map<string, RunAttempt>();
  for (const attempt of runs) if (attempt.run && !seen.has(attempt.run.id)) seen.set(attempt.run.id, attempt);
  return [...seen.values()];
}

interface RunSpan {
  id: string;
  token: number;
  start: number;
  end: number;
}

/**
 * No crew ran twice at once. Per crew of a company, the runs of this soak (every run in its
 * history with a fencing token, and every run a user was answered 2xx for) ordered by fencing
 * token: no two share a token, and each ended before the next one started. And the agents' work:
 * no agent step of an older run completed after a step of a newer run of the crew had started.
 */
export function checkCrewExclusive(runs: readonly RunAttempt[], history: AuditReport['history'], tasks: AuditReport['tasks'], since: number): CheckResult {
  const failures: string[] = [];
  const spans = new Map<string, Map<string, RunSpan>>();
  const add = (crew: string, span: RunSpan, from: string): void => {
    const byId = spans.get(crew) ?? new Map<string, RunSpan>();
    spans.set(crew, byId);
    const known = byId.get(span.id);
    if (known && (known.token !== span.token || known.start !== span.start || known.end !== span.end)) {
      failures.push(`${crew}: run ${span.id} is token ${known.token} ${at(known.start)}..${at(known.end)} in one place and token ${span.token} ${at(span.start)}..${at(span.end)} in ${from}`);
    }
    byId.set(span.id, span);
  };
  for (const [crew, records] of history) {
    for (const r of records) {
      if (r.fencingToken === undefined || ms(r.startedAt) < since) continue;
      add(crew, { id: r.id, token: r.fencingToken, start: ms(r.startedAt), end: ms(r.finishedAt) }, 'the history');
    }
  }
  for (const attempt of acknowledgedRuns(runs)) {
    const run = attempt.run!;
    add(`${attempt.companyId}/${attempt.crewId}`, { id: run.id, token: run.fencingToken, start: ms(run.startedAt), end: ms(run.finishedAt) }, 'its 2xx answer');
  }
  let compared = 0;
  for (const [crew, byId] of spans) {
    const ordered = [...byId.values()].sort((a, b) => a.token - b.token);
    for (let i = 1; i < ordered.length; i++) {
      const [before, after] = [ordered[i - 1], ordered[i]];
      compared++;
      if (before.token === after.token) failures.push(`${crew}: runs ${before.id} and ${after.id} both hold fencing token ${after.token}`);
      else if (before.end > after.start) {
        failures.push(`${crew}: run ${before.id} (token ${before.token}, ${at(before.start)}..${at(before.end)}) overlaps run ${after.id} (token ${after.token}, started ${at(after.start)})`);
      }
    }
  }
  const steps = checkStepsExclusive(tasks);
  failures.push(...steps.failures);
  const crews = [...spans.values()].reduce((n, byId) => n + byId.size, 0);
  return result('no crew ran twice at once', `${crews} runs of ${spans.size} crews, ${compared} successive pairs ordered by fencing token; ${steps.compared} agent steps compared`, failures, {
    'successive crew run pairs compared': compared, 'agent steps compared': steps.compared,
  });
}

function checkStepsExclusive(tasks: AuditReport['tasks']): { compared: number; failures: string[] } {
  const failures: string[] = [];
  let compared = 0;
  for (const [companyId, listed] of tasks) {
    const byCrew = new Map<string, ListedTask[]>();
    for (const task of listed) byCrew.set(task.payload.crewId, [...(byCrew.get(task.payload.crewId) ?? []), task]);
    for (const [crewId, crewTasks] of byCrew) {
      for (const done of crewTasks.filter((t) => t.state === 'completed')) {
        compared++;
        const finished = ms(done.finishedAt);
        const newer = crewTasks.find((t) => t.payload.fencingToken > done.payload.fencingToken && ms(t.startedAt) < finished);
        if (newer) {
          failures.push(`${companyId}/${crewId}: step ${done.id} of run ${done.payload.runId} (token ${done.payload.fencingToken}) completed at ${done.finishedAt}, after step ${newer.id} of newer run ${newer.payload.runId} (token ${newer.payload.fencingToken}) started at ${newer.startedAt}`);
        }
      }
    }
  }
  return { compared, failures };
}

/**
 * No acknowledged run lost: every run a user was answered 2xx for is in its crew's history (built
 * from the durable `crew-events` stream by the fleet's consumer group) with the status and fencing
 * token it was answered with, or in the stream's dead letters (as documented, for writes that kept failing).
 */
export function checkRunsRecorded(runs: readonly RunAttempt[], audit: Pick<AuditReport, 'history' | 'deadLetters'>): CheckResult {
  const failures: string[] = [];
  const acknowledged = acknowledgedRuns(runs);
  let deadLettered = 0;
  let recordedRuns = 0;
  for (const attempt of acknowledged) {
    const run = attempt.run!;
    const recorded: CrewRun | undefined = audit.history.get(`${attempt.companyId}/${attempt.crewId}`)?.find((r) => r.id === run.id);
    if (!recorded) {
      if (audit.deadLetters.get(attempt.companyId)?.has(run.id)) deadLettered++;
      else failures.push(`${attempt.companyId}/${attempt.crewId}: run ${run.id} (answered ${attempt.status} to ${attempt.userId} by ${attempt.instance} at ${at(attempt.answeredAt ?? attempt.sentAt)}) is in neither the history nor the dead letters`);
      continue;
    }
    recordedRuns++;
    if (recorded.status !== run.status || recorded.fencingToken !== run.fencingToken) {
      failures.push(`${attempt.companyId}/${attempt.crewId}: run ${run.id} was answered ${run.status} with token ${run.fencingToken}, the history says ${recorded.status} with token ${recorded.fencingToken}`);
    }
  }
  return result('no acknowledged run (stream entry) lost', `${acknowledged.length} runs answered 2xx: ${recordedRuns} in the history, ${deadLettered} dead-lettered`, failures);
}

/**
 * No acknowledged task lost, none stuck: every agent step a 2xx run answer listed is still in the
 * company's queue in the state it was answered with (checkable while it is among the newest 100
 * that `GET /tasks` lists), and no task of the queue has waited or run longer than
 * TASK_RECOVERY_BOUND_MS (a task whose worker was killed is taken up again within it).
 */
export function checkTasks(runs: readonly RunAttempt[], tasks: AuditReport['tasks'], readAt: number): CheckResult {
  const failures: string[] = [];
  let checked = 0;
  let beyond = 0;
  for (const attempt of acknowledgedRuns(runs)) {
    const listed = tasks.get(attempt.companyId) ?? [];
    const oldestListed = Math.min(...listed.map((t) => ms(t.enqueuedAt)));
    for (const step of attempt.run!.steps ?? []) {
      const found = listed.find((t) => t.id === step.taskId);
      if (!found) {
        if (listed.length >= 100 && ms(attempt.run!.startedAt) < oldestListed) beyond++;
        else failures.push(`${attempt.companyId}: task ${step.taskId} (step of run ${attempt.run!.id}, answered ${step.state}) is not in the queue`);
        continue;
      }
      checked++;
      if (found.state !== step.state) failures.push(`${attempt.companyId}: task ${step.taskId} was answered ${step.state}, the queue says ${found.state}`);
    }
  }
  const all = [...tasks.values()].flat();
  const busy = all.filter((t) => t.state !== 'completed' && t.state !== 'failed');
  for (const task of busy) {
    const age = taskAge(task, readAt);
    if (age > TASK_RECOVERY_BOUND_MS) failures.push(`${task.tenant ?? '?'}: task ${task.id} has been ${task.state} for ${Math.round(age / 1000)} s`);
  }
  const superseded = all.filter((t) => t.state === 'failed' && t.failedReason?.startsWith('superseded')).length;
  return result(
    'no acknowledged task lost or stuck',
    `${checked} steps of acknowledged runs found in the state answered${beyond > 0 ? ` (${beyond} older than the newest 100 listed, not checkable)` : ''}; ` +
      `${all.length} tasks listed, ${all.length - busy.length} ended (${superseded} superseded by a newer run), ${busy.length} still waiting or running within ${TASK_RECOVERY_BOUND_MS / 1000} s`,
    failures,
    { 'steps of acknowledged runs checked': checked },
  );
}

/** Idempotency: every 2xx answer to one `Idempotency-Key` is the same run, byte for byte (a replay is the first answer). */
export function checkIdempotency(runs: readonly RunAttempt[]): CheckResult {
  const failures: string[] = [];
  const byKey = new Map<string, RunAttempt[]>();
  for (const attempt of runs) if (attempt.run) byKey.set(attempt.key, [...(byKey.get(attempt.key) ?? []), attempt]);
  let replays = 0;
  for (const [key, answers] of byKey) {
    replays += answers.filter((a) => a.replayed).length;
    const ids = new Set(answers.map((a) => a.run!.id));
    if (ids.size > 1) failures.push(`key ${key}: answered as ${ids.size} different runs (${[...ids].join(', ')})`);
    else if (new Set(answers.map((a) => a.text)).size > 1) failures.push(`key ${key}: a replay differs from the first answer`);
  }
  const retried = new Set(runs.filter((a) => runs.some((b) => b !== a && b.key === a.key)).map((a) => a.key)).size;
  return result('idempotency: one run per key', `${byKey.size} keys answered 2xx (${replays} replays), ${retried} keys retried`, failures);
}

/**
 * No acknowledged session lost: every session whose login was answered 201 and that was not
 * logged out still authenticates at the end (`GET /sessions` 200), none was refused 401 or
 * missing from its user's list while live. None can have expired: they idle out after 8 hours,
 * and each user's live sessions are kept under the 10 per user whose 11th login ends the oldest.
 */
export function checkSessions(audit: AuditReport['sessions'], refusals: readonly SessionRefusal[], logins: number): CheckResult {
  const failures = [
    ...audit.filter((s) => s.status !== 200).map((s) => `session ${s.handle} of ${s.userId}: GET /sessions answered ${s.status} on ${s.instance} at the end`),
    ...refusals.map((r) => `session ${r.handle} of ${r.userId}, live: ${r.path} on ${r.instance} at ${at(r.at)}: ${r.body}`),
  ];
  return result('no acknowledged session lost', `${logins} logins answered 201; ${audit.length} sessions live at the end, all checked on the fleet`, failures, { 'live sessions checked': audit.length });
}

/**
 * Crew edits (cache invalidation): a read of the crew right after an edit was answered, on the
 * instance that answered it, shows the edit; at the end every instance shows each crew's last
 * acknowledged name (or that of a later edit whose answer was lost, which may have been applied).
 */
export function checkEdits(edits: readonly EditRecord[], staleReads: readonly StaleRead[], names: AuditReport['crewNames'], seedNames: ReadonlyMap<string, string>): CheckResult {
  const failures = staleReads.map((s) => `${s.companyId}/${s.crewId}: right after its edit to "${s.expected}" ${s.instance} showed "${s.got}"${s.xCache ? ` (X-Cache: ${s.xCache})` : ''} at ${at(s.at)}`);
  for (const read of names) {
    const crew = `${read.companyId}/${read.crewId}`;
    const mine = edits.filter((e) => `${e.companyId}/${e.crewId}` === crew);
    const lastAcked = mine.filter((e) => typeof e.status === 'number' && e.status < 300).at(-1);
    const maybe = mine.filter((e) => e.sentAt >= (lastAcked?.sentAt ?? 0) && (typeof e.status !== 'number' || e.status >= 500)).map((e) => e.name);
    const allowed = new Set([lastAcked?.name ?? seedNames.get(crew), ...maybe]);
    if (read.status !== 200) failures.push(`${crew}: ${read.route} on ${read.instance} answered ${read.status} at the end`);
    else if (!allowed.has(read.name)) failures.push(`${crew}: ${read.route} on ${read.instance} shows "${read.name}" at the end, the last acknowledged edit set "${lastAcked?.name}"`);
  }
  const acked = edits.filter((e) => typeof e.status === 'number' && e.status < 300).length;
  return result('crew edits seen (cache invalidated)', `${acked} edits answered 200, each read back on its instance; ${names.length} reads at the end`, failures);
}

/** The exact sliding-window policies the soak can count from the client side: limit per window. */
export const EXACT_POLICIES: Readonly<Record<string, { limit: number; windowMs: number }>> = {
  'login-ip': { limit: 20, windowMs: 60_000 },
  'crew-run-user': { limit: 5, windowMs: 60_000 },
};

/**
 * Rate limits (exact sliding window): of the requests the shared limiter admitted for one counter,
 * no `limit + 1` fall surely within one window (the last answered less than `windowMs` after the
 * first was sent). Admissions a local fallback answered (`src=` in `RateLimit-Policy`, while Redis
 * did not answer in time) are left out: the fallback is documented to be approximate.
 */
export function checkRateLimits(admissions: readonly Admission[]): CheckResult {
  const failures: string[] = [];
  const groups = new Map<string, Admission[]>();
  for (const a of admissions) if (a.shared) groups.set(`${a.policy} ${a.subject}`, [...(groups.get(`${a.policy} ${a.subject}`) ?? []), a]);
  for (const [group, list] of groups) {
    const policy = EXACT_POLICIES[list[0].policy];
    if (!policy) continue;
    list.sort((a, b) => a.sentAt - b.sentAt);
    for (let i = 0; i + policy.limit < list.length; i++) {
      const [first, last] = [list[i], list[i + policy.limit]];
      if (last.answeredAt - first.sentAt < policy.windowMs) {
        failures.push(`${group}: ${policy.limit + 1} admissions between ${at(first.sentAt)} and ${at(last.answeredAt)}, within one ${policy.windowMs} ms window`);
        break;
      }
    }
  }
  const local = admissions.filter((a) => !a.shared).length;
  return result('rate limits: exact windows never exceeded', `${admissions.length - local} admissions by the shared limiter over ${groups.size} counters (${local} by the local fallback, not counted)`, failures, {
    'shared-limiter admissions': admissions.length - local,
  });
}

/** The lowest sample in [from, to]. */
function lowestKb(samples: ReadonlyArray<[number, number]>, from: number, to: number): number | undefined {
  let lowest: number | undefined;
  for (const [t, kb] of samples) if (t >= from && t <= to && (lowest === undefined || kb < lowest)) lowest = kb;
  return lowest;
}

/** How the RSS rule measures an incarnation: warm-up, then windows, from the start of the load. */
export interface RssRule {
  warmUpMs: number;
  windowMs: number;
  loadStartedAt: number;
}

/** When an incarnation's measured span starts (its first health check answered or the load's start) and ends (its last sample). */
function rssSpan(inc: Incarnation, loadStartedAt: number): { start: number; end: number | undefined } {
  return { start: Math.max(inc.readyAt ?? Infinity, loadStartedAt), end: inc.rss.at(-1)?.[0] };
}

/**
 * Whether an incarnation was sampled long enough for the RSS rule (warm-up + 2 windows under load).
 * The chaos kills an instance only once one of its incarnations is: each instance name gets measured.
 */
export function rssMeasurable(inc: Incarnation, rule: RssRule): boolean {
  const { start, end } = rssSpan(inc, rule.loadStartedAt);
  return end !== undefined && end - start >= rule.warmUpMs + 2 * rule.windowMs;
}

/** One incarnation's RSS levels: after warm-up and at its end, in kB. */
export interface RssLevel {
  instance: string;
  pid: number;
  /** From its first health check answered (or the start of the load) to its last sample. */
  livedMs: number;
  baselineKb: number;
  finalKb: number;
  change: number;
}

/**
 * RSS of every instance within 20 % of its level after warm-up. Rule: an incarnation (one process)
 * warms up from when it first answered its health check or the load started, whichever is later,
 * for `warmUpMs`; its level after warm-up is the lowest VmRSS of the `windowMs` that follow, its
 * final level the lowest of its last `windowMs` (before it was killed, or at the end of the soak, the
 * read-back included); the final level must not exceed the level after warm-up by more than 20 %.
 * Only incarnations sampled for warm-up + 2 windows are measured. The lowest, not a mean:
 * V8 lets the heap grow between two major collections (RSS climbs for a minute or more under the
 * soak's load, then drops by 20-30 %), so the low points are what the process keeps and the
 * peaks garbage not collected yet. Growth only: a drop is what a collection does, not a leak.
 * Incarnations killed sooner are left out (and counted); every instance name (`rule.instances`, or
 * those of the incarnations) must have one measured incarnation (the chaos kills an instance only
 * once one of its incarnations qualifies), else that name fails.
 */
export function checkRss(incarnations: readonly Incarnation[], rule: RssRule & { instances?: readonly string[] }): { check: CheckResult; levels: RssLevel[] } {
  const { warmUpMs, windowMs } = rule;
  const failures: string[] = [];
  const levels: RssLevel[] = [];
  let tooShort = 0;
  for (const inc of incarnations) {
    const { start, end } = rssSpan(inc, rule.loadStartedAt);
    if (end === undefined || !rssMeasurable(inc, rule)) {
      tooShort++;
      continue;
    }
    const from = start + warmUpMs;
    const baselineKb = lowestKb(inc.rss, from, from + windowMs);
    const finalKb = lowestKb(inc.rss, end - windowMs, end);
    if (baselineKb === undefined || finalKb === undefined) {
      failures.push(`${inc.instance} (pid ${inc.pid}): no RSS samples in its windows`);
      continue;
    }
    const change = (finalKb - baselineKb) / baselineKb;
    levels.push({ instance: inc.instance, pid: inc.pid, livedMs: end - start, baselineKb, finalKb, change });
    if (change > RSS_TOLERANCE) {
      failures.push(`${inc.instance} (pid ${inc.pid}): RSS ${Math.round(baselineKb / 1024)} MiB after warm-up, ${Math.round(finalKb / 1024)} MiB at the end (+${(change * 100).toFixed(1)} %)`);
    }
  }
  const names = rule.instances ?? [...new Set(incarnations.map((i) => i.instance))];
  for (const name of names) {
    if (!levels.some((l) => l.instance === name) && !failures.some((f) => f.startsWith(`${name} `))) {
      failures.push(`${name}: no incarnation was sampled for ${(warmUpMs + 2 * windowMs) / 1000} s under load (not measured)`);
    }
  }
  if (names.length === 0) failures.push('no instance was sampled');
  const summary = `${levels.length} incarnations measured (${tooShort} lived too short): ${levels.map((l) => `${l.instance} ${l.change >= 0 ? '+' : ''}${(l.change * 100).toFixed(1)} %`).join(', ')}`;
  return { check: result('RSS within 20 % of its level after warm-up', summary, failures), levels };
}

/** The fleet itself: no instance ended on its own (a crash), and every restart after a kill booted. */
export function checkInstances(incarnations: readonly Incarnation[], chaos: readonly ChaosEvent[]): CheckResult {
  const failures = [
    ...incarnations.filter((i) => i.endedBy === 'exit').map((i) => `${i.instance} (pid ${i.pid}) exited on its own with code ${i.exitCode} at ${at(i.endedAt ?? 0)}`),
    ...chaos.filter((e) => e.error !== undefined).map((e) => `${e.instance}: restart after the kill at ${at(e.at)} failed: ${e.error}`),
  ];
  const kills = chaos.filter((e) => e.kind === 'kill').length;
  const pauses = chaos.filter((e) => e.kind === 'redis-pause').length;
  return result('instances: no crash, every restart booted', `${incarnations.length} processes, ${kills} killed and restarted, ${pauses} Redis pauses`, failures, { kills, 'Redis pauses': pauses });
}

/** No 500 outside crew runs (where the demo documents one: a run ended by an error). */
export function checkServerErrors(errors: ReadonlyArray<{ route: string; instance: string; at: number; body: string }>): CheckResult {
  return result('no 500 answers (outside crew runs)', `${errors.length} answers 500`, errors.map((e) => `${e.route} on ${e.instance} at ${at(e.at)}: ${e.body}`));
}
