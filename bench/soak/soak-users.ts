import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Crew } from '../../apps/demo/src/crews/crew.model.js';
import type { Caller, FleetClient } from './soak-client.js';
import { headerOf, jsonOf, type Answer } from './soak-http.js';
import type { RunAttempt, SessionRecord, SoakLedger } from './soak-ledger.js';
import type { Random } from './soak-options.js';

/** A seeded user of the demo as the soak drives it. */
export interface SoakUser {
  id: string;
  companyId: string;
  role: 'owner' | 'operator' | 'viewer';
  /** The user's own client address, 127.0.0.x. */
  address: string;
  crews: readonly Crew[];
}

/**
 * Sessions a user may have, counting those the soak is unsure of, before a login: under the
 * demo's 10 per user (`SESSIONS_PER_USER`), so that no login ends an acknowledged session
 * (the 11th login of a user ends their oldest, as documented).
 */
const SESSION_BUDGET = 8;

/** Attempts of one crew run (the first and its retries with the same `Idempotency-Key`). */
const RUN_ATTEMPTS = 4;

/** What every flow shares. */
export interface FlowContext {
  client: FleetClient;
  ledger: SoakLedger;
  rng: Random;
  /** Aborts when the load phase ends: no flow starts anything after it. */
  signal: AbortSignal;
}

/**
 * The flows of one user, each a loop until the load phase ends, run side by side as a person with
 * browser tabs and a script would: `sessions` logs in and out (one at a time, so the soak always
 * knows which sessions are live), `runs` starts crew runs with an `Idempotency-Key` and retries
 * them, `browse` reads and calls everything else, `watch` follows an event stream, and `edits`
 * (one user per company) renames crews.
 */
export class UserFlows {
  constructor(private readonly user: SoakUser, private readonly ctx: FlowContext) {}

  /** A caller with one of the user's live sessions, or with the header stand-in when none is live. */
  private caller(): Caller {
    const live = this.ctx.ledger.liveSessions(this.user.id);
    const base = { userId: this.user.id, companyId: this.user.companyId, address: this.user.address };
    return live.length === 0 ? base : { ...base, session: this.ctx.rng.pick(live) };
  }

  async sessions(): Promise<void> {
    const { ledger, rng } = this.ctx;
    while (await this.pause(1_000, 2_500)) {
      const live = ledger.liveSessions(this.user.id);
      const full = live.length + ledger.doubtfulSessions(this.user.id) >= SESSION_BUDGET;
      if (live.length === 0) await this.login();
      else if (full) await (ledger.doubtfulSessions(this.user.id) > 2 ? this.logoutEverywhere(rng.pick(live)) : this.logout(live[0]));
      else {
        const r = rng.next();
        if (r < 0.5) await this.login();
        else if (r < 0.8) await this.logout(rng.pick(live));
        else if (r < 0.84 && live.length >= 3) await this.logoutEverywhere(rng.pick(live));
        else await this.listSessions(rng.pick(live));
      }
    }
  }

  private async login(): Promise<void> {
    const caller = { userId: this.user.id, companyId: this.user.companyId, address: this.user.address };
    const { outcome } = await this.ctx.client.call(caller, {
      route: 'POST /auth/login', method: 'POST', path: '/auth/login?token=true', body: { userId: this.user.id, companyId: this.user.companyId },
    });
    if (outcome.kind === 'answered') this.admitted('login-ip', this.user.address, outcome.answer);
    if (outcome.kind === 'answered' && isOk(outcome.answer)) {
      const body = jsonOf(outcome.answer) as { token: string; handle: string };
      this.ctx.ledger.sessions.push({
        userId: this.user.id, companyId: this.user.companyId, token: body.token, handle: body.handle, loggedInAt: outcome.answer.answeredAt, state: 'live',
      });
    } else if (outcome.kind === 'unknown' || (outcome.kind === 'answered' && outcome.answer.status >= 500)) {
      // A session may have been created (a write that timed out can still land): it may count towards the limit.
      this.ctx.ledger.addUnknownLogin(this.user.id);
    }
  }

  private async logout(session: SessionRecord): Promise<void> {
    session.state = 'ending';
    const { outcome } = await this.ctx.client.call({ ...this.base(), session }, { route: 'POST /auth/logout', method: 'POST', path: '/auth/logout' });
    session.state = outcome.kind === 'answered' && isOk(outcome.answer) ? 'ended' : 'uncertain';
  }

  private async logoutEverywhere(session: SessionRecord): Promise<void> {
    const live = this.ctx.ledger.liveSessions(this.user.id);
    for (const s of live) s.state = 'ending';
    const { outcome } = await this.ctx.client.call({ ...this.base(), session }, {
      route: 'POST /auth/logout-everywhere', method: 'POST', path: '/auth/logout-everywhere',
    });
    if (outcome.kind === 'answered' && isOk(outcome.answer)) this.ctx.ledger.endedEverywhere(this.user.id);
    else if (outcome.kind === 'answered' && outcome.answer.status < 500) for (const s of live) s.state = 'live'; // refused before acting (a 429)
    else for (const s of live) s.state = 'uncertain';
  }

  /** `GET /sessions` lists every live session of the user, the caller's marked current. */
  private async listSessions(session: SessionRecord): Promise<void> {
    const { outcome, instance } = await this.ctx.client.call({ ...this.base(), session }, { route: 'GET /sessions', method: 'GET', path: '/sessions' });
    if (outcome.kind !== 'answered' || outcome.answer.status !== 200) return;
    const listed = jsonOf(outcome.answer) as Array<{ handle: string; current: boolean }>;
    const handles = new Set(listed.map((s) => s.handle));
    for (const live of this.ctx.ledger.liveSessions(this.user.id)) {
      if (handles.has(live.handle)) continue;
      this.ctx.ledger.sessionRefusals.push({
        userId: this.user.id, handle: live.handle, instance: instance.name, path: 'GET /sessions (not listed)', at: outcome.answer.answeredAt, body: outcome.answer.text.slice(0, 300),
      });
    }
  }

  async runs(): Promise<void> {
    const { rng } = this.ctx;
    while (await this.pause(3_000, 8_000)) {
      const crew = rng.pick(this.user.crews);
      const durationMs = rng.int(100, 1_500);
      const r = rng.next();
      const failures = r < 0.7 ? 0 : r < 0.9 ? 1 : r < 0.97 ? 2 : 3;
      await this.runCrew(crew, durationMs, failures);
    }
  }

  /**
   * One crew run, retried with its `Idempotency-Key` as a careful client does: after a broken
   * connection or a 5xx (nothing stored: a retry runs it), and after 409 `E_IDEMPOTENCY_IN_FLIGHT`
   * (the first attempt still runs, or its instance died and its lease has not run out). Now and
   * then the user double-clicks (a duplicate sent 100 ms after the first, which waits for the
   * first's answer) or sends it again once answered (a replay).
   */
  private async runCrew(crew: Crew, durationMs: number, failures: number): Promise<void> {
    const { rng } = this.ctx;
    const request = { crewId: crew.id, key: randomUUID(), path: `/crews/${crew.id}/runs?durationMs=${durationMs}&failures=${failures}`, timeoutMs: 60_000 + durationMs * (failures + 1) };
    const duplicate = rng.chance(0.1) ? sleep(100).then(() => this.attemptRun(request)) : undefined;
    for (let attempt = 1; attempt <= RUN_ATTEMPTS; attempt++) {
      const { record, answer } = await this.attemptRun(request);
      // Once the load phase has ended, an attempt in flight is awaited but not retried.
      const retry = attempt < RUN_ATTEMPTS && !this.ctx.signal.aborted;
      if (answer && isOk(answer)) {
        if (retry && rng.chance(0.15)) await this.attemptRun(request);
        break;
      }
      if (!retry) break;
      if (answer === undefined) {
        if (record.status === 'unknown') await sleep(1_000);
      } else if (answer.status === 409 && record.code === 'E_IDEMPOTENCY_IN_FLIGHT') {
        const retryAfter = Number(headerOf(answer, 'retry-after') ?? '1');
        await sleep(Math.min(5_000, Math.max(500, retryAfter * 1_000)));
      } else if (answer.status >= 500) {
        await sleep(1_000);
      } else {
        break; // 409 (lock held, refused), 429, 4xx: the user gives up on this one
      }
    }
    await duplicate;
  }

  /** Sends one attempt of a crew run and notes it in the ledger. */
  private async attemptRun(request: { crewId: string; key: string; path: string; timeoutMs: number }): Promise<{ record: RunAttempt; answer?: Answer }> {
    const { outcome, instance } = await this.ctx.client.call(this.caller(), {
      route: 'POST /crews/:crewId/runs', method: 'POST', path: request.path, headers: { 'idempotency-key': request.key }, timeoutMs: request.timeoutMs,
    });
    const record: RunAttempt = {
      userId: this.user.id, companyId: this.user.companyId, crewId: request.crewId, key: request.key, instance: instance.name, replayed: false,
      sentAt: outcome.kind === 'answered' ? outcome.answer.sentAt : outcome.sentAt,
      status: outcome.kind === 'answered' ? outcome.answer.status : outcome.kind,
    };
    this.ctx.ledger.runs.push(record);
    if (outcome.kind !== 'answered') return { record };
    const answer = outcome.answer;
    record.answeredAt = answer.answeredAt;
    record.replayed = headerOf(answer, 'idempotent-replayed') === 'true';
    this.admitted('crew-run-user', this.user.id, answer);
    const body = jsonOf(answer) as Record<string, unknown> | undefined;
    if (isOk(answer)) {
      record.text = answer.text;
      record.run = body as unknown as RunAttempt['run'];
    } else {
      record.code = typeof body?.code === 'string' ? body.code : typeof body?.outcome === 'string' ? body.outcome : undefined;
    }
    return { record, answer };
  }

  async browse(): Promise<void> {
    const { rng, client } = this.ctx;
    while (await this.pause(150, 700)) {
      const crew = rng.pick(this.user.crews);
      const agent = rng.pick(crew.agents);
      const r = rng.next();
      const call =
        r < 0.14 ? { route: 'GET /crews', method: 'GET' as const, path: '/crews' }
        : r < 0.30 ? { route: 'GET /crews/:crewId', method: 'GET' as const, path: `/crews/${crew.id}` }
        : r < 0.42 ? { route: 'GET /crews/:crewId/runs', method: 'GET' as const, path: `/crews/${crew.id}/runs?limit=20` }
        : r < 0.50 ? { route: 'GET /company', method: 'GET' as const, path: '/company' }
        : r < 0.56 ? { route: 'GET /tasks', method: 'GET' as const, path: '/tasks?limit=20' }
        : r < 0.60 ? { route: 'GET /leader', method: 'GET' as const, path: '/leader' }
        : r < 0.64 ? { route: 'GET /limits/violations', method: 'GET' as const, path: `/limits/violations?sinceMs=${Date.now() - 60_000}&limit=20` }
        : r < 0.67 ? { route: 'GET /locks', method: 'GET' as const, path: '/locks' }
        : r < 0.70 ? { route: 'GET /cache/stats', method: 'GET' as const, path: '/cache/stats' }
        : r < 0.73 ? { route: 'GET /reports/latest', method: 'GET' as const, path: '/reports/latest' }
        : r < 0.75 ? { route: 'GET /dashboard/snapshot', method: 'GET' as const, path: '/dashboard/snapshot' }
        : r < 0.88 ? { route: 'POST /crews/:crewId/agents/:agentId/calls', method: 'POST' as const, path: `/crews/${crew.id}/agents/${agent.id}/calls` }
        : { route: 'POST /crews/:crewId/events', method: 'POST' as const, path: `/crews/${crew.id}/events`, body: { type: 'progress', data: { agentId: agent.id, pct: rng.int(0, 100) } } };
      if (call.route === 'POST /crews/:crewId/agents/:agentId/calls' && rng.chance(0.15)) {
        // A burst past the token bucket's 5: the calls beyond it are refused (429) and logged as violations.
        await Promise.all(Array.from({ length: 8 }, () => client.call(this.caller(), call)));
        continue;
      }
      const { outcome } = await client.call(this.caller(), call);
      if (call.route === 'GET /crews/:crewId' && outcome.kind === 'answered' && outcome.answer.status === 200) {
        this.ctx.ledger.count('GET /crews/:crewId X-Cache', headerOf(outcome.answer, 'x-cache') ?? 'none');
      }
    }
  }

  /**
   * Keeps one server-sent event stream open at a time, as a browser tab would: the company's crew
   * events (`GET /crews/events/stream`) or the live dashboard (`GET /dashboard/stream`), each held
   * 5-20 s (cut short when its instance is killed), then another.
   */
  async watch(): Promise<void> {
    const { rng, client } = this.ctx;
    while (await this.pause(200, 1_000)) {
      const dashboard = rng.chance(0.3);
      await client.watch(this.caller(), dashboard ? 'GET /dashboard/stream' : 'GET /crews/events/stream', dashboard ? '/dashboard/stream' : '/crews/events/stream', rng.between(5_000, 20_000), this.ctx.signal);
    }
  }

  /**
   * The company's editor renames its crews, one edit at a time (each name unique), and reads the
   * crew back on the instance that answered the edit: documented to show it at once there.
   */
  async edits(): Promise<void> {
    const { rng, client, ledger } = this.ctx;
    let sequence = 0;
    while (await this.pause(2_000, 5_000)) {
      const crew = rng.pick(this.user.crews);
      const name = `${crew.name} #${++sequence}`;
      const { outcome, instance } = await client.call(this.caller(), {
        route: 'PATCH /crews/:crewId', method: 'PATCH', path: `/crews/${crew.id}`, body: { name },
      });
      const record = {
        companyId: this.user.companyId, crewId: crew.id, name, instance: instance.name,
        sentAt: outcome.kind === 'answered' ? outcome.answer.sentAt : outcome.sentAt,
        status: outcome.kind === 'answered' ? outcome.answer.status : outcome.kind,
        ...(outcome.kind === 'answered' ? { answeredAt: outcome.answer.answeredAt } : {}),
      };
      ledger.edits.push(record);
      if (outcome.kind !== 'answered' || !isOk(outcome.answer)) continue;
      for (const read of [`/crews/${crew.id}`, '/crews']) {
        const back = await client.call(this.caller(), { route: `GET ${read === '/crews' ? '/crews' : '/crews/:crewId'} (after an edit)`, method: 'GET', path: read }, instance);
        if (back.outcome.kind !== 'answered' || back.outcome.answer.status !== 200) continue;
        const body = jsonOf(back.outcome.answer) as { name: string } | Array<{ id: string; name: string }>;
        const got = Array.isArray(body) ? body.find((c) => c.id === crew.id)?.name : body.name;
        if (got !== name) {
          ledger.staleReads.push({
            companyId: this.user.companyId, crewId: crew.id, instance: instance.name, expected: name, got: String(got), at: back.outcome.answer.answeredAt,
            ...(headerOf(back.outcome.answer, 'x-cache') === undefined ? {} : { xCache: headerOf(back.outcome.answer, 'x-cache') }),
          });
        }
      }
    }
  }

  private base(): Caller {
    return { userId: this.user.id, companyId: this.user.companyId, address: this.user.address };
  }

  /**
   * Notes a request the rate limits let through (any answer but 429 that carries `RateLimit-Policy`,
   * which the guard sets before the handler runs): whether the shared limiter answered `policy`
   * (no `src=` for it in the header) or a local fallback did.
   */
  private admitted(policy: string, subject: string, answer: Answer): void {
    if (answer.status === 429) return;
    const header = headerOf(answer, 'ratelimit-policy') ?? '';
    const entry = header.split(',').map((p) => p.trim()).find((p) => p.startsWith(`"${policy}"`));
    if (entry === undefined) return;
    this.ctx.ledger.admissions.push({ subject, policy, sentAt: answer.sentAt, answeredAt: answer.answeredAt, shared: !/;\s*src=/.test(entry) });
  }

  /** Waits a random time in [min, max); false once the load phase has ended. */
  private async pause(minMs: number, maxMs: number): Promise<boolean> {
    if (this.ctx.signal.aborted) return false;
    await sleep(this.ctx.rng.between(minMs, maxMs), undefined, { signal: this.ctx.signal }).catch(() => undefined);
    return !this.ctx.signal.aborted;
  }
}

function isOk(answer: Answer): boolean {
  return answer.status >= 200 && answer.status < 300;
}
