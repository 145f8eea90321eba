import type { DemoInstance } from './soak-fleet.js';
import { holdStream, send, type Outcome, type RequestSpec } from './soak-http.js';
import type { SessionRecord, SoakLedger } from './soak-ledger.js';
import type { Random } from './soak-options.js';

/** Who sends a request: a seeded user, from their own loopback address, with a session or the `x-user-id` stand-in. */
export interface Caller {
  userId: string;
  companyId: string;
  /** The user's own client address (127.0.0.x). */
  address: string;
  session?: SessionRecord;
}

/** A request as a user's flow describes it; `route` names it in the tallies (`GET /crews/:crewId`). */
export type Call = Omit<RequestSpec, 'port' | 'localAddress' | 'timeoutMs'> & { route: string; timeoutMs?: number };

/** What a call came to, and which instance it went to last. */
export interface CallResult {
  outcome: Outcome;
  instance: DemoInstance;
}

/**
 * Sends the users' requests to the fleet as a load balancer with health checks would: to a random
 * instance that is up, and to another when the connection is refused (the instance died meanwhile:
 * the request never reached it). Tallies every answer and notes what only a fault explains: a live
 * session refused (401), and a 500 outside crew runs.
 */
export class FleetClient {
  /**
   * @param abandon aborts when the soak stops waiting for requests in flight: they end `unknown`.
   */
  constructor(private readonly instances: readonly DemoInstance[], private readonly ledger: SoakLedger, private readonly rng: Random, private readonly abandon: AbortSignal) {}

  /** A random instance that is up (any, when none is). */
  pick(exclude?: DemoInstance): DemoInstance {
    const up = this.instances.filter((i) => i.up && i !== exclude);
    return this.rng.pick(up.length > 0 ? up : this.instances);
  }

  async call(caller: Caller, call: Call, to?: DemoInstance): Promise<CallResult> {
    let instance = to ?? this.pick();
    for (let attempt = 1; ; attempt++) {
      const session = caller.session;
      const liveAtSend = session?.state === 'live';
      const outcome = await send({
        port: instance.port,
        method: call.method,
        path: call.path,
        headers: { ...authHeaders(caller), ...call.headers },
        ...(call.body === undefined ? {} : { body: call.body }),
        localAddress: caller.address,
        timeoutMs: call.timeoutMs ?? 15_000,
        signal: this.abandon,
      });
      if (outcome.kind === 'refused' && attempt < 3 && to === undefined) {
        instance = this.pick(instance);
        continue;
      }
      this.note(caller, call, instance, outcome, liveAtSend);
      return { outcome, instance };
    }
  }

  /** Holds a server-sent event stream open on a random instance for `holdMs` (or until `until` aborts), counting its messages. */
  async watch(caller: Caller, route: string, path: string, holdMs: number, until: AbortSignal): Promise<void> {
    const instance = this.pick();
    const session = caller.session;
    const liveAtSend = session?.state === 'live';
    const tally = await holdStream({ port: instance.port, path, headers: authHeaders(caller), localAddress: caller.address, holdMs, signal: until });
    this.ledger.count(route, tally.status);
    this.ledger.streamMessages += tally.messages;
    if (tally.status === 401 && session && liveAtSend && session.state === 'live') {
      this.ledger.sessionRefusals.push({ userId: caller.userId, handle: session.handle, instance: instance.name, path, at: Date.now(), body: '' });
    }
  }

  private note(caller: Caller, call: Call, instance: DemoInstance, outcome: Outcome, liveAtSend: boolean): void {
    if (outcome.kind !== 'answered') {
      this.ledger.count(call.route, outcome.kind);
      return;
    }
    const { status, text, answeredAt } = outcome.answer;
    this.ledger.count(call.route, status);
    const session = caller.session;
    // Live when sent and still when answered: no logout of it can have been sent in between.
    if (status === 401 && session && liveAtSend && session.state === 'live') {
      this.ledger.sessionRefusals.push({ userId: caller.userId, handle: session.handle, instance: instance.name, path: call.path, at: answeredAt, body: text.slice(0, 300) });
    }
    if (status === 500 && !call.route.startsWith('POST /crews/:crewId/runs')) {
      this.ledger.serverErrors.push({ route: call.route, instance: instance.name, at: answeredAt, body: text.slice(0, 300) });
    }
  }
}

function authHeaders(caller: Caller): Record<string, string> {
  if (caller.session) return { authorization: `Bearer ${caller.session.token}` };
  return { 'x-user-id': caller.userId, 'x-company-id': caller.companyId };
}
