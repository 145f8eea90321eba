import { setTimeout as sleep } from 'node:timers/promises';
import type { CrewRun } from '../../apps/demo/src/crews/crew.model.js';
import type { DemoInstance } from './soak-fleet.js';
import { headerOf, jsonOf, send } from './soak-http.js';
import type { SoakLedger } from './soak-ledger.js';

/** A task as `GET /tasks` lists it (the fields the checks read). */
export interface ListedTask {
  id: string;
  state: string;
  tenant?: string;
  payload: { runId: string; crewId: string; fencingToken: number; agentId: string };
  enqueuedAt: string;
  runAt?: string;
  startedAt?: string;
  finishedAt?: string;
  failedReason?: string;
}

/** What the fleet shows once the load has stopped and it has settled: read back over HTTP, as a user would. */
export interface AuditReport {
  /** Run history per `<company>/<crew>`, every page. */
  history: Map<string, CrewRun[]>;
  /** Run ids found in the dead letters of the history's consumer group, per company. */
  deadLetters: Map<string, Set<string>>;
  /** The newest tasks of each company (`GET /tasks?limit=100`). */
  tasks: Map<string, ListedTask[]>;
  /** When `tasks` was read. */
  tasksReadAt: number;
  /** Per live acknowledged session: the status `GET /sessions` answered with it (or `unknown`). */
  sessions: Array<{ userId: string; handle: string; status: number | string; instance: string }>;
  /** Per edited crew and instance: the name `GET /crews/:crewId` and `GET /crews` show. */
  crewNames: Array<{ companyId: string; crewId: string; instance: string; route: string; name?: string; status: number | string }>;
  /** How long the fleet took to settle (history caught up, no task waiting or running), or the bound if it did not. */
  settleMs: number;
  settled: boolean;
}

/** The client address of the audit's own requests: its own rate-limit counters. */
const AUDIT_ADDRESS = '127.0.0.250';

/** Who reads each company's data: its owner (or only user), through the `x-user-id` stand-in. */
export interface AuditReader {
  userId: string;
  companyId: string;
  crews: readonly string[];
}

/**
 * How long a task may wait or run before it counts as stuck: the demo's `tasks.lockDurationMs`
 * (30 s: a task whose worker died is taken up again once its lock expires) plus
 * `tasks.stalledIntervalMs` (30 s: how often the queue looks for such tasks), plus 10 s for a step's
 * work and its retries' backoff. Measured from its last start (`active`), else from when it could
 * run (`waiting`, `delayed`).
 */
export const TASK_RECOVERY_BOUND_MS = 70_000;

/** How long a task has waited or run in its current state, at `now`. */
export function taskAge(task: ListedTask, now: number): number {
  const since = task.state === 'active' ? Date.parse(task.startedAt ?? task.enqueuedAt) : Math.max(Date.parse(task.enqueuedAt), Date.parse(task.runAt ?? task.enqueuedAt));
  return now - since;
}

/**
 * Reads back what the fleet kept, once the load has stopped: waits (until `deadline`) for every run
 * a user was answered 2xx for to show in the history and for every task of the queue to end (a task
 * whose worker was killed is taken up again within TASK_RECOVERY_BOUND_MS), then reads the history,
 * dead letters, tasks, the sessions and the edited crews on every instance. Tasks still waiting or
 * running at the deadline are judged by the checks against the bound.
 */
export async function auditFleet(instances: readonly DemoInstance[], readers: readonly AuditReader[], ledger: SoakLedger, deadline: number): Promise<AuditReport> {
  const started = Date.now();
  const expectedRuns = new Set(ledger.runs.flatMap((r) => (r.run ? [`${r.companyId}/${r.crewId}/${r.run.id}`] : [])));
  let history = new Map<string, CrewRun[]>();
  let tasks = new Map<string, ListedTask[]>();
  let settled = false;
  let readAt = started;
  for (;;) {
    readAt = Date.now();
    history = await readHistory(instances, readers);
    tasks = await readTasks(instances, readers);
    const recorded = new Set([...history].flatMap(([crew, runs]) => runs.map((r) => `${crew}/${r.id}`)));
    const missing = [...expectedRuns].filter((id) => !recorded.has(id));
    const busy = [...tasks.values()].flat().filter((t) => t.state !== 'completed' && t.state !== 'failed');
    if (missing.length === 0 && busy.length === 0) {
      settled = true;
      break;
    }
    if (Date.now() > deadline) break;
    await sleep(1_000);
  }
  const settleMs = Date.now() - started;
  const deadLetters = await readDeadLetters(instances, readers);
  const sessions = await checkSessions(instances, ledger);
  const crewNames = await readCrewNames(instances, readers, ledger);
  return { history, deadLetters, tasks, tasksReadAt: readAt, sessions, crewNames, settleMs, settled };
}

async function getJson(instances: readonly DemoInstance[], reader: AuditReader, path: string): Promise<{ body: unknown; next?: string }> {
  for (let attempt = 1; ; attempt++) {
    const instance = instances[(attempt - 1) % instances.length];
    const outcome = await send({
      port: instance.port, method: 'GET', path, localAddress: AUDIT_ADDRESS, timeoutMs: 15_000,
      headers: { 'x-user-id': reader.userId, 'x-company-id': reader.companyId },
    });
    if (outcome.kind === 'answered' && outcome.answer.status === 200) {
      const next = headerOf(outcome.answer, 'x-next-cursor');
      return { body: jsonOf(outcome.answer), ...(next === undefined ? {} : { next }) };
    }
    if (attempt >= 6) {
      const why = outcome.kind === 'answered' ? `${outcome.answer.status} ${outcome.answer.text.slice(0, 200)}` : `${outcome.kind} ${outcome.error}`;
      throw new Error(`the audit could not read ${path} as ${reader.userId}: ${why}`);
    }
    await sleep(500);
  }
}

async function readHistory(instances: readonly DemoInstance[], readers: readonly AuditReader[]): Promise<Map<string, CrewRun[]>> {
  const history = new Map<string, CrewRun[]>();
  for (const reader of readers) {
    for (const crewId of reader.crews) {
      const runs: CrewRun[] = [];
      let cursor: string | undefined;
      do {
        const page = await getJson(instances, reader, `/crews/${crewId}/runs?limit=100${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
        runs.push(...(page.body as CrewRun[]));
        cursor = page.next;
      } while (cursor !== undefined);
      history.set(`${reader.companyId}/${crewId}`, runs);
    }
  }
  return history;
}

async function readTasks(instances: readonly DemoInstance[], readers: readonly AuditReader[]): Promise<Map<string, ListedTask[]>> {
  const tasks = new Map<string, ListedTask[]>();
  for (const reader of readers) {
    const { body } = await getJson(instances, reader, '/tasks?limit=100');
    tasks.set(reader.companyId, (body as { queues: Array<{ recent: ListedTask[] }> }).queues.flatMap((q) => q.recent));
  }
  return tasks;
}

/** Run ids of the dead letters of the history group (owners only: readers who are not get 403, and none are read). */
async function readDeadLetters(instances: readonly DemoInstance[], readers: readonly AuditReader[]): Promise<Map<string, Set<string>>> {
  const dead = new Map<string, Set<string>>();
  for (const reader of readers) {
    const ids = new Set<string>();
    try {
      const { body } = await getJson(instances, reader, '/crews/runs/dead-letters?limit=100');
      for (const letter of body as Array<{ payload?: { runId?: string } }>) {
        if (letter.payload?.runId !== undefined) ids.add(letter.payload.runId);
      }
    } catch {
      // not an owner: its dead letters cannot be read over HTTP
    }
    dead.set(reader.companyId, ids);
  }
  return dead;
}

/** Every session answered 201 and not logged out must still authenticate: `GET /sessions` with it, on a random instance. */
async function checkSessions(instances: readonly DemoInstance[], ledger: SoakLedger): Promise<AuditReport['sessions']> {
  const results: AuditReport['sessions'] = [];
  let i = 0;
  for (const session of ledger.sessions.filter((s) => s.state === 'live')) {
    const instance = instances[i++ % instances.length];
    const outcome = await send({
      port: instance.port, method: 'GET', path: '/sessions', localAddress: AUDIT_ADDRESS, timeoutMs: 15_000, headers: { authorization: `Bearer ${session.token}` },
    });
    results.push({ userId: session.userId, handle: session.handle, instance: instance.name, status: outcome.kind === 'answered' ? outcome.answer.status : outcome.kind });
  }
  return results;
}

async function readCrewNames(instances: readonly DemoInstance[], readers: readonly AuditReader[], ledger: SoakLedger): Promise<AuditReport['crewNames']> {
  const names: AuditReport['crewNames'] = [];
  const edited = new Set(ledger.edits.map((e) => `${e.companyId}/${e.crewId}`));
  for (const key of edited) {
    const [companyId, crewId] = key.split('/');
    const reader = readers.find((r) => r.companyId === companyId);
    if (!reader) continue;
    for (const instance of instances) {
      for (const route of ['GET /crews/:crewId', 'GET /crews']) {
        const outcome = await send({
          port: instance.port, method: 'GET', path: route === 'GET /crews' ? '/crews' : `/crews/${crewId}`, localAddress: AUDIT_ADDRESS, timeoutMs: 15_000,
          headers: { 'x-user-id': reader.userId, 'x-company-id': companyId },
        });
        let name: string | undefined;
        if (outcome.kind === 'answered' && outcome.answer.status === 200) {
          const body = jsonOf(outcome.answer) as { name: string } | Array<{ id: string; name: string }>;
          name = Array.isArray(body) ? body.find((c) => c.id === crewId)?.name : body.name;
        }
        names.push({ companyId, crewId, instance: instance.name, route, status: outcome.kind === 'answered' ? outcome.answer.status : outcome.kind, ...(name === undefined ? {} : { name }) });
      }
    }
  }
  return names;
}
