/**
 * What the soak's users were told, kept to check afterwards that the fleet kept its word: every
 * answer that acknowledged something (a session, a crew run and its tasks, a crew edit), and
 * every attempt whose outcome is unknown (the connection broke), which the checks then leave out.
 */

/** A session whose login was answered 201. */
export interface SessionRecord {
  userId: string;
  companyId: string;
  token: string;
  handle: string;
  loggedInAt: number;
  /**
   * `live`: logged in and not logged out; `ending`: a logout is on its way; `ended`: a logout (or
   * logout everywhere) was answered 2xx; `uncertain`: a logout was sent and not answered, so the
   * session may or may not be live (left out of the check).
   */
  state: 'live' | 'ending' | 'ended' | 'uncertain';
}

/** The step of a run as its 201 answer listed it. */
export interface StepRecord {
  taskId: string;
  agentId: string;
  state: string;
}

/** One `POST /crews/:crewId/runs` attempt with an `Idempotency-Key`. */
export interface RunAttempt {
  userId: string;
  companyId: string;
  crewId: string;
  key: string;
  instance: string;
  sentAt: number;
  answeredAt?: number;
  /** The status, or `refused` / `unknown` when there was no answer. */
  status: number | 'refused' | 'unknown';
  replayed: boolean;
  /** `code` or `outcome` of an error answer (`E_LOCK_TIMEOUT`, `refused`, ...). */
  code?: string;
  /** Of a 2xx answer: the run. */
  run?: { id: string; status: string; startedAt: string; finishedAt: string; fencingToken: number; steps: StepRecord[] };
  /** The answer's body as sent, for comparing a replay with the first answer. */
  text?: string;
  /** `RateLimit-Policy` of an admitted request: says which policies a local fallback answered (`src=`). */
  ratePolicy?: string;
}

/** One `PATCH /crews/:crewId` of the company's editor (one at a time per crew). */
export interface EditRecord {
  companyId: string;
  crewId: string;
  /** The crew name the edit sets, unique per edit. */
  name: string;
  instance: string;
  sentAt: number;
  answeredAt?: number;
  status: number | 'refused' | 'unknown';
}

/** A request an acknowledged, live session was refused with 401: a session lost. */
export interface SessionRefusal {
  userId: string;
  handle: string;
  instance: string;
  path: string;
  at: number;
  body: string;
}

/** A read right after an acknowledged edit, on the instance that made it, that still showed the crew before the edit. */
export interface StaleRead {
  companyId: string;
  crewId: string;
  instance: string;
  expected: string;
  got: string;
  xCache?: string;
  at: number;
}

/** A request the rate limits let through, for the exact sliding-window checks (`login-ip`, `crew-run-user`). */
export interface Admission {
  /** The counter: the client address for `login-ip`, the user for `crew-run-user`. */
  subject: string;
  policy: string;
  sentAt: number;
  answeredAt: number;
  /** Whether the policy was answered by the shared limiter (no `src=` in `RateLimit-Policy`). */
  shared: boolean;
}

/** Everything the users were told, and what they saw go wrong meanwhile. */
export class SoakLedger {
  readonly sessions: SessionRecord[] = [];
  /** Logins sent and not answered, per user: sessions that may exist (they count towards the user's session limit). */
  readonly unknownLogins = new Map<string, number>();
  readonly runs: RunAttempt[] = [];
  readonly edits: EditRecord[] = [];
  readonly sessionRefusals: SessionRefusal[] = [];
  readonly staleReads: StaleRead[] = [];
  readonly admissions: Admission[] = [];
  /** Answers per route pattern and status (`GET /crews/:crewId 200`), and `refused` / `unknown`. */
  readonly statuses = new Map<string, number>();
  /** Messages received on the server-sent event streams the users held open. */
  streamMessages = 0;
  /** 500 answers outside crew runs (where the demo documents them), with their bodies. */
  readonly serverErrors: Array<{ route: string; instance: string; at: number; body: string }> = [];

  count(route: string, status: number | string): void {
    const key = `${route} ${status}`;
    this.statuses.set(key, (this.statuses.get(key) ?? 0) + 1);
  }

  liveSessions(userId: string): SessionRecord[] {
    return this.sessions.filter((s) => s.userId === userId && s.state === 'live');
  }

  /** Sessions of the user that may exist without the soak knowing they are live: unanswered logins and logouts. */
  doubtfulSessions(userId: string): number {
    return (this.unknownLogins.get(userId) ?? 0) + this.sessions.filter((s) => s.userId === userId && s.state === 'uncertain').length;
  }

  /** A logout everywhere was answered 2xx: every session of the user, known or not, has ended. */
  endedEverywhere(userId: string): void {
    for (const session of this.sessions) if (session.userId === userId && session.state !== 'ended') session.state = 'ended';
    this.unknownLogins.set(userId, 0);
  }

  addUnknownLogin(userId: string): void {
    this.unknownLogins.set(userId, (this.unknownLogins.get(userId) ?? 0) + 1);
  }
}
